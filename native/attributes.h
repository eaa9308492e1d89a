// The attribute codec: JS templates to CK_ATTRIBUTE arrays and C_GetAttributeValue results back,
// driven by the kind table generated from CKA_LIST in cryptoki_constants.h.
#ifndef HSM_JWKS_ATTRIBUTES_H_
#define HSM_JWKS_ATTRIBUTES_H_

#include <napi.h>

#include <vector>

#include "cryptoki.h"

namespace hsm {

// An attribute template with its own copy of every value (templates are small).
class AttributeTemplate {
 public:
  // `value` is an array of [type, value] pairs; throws TypeError for an unknown type or a value
  // of the wrong kind.
  static AttributeTemplate FromJs(const Napi::Value& value, const char* what);
  CK_ATTRIBUTE* data() { return attrs_.empty() ? nullptr : attrs_.data(); }
  CK_ULONG size() const { return static_cast<CK_ULONG>(attrs_.size()); }

 private:
  std::vector<CK_ATTRIBUTE> attrs_;
  std::vector<std::vector<unsigned char>> storage_;
};

// One attribute as read from the token.
struct AttributeReading {
  enum Status { kValue, kSensitive, kInvalid, kUnavailable } status = kUnavailable;
  CK_ATTRIBUTE_TYPE type = 0;
  std::vector<unsigned char> value;
};

// Reads every requested attribute of an object; a sensitive, unknown or unavailable attribute does
// not fail the others. Returns the first error that is not about a single attribute.
// Runs on a worker thread.
CK_RV ReadAttributes(CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                     std::vector<AttributeReading>* readings);

// Validates a list of attribute types from JS (each must be in the table).
std::vector<CK_ATTRIBUTE_TYPE> AttributeTypesFromJs(const Napi::Value& value);

Napi::Value ReadingsToJs(Napi::Env env, const std::vector<AttributeReading>& readings);

}  // namespace hsm

#endif  // HSM_JWKS_ATTRIBUTES_H_
