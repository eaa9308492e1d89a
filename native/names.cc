#include "names.h"

namespace hsm {

const char* CkrName(CK_RV rv) {
  switch (rv) {
#define CK_NAME_CASE(name, value) \
  case name:                      \
    return #name;
    CKR_LIST(CK_NAME_CASE)
#undef CK_NAME_CASE
    default:
      return rv >= CKR_VENDOR_DEFINED ? "CKR_VENDOR_DEFINED" : nullptr;
  }
}

bool AttributeKind(CK_ATTRIBUTE_TYPE type, AttrKind* kind) {
  switch (type) {
#define CK_KIND_BOOL AttrKind::kBool
#define CK_KIND_ULONG AttrKind::kUlong
#define CK_KIND_BYTES AttrKind::kBytes
#define CK_KIND_UTF8 AttrKind::kUtf8
#define CK_KIND_ULONG_ARRAY AttrKind::kUlongArray
#define CK_KIND_CASE(name, value, k) \
  case name:                         \
    *kind = CK_KIND_##k;             \
    return true;
    CKA_LIST(CK_KIND_CASE)
#undef CK_KIND_CASE
    default:
      return false;
  }
}

}  // namespace hsm
