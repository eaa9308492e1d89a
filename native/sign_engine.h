// SignEngine: high-throughput signing on a token. It owns a set of sessions, one worker thread
// each (its own threads, not libuv's shared pool). Requests queue up; each worker takes a batch,
// runs C_SignInit+C_Sign for every request on its session, writing straight into the request's
// pinned output Buffer, and completions go back to the JS thread in bulk (one thread-safe-function
// call drains every finished request). At most `limit` workers run batches at once; the caller
// (an adaptive controller in lib/) moves the limit and adds or retires workers while it runs.
#ifndef HSM_JWKS_SIGN_ENGINE_H_
#define HSM_JWKS_SIGN_ENGINE_H_

#include <napi.h>

#include <memory>

#include "module_object.h"

namespace hsm {

class EngineCore;
class SessionClaims;

class SignEngineObject : public Napi::ObjectWrap<SignEngineObject> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // module.createSignEngine(sessions: bigint[], { batchSize, maxPending, limit }): the JS-visible factory.
  static Napi::Value Create(ModuleObject* owner, const Napi::CallbackInfo& info);
  explicit SignEngineObject(const Napi::CallbackInfo& info);
  ~SignEngineObject() override;

 private:
  Napi::Value Sign(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SetLimit(const Napi::CallbackInfo& info);
  Napi::Value AddSessions(const Napi::CallbackInfo& info);
  Napi::Value RetireWorkers(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // Throws ClosedError (raw: ERR_HSM_CLOSED) once close() was called.
  void CheckOpen(Napi::Env env) const;

  // Shared with the threads (and the close and retire operations): outlives this object.
  std::shared_ptr<EngineCore> core_;
  // The NativeModule's busy-session set, where the engine's sessions are claimed. Shared with the
  // close and retire operations, which release sessions after this object may have been collected.
  std::shared_ptr<SessionClaims> claims_;
};

}  // namespace hsm

#endif  // HSM_JWKS_SIGN_ENGINE_H_
