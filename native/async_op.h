// AsyncOp: the shape of every token call. Built on the JS thread (arguments parsed, buffers pinned,
// session claimed), run on a worker thread (Run: PKCS#11 calls only, no JS), settled on the JS
// thread (Result or a PKCS#11 failure).
#ifndef HSM_JWKS_ASYNC_OP_H_
#define HSM_JWKS_ASYNC_OP_H_

#include <napi.h>

#include <memory>
#include <vector>

#include "module_object.h"

namespace hsm {

class AsyncOp : public Napi::AsyncWorker {
 public:
  AsyncOp(ModuleObject* owner, const Napi::Env& env, const char* name);
  ~AsyncOp() override;
  // Queues the work; the Promise settles with Result() or a PKCS#11 failure.
  Napi::Promise Start();

 protected:
  // Worker thread: make the PKCS#11 calls through `fl`; report failures with Ok().
  virtual void Run(CK_FUNCTION_LIST* fl) = 0;
  // JS thread: the resolved value.
  virtual Napi::Value Result(Napi::Env env) = 0;
  // Whether the op uses session or object handles: those of an earlier module generation (before
  // a re-initialisation) are refused (ModuleReinitializedError; raw: ERR_HSM_REINITIALIZED) before
  // they reach the module.
  virtual bool UsesHandles() const { return true; }

  // Records the first failure; returns rv == CKR_OK.
  bool Ok(CK_RV rv, const char* fn);
  // Keeps a JS value (an input or output buffer) alive until the op settles.
  void Pin(const Napi::Value& value);
  // Marks the session busy for the duration of the op (throws if it already is).
  void UseSession(CK_SESSION_HANDLE session);

  CK_SESSION_HANDLE session_ = 0;

 private:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;
  void Settle();

  ModuleObject* owner_;
  Napi::ObjectReference ownerRef_;
  std::shared_ptr<Lease> lease_;
  LoadedModule* module_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::Value>> pins_;
  bool claimed_ = false;
  CK_RV rv_ = CKR_OK;
  const char* fn_ = nullptr;
  uint64_t generation_;
  bool stale_ = false;
};

}  // namespace hsm

#endif  // HSM_JWKS_ASYNC_OP_H_
