// C_SignInit + C_Sign on one session: the one implementation behind NativeModule.sign, signSync
// and the signing engine's workers. Worker-thread safe (no JS); the caller holds a ModuleCall.
#ifndef HSM_JWKS_SIGN_CALL_H_
#define HSM_JWKS_SIGN_CALL_H_

#include <vector>

#include "cryptoki.h"

namespace hsm {

struct SignOutcome {
  CK_RV rv = CKR_OK;
  const char* fn = nullptr;  // the failing function; nullptr on success
  CK_ULONG length = 0;       // signature length, in `out` or (when spilled) in `spill`
  bool spilled = false;      // `out` was too small (or absent): the signature is in `spill`
  bool ok() const { return fn == nullptr; }
};

namespace detail {

inline SignOutcome SignFailure(CK_RV rv, const char* fn) {
  SignOutcome o;
  o.rv = rv;
  o.fn = fn;
  return o;
}

// The two-call pattern: the length query, then C_Sign into a buffer of that size. Finishing the
// operation this way is also how an active operation is ended after CKR_BUFFER_TOO_SMALL (PKCS#11
// 2.40 has no other way to cancel it). Some modules (NSS) end the operation on
// CKR_BUFFER_TOO_SMALL anyway, so a query that finds none active starts it again.
inline SignOutcome SignBySizeQuery(CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE session, CK_MECHANISM* mechanism,
                                   CK_OBJECT_HANDLE key, CK_BYTE* in, CK_ULONG inLen, std::vector<CK_BYTE>* spill) {
  CK_ULONG need = 0;
  CK_RV rv = fl->C_Sign(session, in, inLen, nullptr, &need);
  if (rv == CKR_OPERATION_NOT_INITIALIZED) {
    rv = fl->C_SignInit(session, mechanism, key);
    if (rv != CKR_OK) return SignFailure(rv, "C_SignInit");
    rv = fl->C_Sign(session, in, inLen, nullptr, &need);
  }
  if (rv != CKR_OK) return SignFailure(rv, "C_Sign");  // a failed C_Sign ends the operation
  spill->resize(need);
  rv = fl->C_Sign(session, in, inLen, spill->data(), &need);
  // CKR_BUFFER_TOO_SMALL again would leave the operation active; the length query just answered,
  // so only a broken module gets here, and the next C_SignInit on the session tells it.
  if (rv != CKR_OK) return SignFailure(rv, "C_Sign");
  spill->resize(need);
  SignOutcome o;
  o.length = need;
  o.spilled = true;
  return o;
}

}  // namespace detail

// Signs `in` with `key`. With `cap` > 0 the signature goes straight into `out` (one C_Sign, sized
// by the caller from the key); `cap` == 0 uses the length query. When `out` turns out too small,
// C_Sign answers CKR_BUFFER_TOO_SMALL and leaves the operation active: it is then finished into
// `spill` (a session must never be left with an operation active: the next C_SignInit on it would
// fail with CKR_OPERATION_ACTIVE), and the signature is returned from there.
inline SignOutcome SignCall(CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE session, CK_MECHANISM* mechanism,
                            CK_OBJECT_HANDLE key, CK_BYTE* in, CK_ULONG inLen, CK_BYTE* out, CK_ULONG cap,
                            std::vector<CK_BYTE>* spill) {
  CK_RV rv = fl->C_SignInit(session, mechanism, key);
  if (rv != CKR_OK) return detail::SignFailure(rv, "C_SignInit");
  if (cap > 0) {
    SignOutcome o;
    o.length = cap;
    rv = fl->C_Sign(session, in, inLen, out, &o.length);
    if (rv == CKR_OK) return o;
    if (rv != CKR_BUFFER_TOO_SMALL) return detail::SignFailure(rv, "C_Sign");  // the operation ended
  }
  return detail::SignBySizeQuery(fl, session, mechanism, key, in, inLen, spill);
}

}  // namespace hsm

#endif  // HSM_JWKS_SIGN_CALL_H_
