// Process-wide registry of loaded PKCS#11 modules. A module is dlopen'ed and C_Initialize'd once per
// process (keyed by its real path) and shared by every JS environment (main thread and workers)
// through a reference count; C_Finalize and dlclose happen when the last user releases it.
#ifndef HSM_JWKS_MODULE_REGISTRY_H_
#define HSM_JWKS_MODULE_REGISTRY_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "cryptoki.h"

namespace hsm {

struct LoadOptions {
  bool deepBind = true;   // RTLD_DEEPBIND where the C library has it (glibc)
  bool osLocking = true;  // CKF_OS_LOCKING_OK, retried without it on CKR_CANT_LOCK
  bool hasInitArgs = false;
  std::string initArgs;  // CK_C_INITIALIZE_ARGS.pReserved (NSS softokn's configuration)
};

// Every call into a module passes this gate (shared); re-initialisation closes it (exclusive): it
// waits for the calls in flight, holds new ones back, and reopens once C_Initialize has run, so
// C_Finalize never runs under another thread's call. A closing gate is served before new callers.
class CallGate {
 public:
  void Enter() {
    std::unique_lock<std::mutex> g(mutex_);
    changed_.wait(g, [this] { return !exclusive_; });
    active_++;
  }
  void Leave() {
    std::lock_guard<std::mutex> g(mutex_);
    if (--active_ == 0 && exclusive_) changed_.notify_all();
  }
  // False when the calls in flight did not all end within `timeout` (a hung device): the gate
  // is then open again, as before.
  bool Close(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> g(mutex_);
    changed_.wait(g, [this] { return !exclusive_; });
    exclusive_ = true;
    if (changed_.wait_for(g, timeout, [this] { return active_ == 0; })) return true;
    exclusive_ = false;
    changed_.notify_all();
    return false;
  }
  void Open() {
    std::lock_guard<std::mutex> g(mutex_);
    exclusive_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int active_ = 0;
  bool exclusive_ = false;
};

// Holds the gate for one scope.
class GateHold {
 public:
  explicit GateHold(CallGate& gate) : gate_(gate) { gate_.Enter(); }
  ~GateHold() { gate_.Leave(); }
  GateHold(const GateHold&) = delete;
  GateHold& operator=(const GateHold&) = delete;

 private:
  CallGate& gate_;
};

struct LoadedModule {
  std::string key;  // real path (or the name the dynamic linker resolved)
  void* dl = nullptr;
  CK_FUNCTION_LIST* fl = nullptr;  // 2.40 prefix of the function list (3.0 lists extend it)
  CK_VERSION version = {0, 0};     // version of the function list in use
  bool viaGetInterface = false;
  bool ownsInit = false;  // false: someone else initialised it; we never finalize
  bool deepBind = false;
  bool osLocking = false;  // CKF_OS_LOCKING_OK was accepted
  int refs = 0;
  bool hasInitArgs = false;
  std::string initArgs;  // kept alive for the module's lifetime (pReserved points here)
  // Set when the module refused OS locking: it then relies on the caller to serialise calls, so
  // every call into it takes this lock.
  bool serialize = false;
  std::mutex callLock;
  bool osLockingRequested = true;  // what the loader asked for, asked again on re-initialisation
  CallGate gate;
  // Counts re-initialisations: session and object handles of an earlier generation are invalid
  // (the module may hand the same numbers out again for other objects).
  std::atomic<uint64_t> generation{0};
  bool initialized = true;  // false after a re-initialisation whose C_Initialize failed
};

// Everything a call into a module must hold, for one scope: the call gate (so that a
// re-initialisation waits for it), the generation check (a handle of an earlier generation must
// never reach the module, which may have handed the same number out again), and, for a module that
// refused OS locking, its serialise lock. Every call site takes this guard and nothing else.
class ModuleCall {
 public:
  // `generation`: the one the caller's handles belong to; `usesHandles` false for the calls that
  // take none (getInfo, getSlots...), which are valid in any generation.
  ModuleCall(LoadedModule& module, uint64_t generation, bool usesHandles = true)
      : gate_(module.gate), stale_(usesHandles && module.generation.load() != generation) {
    // A stale call makes no PKCS#11 call: it does not need the lock.
    if (!stale_ && module.serialize) serial_ = std::unique_lock<std::mutex>(module.callLock);
  }
  // The module was re-initialised after the caller's handles were made: refuse the call
  // (ModuleReinitializedError; raw: ERR_HSM_REINITIALIZED) without making it.
  bool stale() const { return stale_; }

 private:
  GateHold gate_;  // first in, last out: the lock below is taken and dropped inside the gate
  bool stale_;
  std::unique_lock<std::mutex> serial_;
};

struct LoadFailure {
  enum Kind { kNone, kNotFound, kNotPkcs11, kDlopen, kInit } kind = kNone;
  std::string detail;
  CK_RV rv = CKR_OK;
  const char* fn = nullptr;
};

// Loads (or finds) the module and takes one reference. Blocking: call off the JS thread.
LoadedModule* AcquireModule(const std::string& path, const LoadOptions& options, LoadFailure* failure);

// Takes one more reference on a module already held (for another JS handle on it).
void ShareModule(LoadedModule* module);

// Re-initialisation after the device went away: closes the gate, and unless another caller has
// re-initialised since generation `seen`, runs C_Finalize and C_Initialize (with the load's
// arguments) and starts a new generation; if an earlier attempt left the module uninitialised, it
// only retries C_Initialize. `*now` receives the current generation. Returns the C_Initialize
// result (CKR_OK when nothing had to be done); CKR_FUNCTION_NOT_SUPPORTED when someone else owns
// the initialisation (we never finalize it); CKR_FUNCTION_CANCELED when calls in flight did not end
// within `drain` (nothing was done). Blocking: call off the JS thread.
CK_RV ReinitializeModule(LoadedModule* module, uint64_t seen, std::chrono::milliseconds drain, uint64_t* now);

// References currently held on the module (diagnostics).
int ModuleReferences(LoadedModule* module);

// Drops one reference; the last one finalizes (when we own initialisation) and unloads.
// Returns the C_Finalize result, or CKR_OK. Blocking: call off the JS thread.
CK_RV ReleaseModule(LoadedModule* module);

}  // namespace hsm

#endif  // HSM_JWKS_MODULE_REGISTRY_H_
