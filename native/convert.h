// Conversions between JS values and PKCS#11 scalars, shared by the argument parsers.
// Everything here runs on the JS thread; bad input throws a TypeError (code ERR_INVALID_ARG_TYPE)
// or a RangeError (code ERR_INVALID_ARG_VALUE), see errors.h.
#ifndef HSM_JWKS_CONVERT_H_
#define HSM_JWKS_CONVERT_H_

#include <napi.h>

#include <string>

#include "cryptoki.h"

namespace hsm {

// Handles (slot, session, object) cross as bigint: CloudHSM uses 64-bit ids.
Napi::Value HandleToJs(Napi::Env env, CK_ULONG handle);
CK_ULONG HandleFromJs(const Napi::Value& value, const char* what);

// A CK_ULONG given as a non-negative safe integer (or a bigint).
CK_ULONG UlongFromJs(const Napi::Value& value, const char* what);
// The same, within [min, max].
CK_ULONG UlongFromJs(const Napi::Value& value, const char* what, CK_ULONG min, CK_ULONG max);
Napi::Value UlongToJs(Napi::Env env, CK_ULONG value);

// A blank-padded fixed-width PKCS#11 string, without its trailing blanks and NULs.
Napi::String PaddedToJs(Napi::Env env, const CK_UTF8CHAR* text, size_t width);
Napi::Object VersionToJs(Napi::Env env, const CK_VERSION& version);

// A Uint8Array/Buffer argument; the caller pins it for the duration of the call.
Napi::Uint8Array BytesFromJs(const Napi::Value& value, const char* what);

}  // namespace hsm

#endif  // HSM_JWKS_CONVERT_H_
