// General-purpose, slot and token calls: C_GetInfo, C_GetSlotList/C_GetSlotInfo/C_GetTokenInfo,
// C_GetMechanismList/C_GetMechanismInfo, C_InitToken.
#include <cstring>
#include <string>
#include <vector>

#include "async_op.h"
#include "convert.h"
#include "errors.h"

namespace hsm {
namespace {

Napi::Object TokenInfoToJs(Napi::Env env, const CK_TOKEN_INFO& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("label", PaddedToJs(env, t.label, sizeof t.label));
  o.Set("manufacturerID", PaddedToJs(env, t.manufacturerID, sizeof t.manufacturerID));
  o.Set("model", PaddedToJs(env, t.model, sizeof t.model));
  o.Set("serialNumber", PaddedToJs(env, t.serialNumber, sizeof t.serialNumber));
  o.Set("flags", UlongToJs(env, t.flags));
  o.Set("maxSessionCount", UlongToJs(env, t.ulMaxSessionCount));
  o.Set("sessionCount", UlongToJs(env, t.ulSessionCount));
  o.Set("maxRwSessionCount", UlongToJs(env, t.ulMaxRwSessionCount));
  o.Set("rwSessionCount", UlongToJs(env, t.ulRwSessionCount));
  o.Set("maxPinLen", UlongToJs(env, t.ulMaxPinLen));
  o.Set("minPinLen", UlongToJs(env, t.ulMinPinLen));
  o.Set("hardwareVersion", VersionToJs(env, t.hardwareVersion));
  o.Set("firmwareVersion", VersionToJs(env, t.firmwareVersion));
  return o;
}

class GetInfoOp : public AsyncOp {
 public:
  using AsyncOp::AsyncOp;

 private:
  bool UsesHandles() const override { return false; }  // slot-level: no handles
  void Run(CK_FUNCTION_LIST* fl) override { Ok(fl->C_GetInfo(&info_), "C_GetInfo"); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("cryptokiVersion", VersionToJs(env, info_.cryptokiVersion));
    o.Set("manufacturerID", PaddedToJs(env, info_.manufacturerID, sizeof info_.manufacturerID));
    o.Set("flags", UlongToJs(env, info_.flags));
    o.Set("libraryDescription", PaddedToJs(env, info_.libraryDescription, sizeof info_.libraryDescription));
    o.Set("libraryVersion", VersionToJs(env, info_.libraryVersion));
    return o;
  }
  CK_INFO info_{};
};

class GetSlotsOp : public AsyncOp {
 public:
  GetSlotsOp(ModuleObject* owner, const Napi::Env& env, bool tokenPresent)
      : AsyncOp(owner, env, "hsm-jwks:getSlots"), tokenPresent_(tokenPresent) {}

 private:
  bool UsesHandles() const override { return false; }  // slot-level: no handles
  struct Slot {
    CK_SLOT_ID id;
    CK_SLOT_INFO info;
    bool hasToken;
    CK_TOKEN_INFO token;
  };
  void Run(CK_FUNCTION_LIST* fl) override {
    std::vector<CK_SLOT_ID> ids;
    CK_RV rv = CKR_OK;
    do {  // the slot count may change between the length query and the fetch
      CK_ULONG count = 0;
      if (!Ok(fl->C_GetSlotList(tokenPresent_, nullptr, &count), "C_GetSlotList")) return;
      ids.resize(count);
      if (count == 0) break;
      rv = fl->C_GetSlotList(tokenPresent_, ids.data(), &count);
      if (rv == CKR_OK) ids.resize(count);
    } while (rv == CKR_BUFFER_TOO_SMALL);
    if (!ids.empty() && !Ok(rv, "C_GetSlotList")) return;
    for (CK_SLOT_ID id : ids) {
      Slot s{id, {}, false, {}};
      CK_RV srv = fl->C_GetSlotInfo(id, &s.info);
      if (srv == CKR_SLOT_ID_INVALID) continue;  // vanished since the list was taken
      if (!Ok(srv, "C_GetSlotInfo")) return;
      if (s.info.flags & CKF_TOKEN_PRESENT) {
        CK_RV trv = fl->C_GetTokenInfo(id, &s.token);
        // A token that cannot be read (removed, unrecognised) is reported as absent.
        s.hasToken = trv == CKR_OK;
      }
      slots_.push_back(s);
    }
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, slots_.size());
    for (size_t i = 0; i < slots_.size(); i++) {
      const Slot& s = slots_[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("slot", HandleToJs(env, s.id));
      o.Set("description", PaddedToJs(env, s.info.slotDescription, sizeof s.info.slotDescription));
      o.Set("manufacturerID", PaddedToJs(env, s.info.manufacturerID, sizeof s.info.manufacturerID));
      o.Set("flags", UlongToJs(env, s.info.flags));
      o.Set("token", s.hasToken ? Napi::Value(TokenInfoToJs(env, s.token)) : env.Null());
      arr.Set(static_cast<uint32_t>(i), o);
    }
    return arr;
  }
  CK_BBOOL tokenPresent_;
  std::vector<Slot> slots_;
};

class GetTokenInfoOp : public AsyncOp {
 public:
  GetTokenInfoOp(ModuleObject* owner, const Napi::Env& env, CK_SLOT_ID slot)
      : AsyncOp(owner, env, "hsm-jwks:getTokenInfo"), slot_(slot) {}

 private:
  bool UsesHandles() const override { return false; }  // slot-level: no handles
  void Run(CK_FUNCTION_LIST* fl) override { Ok(fl->C_GetTokenInfo(slot_, &info_), "C_GetTokenInfo"); }
  Napi::Value Result(Napi::Env env) override { return TokenInfoToJs(env, info_); }
  CK_SLOT_ID slot_;
  CK_TOKEN_INFO info_{};
};

class GetMechanismsOp : public AsyncOp {
 public:
  GetMechanismsOp(ModuleObject* owner, const Napi::Env& env, CK_SLOT_ID slot)
      : AsyncOp(owner, env, "hsm-jwks:getMechanisms"), slot_(slot) {}

 private:
  bool UsesHandles() const override { return false; }  // slot-level: no handles
  void Run(CK_FUNCTION_LIST* fl) override {
    CK_ULONG count = 0;
    CK_RV rv = CKR_OK;
    do {
      if (!Ok(fl->C_GetMechanismList(slot_, nullptr, &count), "C_GetMechanismList")) return;
      types_.resize(count);
      if (count == 0) return;
      rv = fl->C_GetMechanismList(slot_, types_.data(), &count);
    } while (rv == CKR_BUFFER_TOO_SMALL);
    if (!Ok(rv, "C_GetMechanismList")) return;
    types_.resize(count);
    infos_.resize(count);
    for (size_t i = 0; i < types_.size(); i++) {
      if (!Ok(fl->C_GetMechanismInfo(slot_, types_[i], &infos_[i]), "C_GetMechanismInfo")) return;
    }
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, types_.size());
    for (size_t i = 0; i < types_.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", UlongToJs(env, types_[i]));
      o.Set("minKeySize", UlongToJs(env, infos_[i].ulMinKeySize));
      o.Set("maxKeySize", UlongToJs(env, infos_[i].ulMaxKeySize));
      o.Set("flags", UlongToJs(env, infos_[i].flags));
      arr.Set(static_cast<uint32_t>(i), o);
    }
    return arr;
  }
  CK_SLOT_ID slot_;
  std::vector<CK_MECHANISM_TYPE> types_;
  std::vector<CK_MECHANISM_INFO> infos_;
};

// C_InitToken: (re)initialises the token in `slot` with an SO PIN and a label (blank-padded to 32
// bytes). The SO PIN buffer is used in place (pinned, never copied), like login's.
class InitTokenOp : public AsyncOp {
 public:
  InitTokenOp(ModuleObject* owner, const Napi::Env& env, CK_SLOT_ID slot, Napi::Uint8Array soPin,
              const std::string& label)
      : AsyncOp(owner, env, "hsm-jwks:initToken"), slot_(slot), pin_(soPin.Data()), pinLen_(soPin.ByteLength()) {
    Pin(soPin);
    std::memset(label_, ' ', sizeof label_);
    std::memcpy(label_, label.data(), label.size());
  }

 private:
  bool UsesHandles() const override { return false; }  // slot-level: no handles
  void Run(CK_FUNCTION_LIST* fl) override {
    Ok(fl->C_InitToken(slot_, pin_, static_cast<CK_ULONG>(pinLen_), label_), "C_InitToken");
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  CK_SLOT_ID slot_;
  CK_UTF8CHAR* pin_;
  size_t pinLen_;
  CK_UTF8CHAR label_[32];
};

}  // namespace

Napi::Value ModuleObject::GetInfo(const Napi::CallbackInfo& info) {
  return (new GetInfoOp(this, info.Env(), "hsm-jwks:getInfo"))->Start();
}

Napi::Value ModuleObject::GetSlots(const Napi::CallbackInfo& info) {
  if (!info[0].IsBoolean()) throw InvalidArgType(info.Env(), "tokenPresent must be a boolean");
  return (new GetSlotsOp(this, info.Env(), info[0].As<Napi::Boolean>().Value()))->Start();
}

Napi::Value ModuleObject::GetTokenInfo(const Napi::CallbackInfo& info) {
  CK_SLOT_ID slot = HandleFromJs(info[0], "slot");
  return (new GetTokenInfoOp(this, info.Env(), slot))->Start();
}

Napi::Value ModuleObject::GetMechanisms(const Napi::CallbackInfo& info) {
  CK_SLOT_ID slot = HandleFromJs(info[0], "slot");
  return (new GetMechanismsOp(this, info.Env(), slot))->Start();
}

Napi::Value ModuleObject::InitToken(const Napi::CallbackInfo& info) {
  CK_SLOT_ID slot = HandleFromJs(info[0], "slot");
  Napi::Uint8Array soPin = BytesFromJs(info[1], "soPin");
  if (!info[2].IsString()) throw InvalidArgType(info.Env(), "label must be a string");
  std::string label = info[2].As<Napi::String>().Utf8Value();
  if (label.size() > 32 || label.find('\0') != std::string::npos) {
    throw InvalidArgValue(info.Env(), "label must be at most 32 bytes of UTF-8 without NUL");
  }
  return (new InitTokenOp(this, info.Env(), slot, soPin, label))->Start();
}

}  // namespace hsm
