#include "errors.h"

#include <cstdio>
#include <string>

#include "names.h"

namespace hsm {

Napi::Error Pkcs11Failure(Napi::Env env, CK_RV rv, const char* fn) {
  const char* name = CkrName(rv);
  char hex[24];
  snprintf(hex, sizeof hex, "0x%08lx", rv);
  std::string ckr = name != nullptr ? name : std::string("CKR_UNKNOWN_") + hex;
  Napi::Error e = Napi::Error::New(env, std::string(fn) + " failed: " + ckr + " (" + hex + ")");
  e.Set("rv", Napi::Number::New(env, static_cast<double>(rv)));
  e.Set("ckr", Napi::String::New(env, ckr));
  e.Set("fn", Napi::String::New(env, fn));
  return e;
}

Napi::Error BindingError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

Napi::TypeError InvalidArgType(Napi::Env env, const std::string& message) {
  Napi::TypeError e = Napi::TypeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  return e;
}

Napi::RangeError InvalidArgValue(Napi::Env env, const std::string& message) {
  Napi::RangeError e = Napi::RangeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_VALUE"));
  return e;
}

Napi::Error StaleGeneration(Napi::Env env) {
  return BindingError(env, "ERR_HSM_REINITIALIZED",
                      "the module was re-initialised after this handle was made: find the session or key again");
}

}  // namespace hsm
