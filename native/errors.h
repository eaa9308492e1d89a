// How failures cross to JS. lib/pkcs11/native.ts hands the addon its error classes once per JS
// environment, when it loads the binding (setErrorClasses, kept in AddonData): every failure is then
// constructed as one of them (Pkcs11Error, ClosedError, ModuleReinitializedError, …) and reaches JS
// already typed, with the `code` of lib/errors.ts. Without them (the binding used raw) the same
// failures are plain Errors: PKCS#11 failures carry `rv` (number), `ckr` (the CKR_ name) and `fn`
// (the C_ function); misuse of the binding (closed module, busy session) a `code` ERR_HSM_*; load()
// failures `reason`, `path` and `detail`. Argument errors are a TypeError (ERR_INVALID_ARG_TYPE) or a
// RangeError (ERR_INVALID_ARG_VALUE) either way. Callers test `code`, never the message.
#ifndef HSM_JWKS_ERRORS_H_
#define HSM_JWKS_ERRORS_H_

#include <napi.h>

#include <string>

#include "cryptoki.h"

namespace hsm {

struct LoadFailure;

// The classes setErrorClasses was given (each empty until then). Per environment: a worker that
// loads lib/ hands over its own, and nothing of one environment is used in another.
struct ErrorClasses {
  Napi::FunctionReference pkcs11;         // new (rv, fn, ckr)
  Napi::FunctionReference closed;         // new (what)
  Napi::FunctionReference reinitialized;  // new ()
  Napi::FunctionReference queueFull;      // new (what)
  Napi::FunctionReference notOwner;       // new ()
  Napi::FunctionReference busy;           // new ()
  Napi::FunctionReference sessionBusy;    // new ()
  Napi::FunctionReference moduleLoad;     // new (code, path, detail, cause)
  Napi::FunctionReference addonFailure;   // new (detail)
  Napi::FunctionReference argType;        // (message) => TypeError
  Napi::FunctionReference argValue;       // (message) => RangeError
};

// setErrorClasses(classes): stores them for this environment (a later call replaces them).
Napi::Value SetErrorClasses(const Napi::CallbackInfo& info);

// Misuse of the binding, refused by the addon itself.
enum class Misuse {
  kModuleClosed,        // ClosedError('the PKCS#11 module'); raw: ERR_HSM_CLOSED
  kEngineClosed,        // ClosedError('the signing engine'); raw: ERR_HSM_CLOSED
  kEngineClosedQueued,  // the same, for a request still queued at close()
  kSessionBusy,         // SessionBusyError; raw: ERR_HSM_SESSION_BUSY
  kQueueFull,           // QueueFullError; raw: ERR_HSM_QUEUE_FULL
  kReinitialized,       // ModuleReinitializedError; raw: ERR_HSM_REINITIALIZED
  kNotOwner,            // ModuleNotOwnedError; raw: ERR_HSM_NOT_OWNER
  kDrainTimeout,        // ModuleBusyError; raw: ERR_HSM_BUSY
};

Napi::Error Pkcs11Failure(Napi::Env env, CK_RV rv, const char* fn);
Napi::Error BindingError(Napi::Env env, Misuse what);
// A call with handles from before the module was re-initialised (Misuse::kReinitialized).
Napi::Error StaleGeneration(Napi::Env env);
// load() failed: ModuleLoadError (code by kind; for C_Initialize the cause is its Pkcs11Error).
Napi::Error LoadError(Napi::Env env, const LoadFailure& failure, const std::string& path);
// The addon's own failure (no memory, no thread): AddonFailureError; raw: a plain Error.
Napi::Error AddonFailure(Napi::Env env, const std::string& detail);
// An argument of the wrong type: a TypeError with code ERR_INVALID_ARG_TYPE.
Napi::TypeError InvalidArgType(Napi::Env env, const std::string& message);
// An argument of the right type and a wrong value (out of range, unknown): a RangeError with code
// ERR_INVALID_ARG_VALUE.
Napi::RangeError InvalidArgValue(Napi::Env env, const std::string& message);

}  // namespace hsm

#endif  // HSM_JWKS_ERRORS_H_
