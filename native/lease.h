// One JS NativeModule's hold on a LoadedModule, with the count of its calls in flight so that
// close() can wait for them before the module is released.
#ifndef HSM_JWKS_LEASE_H_
#define HSM_JWKS_LEASE_H_

#include <condition_variable>
#include <mutex>

#include "module_registry.h"

namespace hsm {

struct Lease {
  explicit Lease(LoadedModule* m) : module(m) {}
  LoadedModule* module;  // JS thread only: nullptr once close() was called

  void Enter() {
    std::lock_guard<std::mutex> g(mutex);
    inflight++;
  }
  void Leave() {
    std::lock_guard<std::mutex> g(mutex);
    if (--inflight == 0) idle.notify_all();
  }
  void WaitIdle() {
    std::unique_lock<std::mutex> g(mutex);
    idle.wait(g, [this] { return inflight == 0; });
  }
  bool Idle() {
    std::lock_guard<std::mutex> g(mutex);
    return inflight == 0;
  }

 private:
  std::mutex mutex;
  std::condition_variable idle;
  int inflight = 0;
};

}  // namespace hsm

#endif  // HSM_JWKS_LEASE_H_
