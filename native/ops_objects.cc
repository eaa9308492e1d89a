// Object management: C_FindObjects{Init,,Final}, C_GetAttributeValue, C_SetAttributeValue,
// C_CreateObject, C_GenerateKeyPair, C_DestroyObject.
#include <vector>

#include "async_op.h"
#include "attributes.h"
#include "convert.h"
#include "mechanism.h"

namespace hsm {
namespace {

class FindObjectsOp : public AsyncOp {
 public:
  FindObjectsOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session, AttributeTemplate tmpl,
                CK_ULONG max)
      : AsyncOp(owner, env, "hsm-jwks:findObjects"), template_(std::move(tmpl)), max_(max) {
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    if (!Ok(fl->C_FindObjectsInit(session_, template_.data(), template_.size()), "C_FindObjectsInit")) {
      return;
    }
    // Init/Find/Final in one call: Final runs whatever C_FindObjects did.
    CK_OBJECT_HANDLE batch[64];
    while (found_.size() < max_) {
      CK_ULONG want = static_cast<CK_ULONG>(std::min<size_t>(64, max_ - found_.size()));
      CK_ULONG got = 0;
      if (!Ok(fl->C_FindObjects(session_, batch, want, &got), "C_FindObjects")) break;
      found_.insert(found_.end(), batch, batch + got);
      if (got == 0) break;
    }
    Ok(fl->C_FindObjectsFinal(session_), "C_FindObjectsFinal");
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, found_.size());
    for (size_t i = 0; i < found_.size(); i++) {
      arr.Set(static_cast<uint32_t>(i), HandleToJs(env, found_[i]));
    }
    return arr;
  }
  AttributeTemplate template_;
  size_t max_;
  std::vector<CK_OBJECT_HANDLE> found_;
};

class GetAttributesOp : public AsyncOp {
 public:
  GetAttributesOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                  const std::vector<CK_ATTRIBUTE_TYPE>& types)
      : AsyncOp(owner, env, "hsm-jwks:getAttributes"), object_(object), readings_(types.size()) {
    for (size_t i = 0; i < types.size(); i++) readings_[i].type = types[i];
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    Ok(ReadAttributes(fl, session_, object_, &readings_), "C_GetAttributeValue");
  }
  Napi::Value Result(Napi::Env env) override { return ReadingsToJs(env, readings_); }
  CK_OBJECT_HANDLE object_;
  std::vector<AttributeReading> readings_;
};

// The same attributes of many objects in one work item: listing a token of 1,000 keys is then one
// hop to a worker thread and back, not 1,000 (each of which waits for a busy event loop). An object
// destroyed since it was found (CKR_OBJECT_HANDLE_INVALID) reads as null; any other failure fails
// the call.
class GetAttributesManyOp : public AsyncOp {
 public:
  GetAttributesManyOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session,
                      std::vector<CK_OBJECT_HANDLE> objects, const std::vector<CK_ATTRIBUTE_TYPE>& types)
      : AsyncOp(owner, env, "hsm-jwks:getAttributesMany"),
        objects_(std::move(objects)),
        readings_(objects_.size(), std::vector<AttributeReading>(types.size())),
        present_(objects_.size(), true) {
    for (auto& list : readings_) {
      for (size_t i = 0; i < types.size(); i++) list[i].type = types[i];
    }
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    for (size_t k = 0; k < objects_.size(); k++) {
      CK_RV rv = ReadAttributes(fl, session_, objects_[k], &readings_[k]);
      if (rv == CKR_OBJECT_HANDLE_INVALID) {
        present_[k] = false;
      } else if (!Ok(rv, "C_GetAttributeValue")) {
        return;
      }
    }
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, objects_.size());
    for (size_t k = 0; k < objects_.size(); k++) {
      out.Set(static_cast<uint32_t>(k), present_[k] ? ReadingsToJs(env, readings_[k]) : env.Null());
    }
    return out;
  }
  std::vector<CK_OBJECT_HANDLE> objects_;
  std::vector<std::vector<AttributeReading>> readings_;
  std::vector<bool> present_;
};

class GenerateKeyPairOp : public AsyncOp {
 public:
  GenerateKeyPairOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session, Mechanism mechanism,
                    AttributeTemplate pub, AttributeTemplate priv)
      : AsyncOp(owner, env, "hsm-jwks:generateKeyPair"),
        mechanism_(std::move(mechanism)),
        public_(std::move(pub)),
        private_(std::move(priv)) {
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    Ok(fl->C_GenerateKeyPair(session_, mechanism_.get(), public_.data(), public_.size(), private_.data(),
                             private_.size(), &publicKey_, &privateKey_),
       "C_GenerateKeyPair");
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("publicKey", HandleToJs(env, publicKey_));
    o.Set("privateKey", HandleToJs(env, privateKey_));
    return o;
  }
  Mechanism mechanism_;
  AttributeTemplate public_;
  AttributeTemplate private_;
  CK_OBJECT_HANDLE publicKey_ = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE privateKey_ = CK_INVALID_HANDLE;
};

class SetAttributesOp : public AsyncOp {
 public:
  SetAttributesOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                  AttributeTemplate tmpl)
      : AsyncOp(owner, env, "hsm-jwks:setAttributes"), object_(object), template_(std::move(tmpl)) {
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    Ok(fl->C_SetAttributeValue(session_, object_, template_.data(), template_.size()), "C_SetAttributeValue");
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  CK_OBJECT_HANDLE object_;
  AttributeTemplate template_;
};

class CreateObjectOp : public AsyncOp {
 public:
  CreateObjectOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session, AttributeTemplate tmpl)
      : AsyncOp(owner, env, "hsm-jwks:createObject"), template_(std::move(tmpl)) {
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    Ok(fl->C_CreateObject(session_, template_.data(), template_.size(), &object_), "C_CreateObject");
  }
  Napi::Value Result(Napi::Env env) override { return HandleToJs(env, object_); }
  AttributeTemplate template_;
  CK_OBJECT_HANDLE object_ = CK_INVALID_HANDLE;
};

class DestroyObjectOp : public AsyncOp {
 public:
  DestroyObjectOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object)
      : AsyncOp(owner, env, "hsm-jwks:destroyObject"), object_(object) {
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override { Ok(fl->C_DestroyObject(session_, object_), "C_DestroyObject"); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  CK_OBJECT_HANDLE object_;
};

}  // namespace

Napi::Value ModuleObject::FindObjects(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  AttributeTemplate tmpl = AttributeTemplate::FromJs(info[1], "template");
  CK_ULONG max = UlongFromJs(info[2], "maxObjects");
  return (new FindObjectsOp(this, info.Env(), session, std::move(tmpl), max))->Start();
}

Napi::Value ModuleObject::GetAttributes(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  CK_OBJECT_HANDLE object = HandleFromJs(info[1], "object");
  std::vector<CK_ATTRIBUTE_TYPE> types = AttributeTypesFromJs(info[2]);
  return (new GetAttributesOp(this, info.Env(), session, object, types))->Start();
}

Napi::Value ModuleObject::GetAttributesMany(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  if (!info[1].IsArray()) throw InvalidArgType(info.Env(), "objects must be an array of bigint handles");
  Napi::Array list = info[1].As<Napi::Array>();
  if (list.Length() > 100000) throw InvalidArgValue(info.Env(), "objects must hold at most 100000 handles");
  std::vector<CK_OBJECT_HANDLE> objects;
  objects.reserve(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) objects.push_back(HandleFromJs(list.Get(i), "objects[]"));
  std::vector<CK_ATTRIBUTE_TYPE> types = AttributeTypesFromJs(info[2]);
  return (new GetAttributesManyOp(this, info.Env(), session, std::move(objects), types))->Start();
}

Napi::Value ModuleObject::SetAttributes(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  CK_OBJECT_HANDLE object = HandleFromJs(info[1], "object");
  AttributeTemplate tmpl = AttributeTemplate::FromJs(info[2], "template");
  return (new SetAttributesOp(this, info.Env(), session, object, std::move(tmpl)))->Start();
}

Napi::Value ModuleObject::CreateObject(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  AttributeTemplate tmpl = AttributeTemplate::FromJs(info[1], "template");
  return (new CreateObjectOp(this, info.Env(), session, std::move(tmpl)))->Start();
}

Napi::Value ModuleObject::GenerateKeyPair(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  Mechanism mechanism = Mechanism::FromJs(info[1]);
  AttributeTemplate pub = AttributeTemplate::FromJs(info[2], "publicTemplate");
  AttributeTemplate priv = AttributeTemplate::FromJs(info[3], "privateTemplate");
  return (new GenerateKeyPairOp(this, info.Env(), session, std::move(mechanism), std::move(pub), std::move(priv)))
      ->Start();
}

Napi::Value ModuleObject::DestroyObject(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  CK_OBJECT_HANDLE object = HandleFromJs(info[1], "object");
  return (new DestroyObjectOp(this, info.Env(), session, object))->Start();
}

}  // namespace hsm
