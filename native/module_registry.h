// Process-wide registry of loaded PKCS#11 modules. A module is dlopen'ed and C_Initialize'd once per
// process (keyed by its real path) and shared by every JS environment (main thread and workers)
// through a reference count; C_Finalize and dlclose happen when the last user releases it.
#ifndef HSM_JWKS_MODULE_REGISTRY_H_
#define HSM_JWKS_MODULE_REGISTRY_H_

#include <mutex>
#include <string>

#include "cryptoki.h"

namespace hsm {

struct LoadOptions {
  bool deepBind = true;     // RTLD_DEEPBIND where the C library has it (glibc)
  bool osLocking = true;    // CKF_OS_LOCKING_OK, retried without it on CKR_CANT_LOCK
  bool hasInitArgs = false;
  std::string initArgs;     // CK_C_INITIALIZE_ARGS.pReserved (NSS softokn's configuration)
};

struct LoadedModule {
  std::string key;                 // real path (or the name the dynamic linker resolved)
  void* dl = nullptr;
  CK_FUNCTION_LIST* fl = nullptr;  // 2.40 prefix of the function list (3.0 lists extend it)
  CK_VERSION version = {0, 0};     // version of the function list in use
  bool viaGetInterface = false;
  bool ownsInit = false;           // false: someone else initialised it; we never finalize
  bool deepBind = false;
  bool osLocking = false;          // CKF_OS_LOCKING_OK was accepted
  int refs = 0;
  std::string initArgs;            // kept alive for the module's lifetime (pReserved points here)
  // Set when the module refused OS locking: it then relies on the caller to serialise calls, so
  // every call into it takes this lock.
  bool serialize = false;
  std::mutex callLock;
};

struct LoadFailure {
  enum Kind { kNone, kNotFound, kNotPkcs11, kDlopen, kInit } kind = kNone;
  std::string detail;
  CK_RV rv = CKR_OK;
  const char* fn = nullptr;
};

// Loads (or finds) the module and takes one reference. Blocking: call off the JS thread.
LoadedModule* AcquireModule(const std::string& path, const LoadOptions& options,
                            LoadFailure* failure);

// References currently held on the module (diagnostics).
int ModuleReferences(LoadedModule* module);

// Drops one reference; the last one finalizes (when we own initialisation) and unloads.
// Returns the C_Finalize result, or CKR_OK. Blocking: call off the JS thread.
CK_RV ReleaseModule(LoadedModule* module);

}  // namespace hsm

#endif  // HSM_JWKS_MODULE_REGISTRY_H_
