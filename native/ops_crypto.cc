// Cryptographic calls, each Init+operation fused into one native call on one session:
// C_SignInit+C_Sign, C_VerifyInit+C_Verify, C_DecryptInit+C_Decrypt, and C_GenerateRandom.
// Input buffers are pinned and used in place; a signature goes straight into a Buffer sized from
// the key (when the caller knows it) or by the length query.
#include <algorithm>
#include <cstring>
#include <vector>

#include "async_op.h"
#include "convert.h"
#include "errors.h"
#include "mechanism.h"
#include "sign_call.h"

namespace hsm {
namespace {

// What every key operation takes: (session, key, mechanism, data, ...).
struct KeyOpArgs {
  CK_SESSION_HANDLE session;
  CK_OBJECT_HANDLE key;
  Mechanism mechanism;
  Napi::Uint8Array data;
};

KeyOpArgs KeyOpArgsFromJs(const Napi::CallbackInfo& info) {
  return {HandleFromJs(info[0], "session"), HandleFromJs(info[1], "key"), Mechanism::FromJs(info[2]),
          BytesFromJs(info[3], "data")};
}

// The ops that apply a key and a mechanism to a pinned input.
class KeyOp : public AsyncOp {
 public:
  KeyOp(ModuleObject* owner, const Napi::Env& env, const char* name, KeyOpArgs args)
      : AsyncOp(owner, env, name),
        key_(args.key),
        mechanism_(std::move(args.mechanism)),
        data_(args.data.Data()),
        dataLen_(static_cast<CK_ULONG>(args.data.ByteLength())) {
    Pin(args.data);
    UseSession(args.session);
  }

 protected:
  CK_OBJECT_HANDLE key_;
  Mechanism mechanism_;
  CK_BYTE* data_;
  CK_ULONG dataLen_;
};

class SignOp : public KeyOp {
 public:
  SignOp(ModuleObject* owner, const Napi::Env& env, KeyOpArgs args, size_t signatureLength)
      : KeyOp(owner, env, "hsm-jwks:sign", std::move(args)) {
    if (signatureLength > 0) {
      Napi::Buffer<CK_BYTE> out = Napi::Buffer<CK_BYTE>::New(env, signatureLength);
      out_ = Napi::Persistent(out);  // pinned until the op settles
      outData_ = out.Data();
      outCap_ = static_cast<CK_ULONG>(signatureLength);
    }
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    outcome_ = SignCall(fl, session_, mechanism_.get(), key_, data_, dataLen_, outData_, outCap_, &spill_);
    Ok(outcome_.rv, outcome_.fn);
  }
  Napi::Value Result(Napi::Env env) override {
    if (outcome_.spilled) return Napi::Buffer<CK_BYTE>::Copy(env, spill_.data(), outcome_.length);
    if (outcome_.length == outCap_) return out_.Value();
    return Napi::Buffer<CK_BYTE>::Copy(env, outData_, outcome_.length);
  }
  Napi::Reference<Napi::Buffer<CK_BYTE>> out_;
  CK_BYTE* outData_ = nullptr;
  CK_ULONG outCap_ = 0;  // 0: sized by the length query
  SignOutcome outcome_;
  std::vector<CK_BYTE> spill_;
};

class VerifyOp : public KeyOp {
 public:
  VerifyOp(ModuleObject* owner, const Napi::Env& env, KeyOpArgs args, Napi::Uint8Array signature)
      : KeyOp(owner, env, "hsm-jwks:verify", std::move(args)),
        sig_(signature.Data()),
        sigLen_(static_cast<CK_ULONG>(signature.ByteLength())) {
    Pin(signature);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    if (!Ok(fl->C_VerifyInit(session_, mechanism_.get(), key_), "C_VerifyInit")) return;
    CK_RV rv = fl->C_Verify(session_, data_, dataLen_, sig_, sigLen_);
    valid_ = rv == CKR_OK;
    if (rv != CKR_SIGNATURE_INVALID && rv != CKR_SIGNATURE_LEN_RANGE) Ok(rv, "C_Verify");
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Boolean::New(env, valid_); }
  CK_BYTE* sig_;
  CK_ULONG sigLen_;
  bool valid_ = false;
};

class DecryptOp : public KeyOp {
 public:
  using KeyOp::KeyOp;
  ~DecryptOp() override {
    if (!plain_.empty()) std::memset(plain_.data(), 0, plain_.size());
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    if (!Ok(fl->C_DecryptInit(session_, mechanism_.get(), key_), "C_DecryptInit")) return;
    CK_ULONG need = 0;
    if (!Ok(fl->C_Decrypt(session_, data_, dataLen_, nullptr, &need), "C_Decrypt")) return;
    plain_.resize(std::max<CK_ULONG>(need, 1));
    if (Ok(fl->C_Decrypt(session_, data_, dataLen_, plain_.data(), &need), "C_Decrypt")) {
      plainLen_ = need;
    }
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Buffer<CK_BYTE>::Copy(env, plain_.data(), plainLen_); }
  std::vector<CK_BYTE> plain_;
  CK_ULONG plainLen_ = 0;
};

class RandomOp : public AsyncOp {
 public:
  RandomOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session, size_t length)
      : AsyncOp(owner, env, "hsm-jwks:generateRandom") {
    Napi::Buffer<CK_BYTE> out = Napi::Buffer<CK_BYTE>::New(env, length);
    out_ = Napi::Persistent(out);  // pinned until the op settles
    outData_ = out.Data();
    outLen_ = static_cast<CK_ULONG>(length);
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    if (outLen_ == 0) return;
    Ok(fl->C_GenerateRandom(session_, outData_, outLen_), "C_GenerateRandom");
  }
  Napi::Value Result(Napi::Env) override { return out_.Value(); }
  Napi::Reference<Napi::Buffer<CK_BYTE>> out_;
  CK_BYTE* outData_;
  CK_ULONG outLen_;
};

}  // namespace

Napi::Value ModuleObject::Sign(const Napi::CallbackInfo& info) {
  KeyOpArgs args = KeyOpArgsFromJs(info);
  size_t length = UlongFromJs(info[4], "signatureLength", 0, 1 << 20);  // 0: the length query
  return (new SignOp(this, info.Env(), std::move(args), length))->Start();
}

// signSync: the same C_SignInit+C_Sign, on the JS thread. For a lone caller on a local module only:
// it blocks the event loop for the duration of the signature.
Napi::Value ModuleObject::SignSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoadedModule* module = OpenModule(env);
  KeyOpArgs args = KeyOpArgsFromJs(info);
  size_t length = UlongFromJs(info[4], "signatureLength", 1, 1 << 20);  // no length query on the JS thread
  ClaimSession(env, args.session);
  struct Release {
    ModuleObject* self;
    CK_SESSION_HANDLE session;
    ~Release() { self->ReleaseSession(session); }
  } release{this, args.session};
  Napi::Buffer<CK_BYTE> out = Napi::Buffer<CK_BYTE>::New(env, length);
  std::vector<CK_BYTE> spill;
  SignOutcome outcome;
  {
    ModuleCall call(*module, generation_);
    if (call.stale()) throw StaleGeneration(env);
    outcome =
        SignCall(module->fl, args.session, args.mechanism.get(), args.key, args.data.Data(),
                 static_cast<CK_ULONG>(args.data.ByteLength()), out.Data(), static_cast<CK_ULONG>(length), &spill);
  }
  if (!outcome.ok()) throw Pkcs11Failure(env, outcome.rv, outcome.fn);
  if (outcome.spilled) return Napi::Buffer<CK_BYTE>::Copy(env, spill.data(), outcome.length);
  if (outcome.length == length) return out;
  return Napi::Buffer<CK_BYTE>::Copy(env, out.Data(), outcome.length);
}

Napi::Value ModuleObject::Verify(const Napi::CallbackInfo& info) {
  KeyOpArgs args = KeyOpArgsFromJs(info);
  Napi::Uint8Array signature = BytesFromJs(info[4], "signature");
  return (new VerifyOp(this, info.Env(), std::move(args), signature))->Start();
}

Napi::Value ModuleObject::Decrypt(const Napi::CallbackInfo& info) {
  return (new DecryptOp(this, info.Env(), "hsm-jwks:decrypt", KeyOpArgsFromJs(info)))->Start();
}

Napi::Value ModuleObject::GenerateRandom(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  size_t length = UlongFromJs(info[1], "length", 0, 1 << 20);
  return (new RandomOp(this, info.Env(), session, length))->Start();
}

}  // namespace hsm
