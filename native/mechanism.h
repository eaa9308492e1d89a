// A CK_MECHANISM built from JS, owning its parameter structure.
#ifndef HSM_JWKS_MECHANISM_H_
#define HSM_JWKS_MECHANISM_H_

#include <napi.h>

#include <vector>

#include "cryptoki.h"

namespace hsm {

class Mechanism {
 public:
  // A mechanism type (number), or { type, parameter? } where parameter is { kind: 'pss', hashAlg, mgf, saltLength },
  // { kind: 'oaep', hashAlg, mgf, label? } or { kind: 'raw', data }. Throws TypeError.
  static Mechanism FromJs(const Napi::Value& value);
  // The mechanism with its parameter pointer fixed up for this object's current address.
  CK_MECHANISM* get();

 private:
  enum class Param { kNone, kPss, kOaep, kRaw } param_ = Param::kNone;
  CK_MECHANISM mech_ = {0, nullptr, 0};
  CK_RSA_PKCS_PSS_PARAMS pss_ = {0, 0, 0};
  CK_RSA_PKCS_OAEP_PARAMS oaep_ = {0, 0, 0, nullptr, 0};
  std::vector<unsigned char> bytes_;  // OAEP label or raw parameter
};

}  // namespace hsm

#endif  // HSM_JWKS_MECHANISM_H_
