#include "module_registry.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>

#if defined(__GLIBC__)
#include <link.h>
#endif

namespace hsm {
namespace {

std::mutex& RegistryLock() {
  static std::mutex* lock = new std::mutex();  // never destroyed: used until process exit
  return *lock;
}

std::map<std::string, LoadedModule*>& Registry() {
  static auto* registry = new std::map<std::string, LoadedModule*>();
  return *registry;
}

std::string DlError() {
  const char* e = dlerror();
  return e ? e : "unknown dynamic loader error";
}

// The key under which a module is registered: its real path when the caller gave a path,
// otherwise (a bare soname) the file the dynamic linker picked.
std::string ResolvedKey(const std::string& path, void* dl) {
#if defined(__GLIBC__)
  if (dl != nullptr && path.find('/') == std::string::npos) {
    struct link_map* map = nullptr;
    if (dlinfo(dl, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name != nullptr && map->l_name[0] != '\0') {
      char real[PATH_MAX];
      if (realpath(map->l_name, real) != nullptr) return real;
      return map->l_name;
    }
  }
#endif
  (void)dl;
  return path;
}

// Finds the function list: C_GetInterface (PKCS#11 3.0) first, then C_GetFunctionList.
bool ResolveFunctionList(LoadedModule* m, LoadFailure* failure) {
  auto getInterface = reinterpret_cast<CK_C_GetInterface>(dlsym(m->dl, "C_GetInterface"));
  if (getInterface != nullptr) {
    CK_INTERFACE* iface = nullptr;
    static CK_UTF8CHAR kName[] = "PKCS 11";
    if (getInterface(kName, nullptr, &iface, 0) == CKR_OK && iface != nullptr && iface->pFunctionList != nullptr) {
      m->fl = static_cast<CK_FUNCTION_LIST*>(iface->pFunctionList);
      m->viaGetInterface = true;
    }
  }
  if (m->fl == nullptr) {
    auto getList = reinterpret_cast<CK_C_GetFunctionList>(dlsym(m->dl, "C_GetFunctionList"));
    if (getList == nullptr) {
      failure->kind = LoadFailure::kNotPkcs11;
      failure->detail = "exports neither C_GetInterface nor C_GetFunctionList";
      return false;
    }
    CK_RV rv = getList(&m->fl);
    if (rv != CKR_OK || m->fl == nullptr) {
      failure->kind = LoadFailure::kInit;
      failure->rv = rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
      failure->fn = "C_GetFunctionList";
      failure->detail = "C_GetFunctionList returned no function list";
      m->fl = nullptr;
      return false;
    }
  }
  m->version = m->fl->version;
  if (m->fl->C_Initialize == nullptr || m->fl->C_Finalize == nullptr) {
    failure->kind = LoadFailure::kNotPkcs11;
    failure->detail = "function list lacks C_Initialize/C_Finalize";
    return false;
  }
  return true;
}

// C_Initialize with OS locking when asked, retried without on CKR_CANT_LOCK.
CK_RV CallInitialize(LoadedModule* m) {
  CK_C_INITIALIZE_ARGS args;
  std::memset(&args, 0, sizeof args);
  args.flags = m->osLockingRequested ? CKF_OS_LOCKING_OK : 0;
  args.pReserved = m->hasInitArgs ? const_cast<char*>(m->initArgs.c_str()) : nullptr;
  CK_RV rv = m->fl->C_Initialize(&args);
  m->osLocking = m->osLockingRequested;
  if (rv == CKR_CANT_LOCK && m->osLockingRequested) {
    args.flags = 0;
    rv = m->fl->C_Initialize(&args);
    m->osLocking = false;
  }
  // Without OS locking the module does no locking of its own: we serialise every call.
  m->serialize = !m->osLocking;
  return rv;
}

bool Initialize(LoadedModule* m, const LoadOptions& options, LoadFailure* failure) {
  m->osLockingRequested = options.osLocking;
  m->hasInitArgs = options.hasInitArgs;
  CK_RV rv = CallInitialize(m);
  if (rv == CKR_OK) {
    m->ownsInit = true;
  } else if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    m->ownsInit = false;  // another component of this process owns it: never finalize
  } else {
    failure->kind = LoadFailure::kInit;
    failure->rv = rv;
    failure->fn = "C_Initialize";
    failure->detail = "C_Initialize failed";
    return false;
  }
  return true;
}

}  // namespace

LoadedModule* AcquireModule(const std::string& path, const LoadOptions& options, LoadFailure* failure) {
  std::lock_guard<std::mutex> guard(RegistryLock());
  std::string key = path;
  if (path.find('/') != std::string::npos) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      failure->kind = LoadFailure::kNotFound;
      failure->detail = std::strerror(errno);
      return nullptr;
    }
    char real[PATH_MAX];
    if (realpath(path.c_str(), real) != nullptr) key = real;
  }
  auto found = Registry().find(key);
  if (found != Registry().end()) {
    found->second->refs++;
    return found->second;
  }

  // RTLD_NODELETE: dlclose after the last C_Finalize leaves the module mapped. A module's threads
  // and thread-local destructors (pthread keys) can outlive C_Finalize, and ran into unmapped code
  // once it was unloaded (seen: SIGSEGV at thread exit in __nptl_deallocate_tsd in a test process
  // that had loaded SoftHSM2 and p11-kit). Loading it again finds the mapping and initialises it.
  int flags = RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE;
  bool deepBind = false;
#if defined(RTLD_DEEPBIND)
  if (options.deepBind) {
    flags |= RTLD_DEEPBIND;
    deepBind = true;
  }
#endif
  dlerror();
  void* dl = dlopen(key.c_str(), flags);
  if (dl == nullptr) {
    failure->kind = path.find('/') == std::string::npos ? LoadFailure::kNotFound : LoadFailure::kDlopen;
    failure->detail = DlError();
    return nullptr;
  }
  key = ResolvedKey(path, dl);
  found = Registry().find(key);
  if (found != Registry().end()) {  // a bare name that resolved to a module we already hold
    dlclose(dl);
    found->second->refs++;
    return found->second;
  }

  auto* m = new LoadedModule();
  m->key = key;
  m->dl = dl;
  m->deepBind = deepBind;
  m->initArgs = options.initArgs;
  if (!ResolveFunctionList(m, failure) || !Initialize(m, options, failure)) {
    dlclose(dl);
    delete m;
    return nullptr;
  }
  m->refs = 1;
  Registry()[key] = m;
  return m;
}

void ShareModule(LoadedModule* m) {
  std::lock_guard<std::mutex> guard(RegistryLock());
  m->refs++;
}

CK_RV ReinitializeModule(LoadedModule* m, uint64_t seen, std::chrono::milliseconds drain, uint64_t* now) {
  if (!m->gate.Close(drain)) {
    *now = m->generation.load();
    return CKR_FUNCTION_CANCELED;
  }
  CK_RV rv = CKR_OK;
  if (!m->ownsInit) {
    rv = CKR_FUNCTION_NOT_SUPPORTED;
  } else {
    if (m->generation.load() == seen) {
      // Nobody has re-initialised since the caller's handles were made: this caller does it.
      if (m->initialized) m->fl->C_Finalize(nullptr);  // fails when the device is gone: no matter
      m->initialized = false;
      m->generation++;
    }
    if (!m->initialized) {
      rv = CallInitialize(m);
      // Someone else initialised it meanwhile: usable, but no longer ours to finalize.
      if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        m->ownsInit = false;
        rv = CKR_OK;
      }
      m->initialized = rv == CKR_OK;
    }
  }
  *now = m->generation.load();
  m->gate.Open();
  return rv;
}

int ModuleReferences(LoadedModule* m) {
  std::lock_guard<std::mutex> guard(RegistryLock());
  return m->refs;
}

CK_RV ReleaseModule(LoadedModule* m) {
  std::lock_guard<std::mutex> guard(RegistryLock());
  if (--m->refs > 0) return CKR_OK;
  Registry().erase(m->key);
  CK_RV rv = CKR_OK;
  if (m->ownsInit && m->initialized) rv = m->fl->C_Finalize(nullptr);
  dlclose(m->dl);
  delete m;
  return rv;
}

}  // namespace hsm
