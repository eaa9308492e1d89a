// Name and kind tables built from the X-macro lists in cryptoki_constants.h.
#ifndef HSM_JWKS_NAMES_H_
#define HSM_JWKS_NAMES_H_

#include "cryptoki.h"

namespace hsm {

enum class AttrKind { kBool, kUlong, kBytes, kUtf8, kUlongArray };

// "CKR_PIN_INCORRECT" for a known code, "CKR_VENDOR_DEFINED" for vendor codes, else nullptr.
const char* CkrName(CK_RV rv);

// The codec kind of an attribute type; false when the type is not in the table.
bool AttributeKind(CK_ATTRIBUTE_TYPE type, AttrKind* kind);

}  // namespace hsm

#endif  // HSM_JWKS_NAMES_H_
