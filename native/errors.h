// How failures cross to JS. PKCS#11 failures become an Error carrying `rv` (number), `ckr`
// (the CKR_ name) and `fn` (the C_ function); lib/pkcs11/errors.ts turns them into typed errors.
// Misuse of the binding (closed module, busy session) carries a `code` string.
#ifndef HSM_JWKS_ERRORS_H_
#define HSM_JWKS_ERRORS_H_

#include <napi.h>

#include "cryptoki.h"

namespace hsm {

Napi::Error Pkcs11Failure(Napi::Env env, CK_RV rv, const char* fn);
Napi::Error BindingError(Napi::Env env, const char* code, const std::string& message);
// A call with handles from before the module was re-initialised (ERR_HSM_REINITIALIZED).
Napi::Error StaleGeneration(Napi::Env env);

}  // namespace hsm

#endif  // HSM_JWKS_ERRORS_H_
