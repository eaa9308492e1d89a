// How failures cross to JS. PKCS#11 failures become an Error carrying `rv` (number), `ckr`
// (the CKR_ name) and `fn` (the C_ function); lib/pkcs11/errors.ts turns them into typed errors.
// Misuse of the binding (closed module, busy session) carries a `code` string, and so does a bad
// argument, typed like lib/pkcs11/errors.ts invalidArgType/invalidArgValue: callers test `code`,
// never the message.
#ifndef HSM_JWKS_ERRORS_H_
#define HSM_JWKS_ERRORS_H_

#include <napi.h>

#include <string>

#include "cryptoki.h"

namespace hsm {

Napi::Error Pkcs11Failure(Napi::Env env, CK_RV rv, const char* fn);
Napi::Error BindingError(Napi::Env env, const char* code, const std::string& message);
// An argument of the wrong type: a TypeError with code ERR_INVALID_ARG_TYPE.
Napi::TypeError InvalidArgType(Napi::Env env, const std::string& message);
// An argument of the right type and a wrong value (out of range, unknown): a RangeError with code
// ERR_INVALID_ARG_VALUE.
Napi::RangeError InvalidArgValue(Napi::Env env, const std::string& message);
// A call with handles from before the module was re-initialised (ERR_HSM_REINITIALIZED).
Napi::Error StaleGeneration(Napi::Env env);

}  // namespace hsm

#endif  // HSM_JWKS_ERRORS_H_
