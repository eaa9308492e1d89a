// netsim: a PKCS#11 module that makes a real one (NETSIM_REAL_MODULE, default SoftHSM2) look like a
// network HSM appliance, for benchmarks and tests. Every call passes through to the real module;
// on the way, as the environment says (read at each successful C_Initialize):
//   NETSIM_LATENCY_US=2000   every C_Sign/C_SignFinal that produces a signature holds a device slot
//                            for this long: the slot is taken, the real signature runs (on this
//                            host's CPU), then the call sleeps until slot start + latency. A length
//                            query (no output buffer) stays local, as in network HSM clients.
//   NETSIM_CAPACITY=32       signatures the device works on at once; a call beyond it waits, in
//                            arrival order, for a slot (0 = no limit). Device limit:
//                            capacity / latency signatures per second.
//   NETSIM_CALL_LATENCY_US=0 round trip added to every other call that reaches the device:
//                            C_OpenSession, C_CloseSession, C_GetSessionInfo, C_Login, C_Logout,
//                            C_GetTokenInfo, object search/read/write/create/destroy, key
//                            generation, C_Verify, C_Decrypt, C_GenerateRandom. C_SignInit,
//                            C_VerifyInit, C_DecryptInit, slot and mechanism lists stay local.
//   NETSIM_MAX_SESSIONS=0    sessions open at once per slot; one more is refused with
//                            CKR_SESSION_COUNT, and C_GetTokenInfo reports it as ulMaxSessionCount
//                            and ulMaxRwSessionCount (0 = what the real module says).
//   NETSIM_STATS_FILE        at C_Finalize, one JSON line is appended there: signatures, how many
//                            waited for a slot, the peak in flight, slot-busy microseconds.
// Sleeps are clock_nanosleep(TIMER_ABSTIME) with a 1 µs timer slack on the sleeping thread: no
// busy waiting. The slot queue is a FIFO with direct hand-off: one mutex, one wake-up per release.
#include <dlfcn.h>
#include <errno.h>
#include <sys/prctl.h>
#include <time.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "cryptoki.h"

namespace {

CK_FUNCTION_LIST* real = nullptr;
CK_FUNCTION_LIST wrapped;

struct Settings {
  long latencyUs = 2000;
  long capacity = 32;
  long callLatencyUs = 0;
  CK_ULONG maxSessions = 0;
};
Settings cfg;

// ---- time ----
timespec Now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t;
}
timespec Plus(timespec t, long us) {
  t.tv_sec += us / 1000000;
  t.tv_nsec += (us % 1000000) * 1000;
  if (t.tv_nsec >= 1000000000) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000;
  }
  return t;
}
long MicrosBetween(const timespec& a, const timespec& b) {
  return (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
}

void SleepUntil(const timespec& deadline) {
  // The default 50 µs timer slack would add up to 10% to a 0.5 ms latency; set once per thread.
  static thread_local bool slack = prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0) == 0;
  (void)slack;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr) == EINTR) {
  }
}
void RoundTrip() {
  if (cfg.callLatencyUs > 0) SleepUntil(Plus(Now(), cfg.callLatencyUs));
}

// ---- the device's slots: a counting semaphore, FIFO, handing a freed slot to the oldest waiter ----
class Slots {
 public:
  void Reset(long capacity) {
    std::lock_guard<std::mutex> g(m_);
    free_ = capacity;
    unlimited_ = capacity <= 0;
    inFlight_ = peak_ = 0;
    signs_ = waited_ = busyUs_ = 0;
  }
  void Acquire() {
    std::unique_lock<std::mutex> l(m_);
    if (unlimited_ || (free_ > 0 && head_ == nullptr)) {
      free_--;
    } else {
      Waiter w;
      (tail_ ? tail_->next : head_) = &w;
      tail_ = &w;
      waited_++;
      while (!w.granted) w.cv.wait(l);  // Release took it off the queue and gave it the slot
    }
    if (++inFlight_ > peak_) peak_ = inFlight_;
  }
  void Release(long heldUs) {
    std::lock_guard<std::mutex> g(m_);
    inFlight_--;
    signs_++;
    busyUs_ += heldUs;
    if (head_ != nullptr) {
      Waiter* w = head_;
      head_ = w->next;
      if (head_ == nullptr) tail_ = nullptr;
      w->granted = true;
      w->cv.notify_one();  // under the lock: the waiter (on its own stack) cannot be gone yet
    } else {
      free_++;
    }
  }
  std::string Stats() {
    std::lock_guard<std::mutex> g(m_);
    char buf[256];
    std::snprintf(
        buf, sizeof buf,
        "{\"signatures\":%llu,\"waited\":%llu,\"peakInFlight\":%ld,\"busyUs\":%llu,\"capacity\":%ld,\"latencyUs\":%ld}",
        signs_, waited_, peak_, busyUs_, cfg.capacity, cfg.latencyUs);
    return buf;
  }

 private:
  struct Waiter {
    std::condition_variable cv;
    bool granted = false;
    Waiter* next = nullptr;
  };
  std::mutex m_;
  long free_ = 0;
  bool unlimited_ = false;
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  long inFlight_ = 0, peak_ = 0;
  unsigned long long signs_ = 0, waited_ = 0, busyUs_ = 0;
};
Slots slots;

// One signature at the device: a slot for max(latency, the real call's time).
template <typename F>
CK_RV AtDevice(F call) {
  slots.Acquire();
  const timespec start = Now();
  CK_RV rv = call();
  SleepUntil(Plus(start, cfg.latencyUs));
  slots.Release(MicrosBetween(start, Now()));
  return rv;
}

// ---- sessions open per slot, for NETSIM_MAX_SESSIONS ----
std::mutex sessionLock;
std::unordered_map<CK_SESSION_HANDLE, CK_SLOT_ID> sessions;
std::unordered_map<CK_SLOT_ID, CK_ULONG> sessionCount;  // open + being opened

// ---- settings ----
bool Number(const char* name, long fallback, long* out) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    *out = fallback;
    return true;
  }
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || n < 0 || n > 3600L * 1000000) {
    std::fprintf(stderr, "netsim: %s=%s is not a non-negative integer\n", name, v);
    return false;
  }
  *out = n;
  return true;
}

bool ReadSettings(Settings* s) {
  long maxSessions = 0;
  bool ok = Number("NETSIM_LATENCY_US", 2000, &s->latencyUs) && Number("NETSIM_CAPACITY", 32, &s->capacity) &&
            Number("NETSIM_CALL_LATENCY_US", 0, &s->callLatencyUs) && Number("NETSIM_MAX_SESSIONS", 0, &maxSessions);
  s->maxSessions = static_cast<CK_ULONG>(maxSessions);
  return ok;
}

// ---- the wrapped functions ----
CK_RV Initialize(CK_VOID_PTR args) {
  Settings s;
  if (!ReadSettings(&s)) return CKR_ARGUMENTS_BAD;
  CK_RV rv = real->C_Initialize(args);
  if (rv != CKR_OK) return rv;
  cfg = s;  // no call is in flight before C_Initialize returns
  slots.Reset(cfg.capacity);
  std::lock_guard<std::mutex> g(sessionLock);
  sessions.clear();
  sessionCount.clear();
  return CKR_OK;
}
CK_RV Finalize(CK_VOID_PTR p) {
  CK_RV rv = real->C_Finalize(p);
  const char* file = std::getenv("NETSIM_STATS_FILE");
  if (rv == CKR_OK && file != nullptr && *file != '\0') {
    if (FILE* f = std::fopen(file, "a")) {
      std::fprintf(f, "%s\n", slots.Stats().c_str());
      std::fclose(f);
    }
  }
  return rv;
}
CK_RV GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO* info) {
  RoundTrip();
  CK_RV rv = real->C_GetTokenInfo(slot, info);
  if (rv == CKR_OK && cfg.maxSessions > 0) {
    info->ulMaxSessionCount = cfg.maxSessions;
    info->ulMaxRwSessionCount = cfg.maxSessions;
  }
  return rv;
}
CK_RV OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify, CK_SESSION_HANDLE* h) {
  RoundTrip();
  {
    std::lock_guard<std::mutex> g(sessionLock);
    CK_ULONG& n = sessionCount[slot];
    if (cfg.maxSessions > 0 && n >= cfg.maxSessions) return CKR_SESSION_COUNT;
    n++;
  }
  CK_RV rv = real->C_OpenSession(slot, flags, app, notify, h);
  std::lock_guard<std::mutex> g(sessionLock);
  if (rv == CKR_OK) {
    sessions[*h] = slot;
  } else {
    sessionCount[slot]--;
  }
  return rv;
}
void Forget(CK_SESSION_HANDLE h) {
  std::lock_guard<std::mutex> g(sessionLock);
  auto it = sessions.find(h);
  if (it == sessions.end()) return;
  sessionCount[it->second]--;
  sessions.erase(it);
}
CK_RV CloseSession(CK_SESSION_HANDLE h) {
  RoundTrip();
  CK_RV rv = real->C_CloseSession(h);
  if (rv == CKR_OK || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) Forget(h);
  return rv;
}
CK_RV CloseAllSessions(CK_SLOT_ID slot) {
  RoundTrip();
  CK_RV rv = real->C_CloseAllSessions(slot);
  if (rv == CKR_OK) {
    std::lock_guard<std::mutex> g(sessionLock);
    for (auto it = sessions.begin(); it != sessions.end();) {
      if (it->second == slot) {
        sessionCount[slot]--;
        it = sessions.erase(it);
      } else {
        ++it;
      }
    }
  }
  return rv;
}

// Passes a call through after one round trip.
#define REMOTE(name, params, args) \
  CK_RV name params {              \
    RoundTrip();                   \
    return real->C_##name args;    \
  }
REMOTE(GetSessionInfo, (CK_SESSION_HANDLE h, CK_SESSION_INFO* i), (h, i))
REMOTE(Login, (CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR* pin, CK_ULONG n), (h, u, pin, n))
REMOTE(Logout, (CK_SESSION_HANDLE h), (h))
REMOTE(FindObjectsInit, (CK_SESSION_HANDLE h, CK_ATTRIBUTE* t, CK_ULONG n), (h, t, n))
REMOTE(FindObjects, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE* o, CK_ULONG max, CK_ULONG* n), (h, o, max, n))
REMOTE(FindObjectsFinal, (CK_SESSION_HANDLE h), (h))
REMOTE(GetAttributeValue, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE* t, CK_ULONG n), (h, o, t, n))
REMOTE(SetAttributeValue, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE* t, CK_ULONG n), (h, o, t, n))
REMOTE(CreateObject, (CK_SESSION_HANDLE h, CK_ATTRIBUTE* t, CK_ULONG n, CK_OBJECT_HANDLE* o), (h, t, n, o))
REMOTE(DestroyObject, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o), (h, o))
REMOTE(GenerateKeyPair,
       (CK_SESSION_HANDLE h, CK_MECHANISM* m, CK_ATTRIBUTE* pub, CK_ULONG np, CK_ATTRIBUTE* priv, CK_ULONG nv,
        CK_OBJECT_HANDLE* hp, CK_OBJECT_HANDLE* hv),
       (h, m, pub, np, priv, nv, hp, hv))
REMOTE(Verify, (CK_SESSION_HANDLE h, CK_BYTE* d, CK_ULONG n, CK_BYTE* s, CK_ULONG sn), (h, d, n, s, sn))
REMOTE(Decrypt, (CK_SESSION_HANDLE h, CK_BYTE* c, CK_ULONG n, CK_BYTE* p, CK_ULONG* pn), (h, c, n, p, pn))
REMOTE(GenerateRandom, (CK_SESSION_HANDLE h, CK_BYTE* r, CK_ULONG n), (h, r, n))
#undef REMOTE

CK_RV Sign(CK_SESSION_HANDLE h, CK_BYTE* d, CK_ULONG n, CK_BYTE* s, CK_ULONG* sn) {
  if (s == nullptr) return real->C_Sign(h, d, n, s, sn);  // a length query, answered locally
  return AtDevice([&] { return real->C_Sign(h, d, n, s, sn); });
}
CK_RV SignFinal(CK_SESSION_HANDLE h, CK_BYTE* s, CK_ULONG* sn) {
  if (s == nullptr) return real->C_SignFinal(h, s, sn);
  return AtDevice([&] { return real->C_SignFinal(h, s, sn); });
}

CK_RV Load() {
  if (real != nullptr) return CKR_OK;
  const char* path = std::getenv("NETSIM_REAL_MODULE");
  void* dl = dlopen(path != nullptr && *path != '\0' ? path : "/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_LOCAL);
  if (dl == nullptr) {
    std::fprintf(stderr, "netsim: %s\n", dlerror());
    return CKR_GENERAL_ERROR;
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(dl, "C_GetFunctionList"));
  if (get == nullptr || get(&real) != CKR_OK) return CKR_GENERAL_ERROR;
  if (!ReadSettings(&cfg)) return CKR_ARGUMENTS_BAD;
  slots.Reset(cfg.capacity);
  wrapped = *real;  // everything not wrapped below goes straight to the real module
  wrapped.C_Initialize = Initialize;
  wrapped.C_Finalize = Finalize;
  wrapped.C_GetTokenInfo = GetTokenInfo;
  wrapped.C_OpenSession = OpenSession;
  wrapped.C_CloseSession = CloseSession;
  wrapped.C_CloseAllSessions = CloseAllSessions;
  wrapped.C_GetSessionInfo = GetSessionInfo;
  wrapped.C_Login = Login;
  wrapped.C_Logout = Logout;
  wrapped.C_FindObjectsInit = FindObjectsInit;
  wrapped.C_FindObjects = FindObjects;
  wrapped.C_FindObjectsFinal = FindObjectsFinal;
  wrapped.C_GetAttributeValue = GetAttributeValue;
  wrapped.C_SetAttributeValue = SetAttributeValue;
  wrapped.C_CreateObject = CreateObject;
  wrapped.C_DestroyObject = DestroyObject;
  wrapped.C_GenerateKeyPair = GenerateKeyPair;
  wrapped.C_Sign = Sign;
  wrapped.C_SignFinal = SignFinal;
  wrapped.C_Verify = Verify;
  wrapped.C_Decrypt = Decrypt;
  wrapped.C_GenerateRandom = GenerateRandom;
  return CKR_OK;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST** list) {
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  CK_RV rv = Load();
  if (rv != CKR_OK) return rv;
  wrapped.C_GetFunctionList = C_GetFunctionList;
  *list = &wrapped;
  return CKR_OK;
}
