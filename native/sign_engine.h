// SignEngine: high-throughput signing on a token. It owns a set of sessions, one worker thread
// each (its own threads, not libuv's shared pool). Requests queue up; each worker takes a batch,
// runs C_SignInit+C_Sign for every request on its session, writing straight into the request's
// pinned output Buffer, and completions go back to the JS thread in bulk (one thread-safe-function
// call drains every finished request).
#ifndef HSM_JWKS_SIGN_ENGINE_H_
#define HSM_JWKS_SIGN_ENGINE_H_

#include <napi.h>

#include <memory>
#include <vector>

#include "module_object.h"

namespace hsm {

class EngineCore;

class SignEngineObject : public Napi::ObjectWrap<SignEngineObject> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // module.createSignEngine(sessions: bigint[], { batchSize }): the JS-visible factory.
  static Napi::Value Create(ModuleObject* owner, const Napi::CallbackInfo& info);
  explicit SignEngineObject(const Napi::CallbackInfo& info);
  ~SignEngineObject() override;

 private:
  Napi::Value Sign(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::shared_ptr<EngineCore> core_;
  ModuleObject* owner_ = nullptr;
  Napi::ObjectReference ownerRef_;  // keeps the NativeModule (and its busy-session set) alive
  std::vector<CK_SESSION_HANDLE> sessions_;
  bool closed_ = false;
};

}  // namespace hsm

#endif  // HSM_JWKS_SIGN_ENGINE_H_
