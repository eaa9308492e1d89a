#include "convert.h"

#include <cmath>

#include "errors.h"

namespace hsm {

Napi::Value HandleToJs(Napi::Env env, CK_ULONG handle) { return Napi::BigInt::New(env, static_cast<uint64_t>(handle)); }

CK_ULONG HandleFromJs(const Napi::Value& value, const char* what) {
  if (!value.IsBigInt()) {
    throw InvalidArgType(value.Env(), std::string(what) + " must be a bigint handle");
  }
  bool lossless = false;
  uint64_t v = value.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless || v > static_cast<uint64_t>(~0UL)) {
    throw InvalidArgValue(value.Env(), std::string(what) + " is out of range");
  }
  return static_cast<CK_ULONG>(v);
}

CK_ULONG UlongFromJs(const Napi::Value& value, const char* what) {
  if (value.IsBigInt()) return HandleFromJs(value, what);
  if (!value.IsNumber()) {
    throw InvalidArgType(value.Env(), std::string(what) + " must be a number");
  }
  double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || std::floor(d) != d) {
    throw InvalidArgValue(value.Env(), std::string(what) + " must be a non-negative safe integer");
  }
  return static_cast<CK_ULONG>(d);
}

CK_ULONG UlongFromJs(const Napi::Value& value, const char* what, CK_ULONG min, CK_ULONG max) {
  CK_ULONG n = UlongFromJs(value, what);
  if (n < min || n > max) {
    throw InvalidArgValue(value.Env(),
                          std::string(what) + " must be " + std::to_string(min) + " to " + std::to_string(max));
  }
  return n;
}

Napi::Value UlongToJs(Napi::Env env, CK_ULONG value) { return Napi::Number::New(env, static_cast<double>(value)); }

Napi::String PaddedToJs(Napi::Env env, const CK_UTF8CHAR* text, size_t width) {
  size_t len = width;
  while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\0')) len--;
  return Napi::String::New(env, reinterpret_cast<const char*>(text), len);
}

Napi::Object VersionToJs(Napi::Env env, const CK_VERSION& version) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("major", Napi::Number::New(env, version.major));
  o.Set("minor", Napi::Number::New(env, version.minor));
  return o;
}

Napi::Uint8Array BytesFromJs(const Napi::Value& value, const char* what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw InvalidArgType(value.Env(), std::string(what) + " must be a Buffer or Uint8Array");
  }
  return value.As<Napi::Uint8Array>();
}

}  // namespace hsm
