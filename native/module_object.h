// NativeModule: the JS object for one loaded PKCS#11 module. Each method validates its arguments on
// the JS thread, then queues an AsyncOp that makes the PKCS#11 calls on a worker thread and settles
// a Promise. Method bodies live in ops_*.cc, grouped by the spec's function groups.
#ifndef HSM_JWKS_MODULE_OBJECT_H_
#define HSM_JWKS_MODULE_OBJECT_H_

#include <napi.h>

#include <memory>
#include <unordered_set>
#include <vector>

#include "errors.h"
#include "lease.h"

namespace hsm {

// Per-environment data (main thread and each worker have their own).
struct AddonData {
  Napi::FunctionReference moduleConstructor;
  Napi::FunctionReference signEngineConstructor;
  // The JS error classes lib/ handed over (setErrorClasses): failures are constructed as these.
  ErrorClasses errorClasses;
  // Every lease handed out in this environment; those still held when the environment is torn
  // down (a worker that exits without close()) are released then, never from a GC finalizer.
  std::vector<std::shared_ptr<Lease>> leases;
  ~AddonData();
};

class ModuleObject : public Napi::ObjectWrap<ModuleObject> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, LoadedModule* module);
  explicit ModuleObject(const Napi::CallbackInfo& info);

  // The module, or throws ClosedError (raw: ERR_HSM_CLOSED) when close() was called.
  LoadedModule* OpenModule(Napi::Env env) const;
  const std::shared_ptr<Lease>& lease() const { return lease_; }
  // The module generation this object's session and object handles belong to.
  uint64_t generation() const { return generation_; }

  // A session may carry one operation at a time: the second concurrent use is refused here, before
  // it can reach the token (where it would be CKR_OPERATION_ACTIVE or worse).
  void ClaimSession(Napi::Env env, CK_SESSION_HANDLE session);
  void ReleaseSession(CK_SESSION_HANDLE session) { busy_.erase(session); }

 private:
  // ops_token.cc
  Napi::Value GetInfo(const Napi::CallbackInfo& info);
  Napi::Value GetSlots(const Napi::CallbackInfo& info);
  Napi::Value GetTokenInfo(const Napi::CallbackInfo& info);
  Napi::Value GetMechanisms(const Napi::CallbackInfo& info);
  Napi::Value InitToken(const Napi::CallbackInfo& info);
  // ops_session.cc
  Napi::Value OpenSession(const Napi::CallbackInfo& info);
  Napi::Value CloseSession(const Napi::CallbackInfo& info);
  Napi::Value GetSessionInfo(const Napi::CallbackInfo& info);
  Napi::Value Login(const Napi::CallbackInfo& info);
  Napi::Value Logout(const Napi::CallbackInfo& info);
  Napi::Value InitPin(const Napi::CallbackInfo& info);
  // ops_objects.cc
  Napi::Value FindObjects(const Napi::CallbackInfo& info);
  Napi::Value GetAttributes(const Napi::CallbackInfo& info);
  Napi::Value GetAttributesMany(const Napi::CallbackInfo& info);
  Napi::Value SetAttributes(const Napi::CallbackInfo& info);
  Napi::Value CreateObject(const Napi::CallbackInfo& info);
  Napi::Value GenerateKeyPair(const Napi::CallbackInfo& info);
  Napi::Value DestroyObject(const Napi::CallbackInfo& info);
  // ops_crypto.cc
  Napi::Value Sign(const Napi::CallbackInfo& info);
  Napi::Value SignSync(const Napi::CallbackInfo& info);
  Napi::Value Verify(const Napi::CallbackInfo& info);
  Napi::Value Decrypt(const Napi::CallbackInfo& info);
  Napi::Value GenerateRandom(const Napi::CallbackInfo& info);
  // sign_engine.cc
  Napi::Value CreateSignEngine(const Napi::CallbackInfo& info);
  // module_object.cc
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Describe(const Napi::CallbackInfo& info);
  Napi::Value Share(const Napi::CallbackInfo& info);
  Napi::Value Reinitialize(const Napi::CallbackInfo& info);

  std::shared_ptr<Lease> lease_;
  std::unordered_set<CK_SESSION_HANDLE> busy_;
  // The module generation this object was made in, for its whole life: its handles are refused
  // once the module has been re-initialised (share() makes an object of the new generation).
  uint64_t generation_ = 0;
};

}  // namespace hsm

#endif  // HSM_JWKS_MODULE_OBJECT_H_
