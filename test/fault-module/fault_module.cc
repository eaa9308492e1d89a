// A fault-injecting PKCS#11 module for tests: it loads a real module (FAULT_REAL_MODULE, default
// SoftHSM2), passes every call through, and, as the control file FAULT_CONTROL says (read on
// every call), fails chosen calls, delays them, hands out 64-bit handles, or returns raw EC points.
//
// Control file, one directive per line (absent file or line = no fault):
//   C_Sign=0xB3            every C_Sign returns CKR_SESSION_HANDLE_INVALID (rv in hex)
//   C_Sign=0xB3 once       only the first C_Sign after the file changed
//   C_Sign delay_ms=50     C_Sign sleeps 50 ms before running
//   C_GenerateKeyPair=0x5 after  the pair is made, then the call reports 0x5 anyway (a token that
//                          fails after creating objects; C_GenerateKeyPair only)
//   C_Initialize=cant_lock C_Initialize with CKF_OS_LOCKING_OK returns CKR_CANT_LOCK
//   handles64              session and object handles given out have bit 40 set
//   raw_ec_point           CKA_EC_POINT comes back without its DER OCTET STRING
//   invalid_attr=0x40000600  that attribute type reads as CKR_ATTRIBUTE_TYPE_INVALID
//   device_gone            the device is unplugged: every call fails with CKR_DEVICE_REMOVED and
//                          C_Initialize with CKR_DEVICE_ERROR; once the line is gone, calls keep
//                          failing until the module is finalized and initialized again
//
// FAULT_LOG (optional): a file to which every C_Login and C_Initialize call is appended as
// "<function> 0x<rv>", so tests can count logins (an HSM locks the PIN after a few failed ones).
#include <dlfcn.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cryptoki.h"

namespace {

CK_FUNCTION_LIST* real = nullptr;
CK_FUNCTION_LIST wrapped;
std::mutex controlLock;
std::string lastControl;  // the control file's text, as last read
struct timespec lastMtime = {0, 0};
off_t lastSize = -1;
std::set<std::string> usedOnce;  // "once" directives already applied for the current control text

constexpr CK_ULONG kHigh = 1UL << 40;
std::atomic<bool> deviceLost{false};  // set by device_gone, cleared by a successful C_Initialize

// The control text; controlLock held. The file is read again only when stat says it changed, so a
// call costs one stat, not an open and a read (the soak makes millions of calls). A new text
// re-arms the "once" directives.
const std::string& Control() {
  const char* path = std::getenv("FAULT_CONTROL");
  struct stat st;
  if (path == nullptr || stat(path, &st) != 0) {
    st.st_size = 0;
    st.st_mtim = {0, 0};
  }
  if (st.st_size == lastSize && st.st_mtim.tv_sec == lastMtime.tv_sec && st.st_mtim.tv_nsec == lastMtime.tv_nsec)
    return lastControl;
  lastSize = st.st_size;
  lastMtime = st.st_mtim;
  std::string text;
  if (path != nullptr && st.st_size > 0) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  if (text != lastControl) {
    lastControl = text;
    usedOnce.clear();
  }
  return lastControl;
}

struct Directive {
  CK_RV rv = CKR_OK;
  bool fail = false;
  bool cantLock = false;
  bool after = false;  // run the real call first, then report the failure
  long delayMs = 0;
};

// What the control file says about function `fn` (consumes a "once" failure).
Directive For(const char* fn) {
  std::lock_guard<std::mutex> g(controlLock);
  Directive d;
  std::istringstream lines(Control());
  std::string line;
  const std::string name = fn;
  while (std::getline(lines, line)) {
    if (line.compare(0, name.size(), name) != 0) continue;
    std::string rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != '=' && rest[0] != ' ')) continue;
    if (rest.find("delay_ms=") != std::string::npos) d.delayMs = std::atol(rest.c_str() + rest.find("delay_ms=") + 9);
    if (rest[0] == '=') {
      std::string value = rest.substr(1, rest.find(' ') == std::string::npos ? std::string::npos : rest.find(' ') - 1);
      bool once = rest.find(" once") != std::string::npos;
      if (once && usedOnce.count(line)) continue;
      if (once) usedOnce.insert(line);
      if (value == "cant_lock") {
        d.cantLock = true;
      } else {
        d.fail = true;
        d.rv = std::strtoul(value.c_str(), nullptr, 16);
        d.after = rest.find(" after") != std::string::npos;
      }
    }
  }
  return d;
}

bool Flag(const char* word) {
  std::lock_guard<std::mutex> g(controlLock);
  std::istringstream lines(Control());
  std::string line;
  while (std::getline(lines, line)) {
    if (line == word) return true;
  }
  return false;
}

bool InvalidAttr(CK_ATTRIBUTE_TYPE type) {
  std::lock_guard<std::mutex> g(controlLock);
  std::istringstream lines(Control());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("invalid_attr=", 0) == 0 && std::strtoul(line.c_str() + 13, nullptr, 16) == type) return true;
  }
  return false;
}

// Handles: with handles64, what we hand out has bit 40 set; what comes back is stripped.
CK_ULONG Out(CK_ULONG h) { return h != 0 && Flag("handles64") ? h | kHigh : h; }
CK_ULONG In(CK_ULONG h) { return h & ~kHigh; }

bool DeviceLost() {
  if (Flag("device_gone")) deviceLost = true;
  return deviceLost;
}

// Appends "<fn> 0x<rv>" to FAULT_LOG; returns rv.
CK_RV Logged(const char* fn, CK_RV rv) {
  const char* path = std::getenv("FAULT_LOG");
  if (path == nullptr) return rv;
  std::lock_guard<std::mutex> g(controlLock);
  if (FILE* f = std::fopen(path, "a")) {
    std::fprintf(f, "%s 0x%lx\n", fn, static_cast<unsigned long>(rv));
    std::fclose(f);
  }
  return rv;
}

#define FAULT_POINT(fn)                                                                   \
  do {                                                                                    \
    if (DeviceLost()) return CKR_DEVICE_REMOVED;                                          \
    Directive d = For(fn);                                                                \
    if (d.delayMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(d.delayMs)); \
    if (d.fail) return d.rv;                                                              \
  } while (0)

CK_RV InitializeUnlogged(CK_VOID_PTR args) {
  Directive d = For("C_Initialize");
  auto* a = static_cast<CK_C_INITIALIZE_ARGS*>(args);
  if (d.cantLock && a != nullptr && (a->flags & CKF_OS_LOCKING_OK)) return CKR_CANT_LOCK;
  if (d.fail) return d.rv;
  if (Flag("device_gone")) return CKR_DEVICE_ERROR;
  CK_RV rv = real->C_Initialize(args);
  if (rv == CKR_OK) deviceLost = false;
  return rv;
}
CK_RV Initialize(CK_VOID_PTR args) { return Logged("C_Initialize", InitializeUnlogged(args)); }
CK_RV Finalize(CK_VOID_PTR p) { return real->C_Finalize(p); }
CK_RV GetInfo(CK_INFO* i) {
  FAULT_POINT("C_GetInfo");
  return real->C_GetInfo(i);
}
CK_RV GetSlotList(CK_BBOOL present, CK_SLOT_ID* list, CK_ULONG* n) {
  FAULT_POINT("C_GetSlotList");
  return real->C_GetSlotList(present, list, n);
}
CK_RV GetTokenInfo(CK_SLOT_ID s, CK_TOKEN_INFO* i) {
  FAULT_POINT("C_GetTokenInfo");
  return real->C_GetTokenInfo(s, i);
}
CK_RV OpenSession(CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR app, CK_NOTIFY n, CK_SESSION_HANDLE* h) {
  FAULT_POINT("C_OpenSession");
  CK_RV rv = real->C_OpenSession(s, f, app, n, h);
  if (rv == CKR_OK) *h = Out(*h);
  return rv;
}
CK_RV CloseSession(CK_SESSION_HANDLE h) {
  FAULT_POINT("C_CloseSession");
  return real->C_CloseSession(In(h));
}
CK_RV GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO* i) {
  FAULT_POINT("C_GetSessionInfo");
  return real->C_GetSessionInfo(In(h), i);
}
CK_RV LoginUnlogged(CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR* pin, CK_ULONG n) {
  FAULT_POINT("C_Login");
  return real->C_Login(In(h), u, pin, n);
}
CK_RV Login(CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR* pin, CK_ULONG n) {
  return Logged("C_Login", LoginUnlogged(h, u, pin, n));
}
CK_RV Logout(CK_SESSION_HANDLE h) {
  FAULT_POINT("C_Logout");
  return real->C_Logout(In(h));
}
CK_RV FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE* t, CK_ULONG n) {
  FAULT_POINT("C_FindObjectsInit");
  return real->C_FindObjectsInit(In(h), t, n);
}
CK_RV FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE* o, CK_ULONG max, CK_ULONG* n) {
  FAULT_POINT("C_FindObjects");
  CK_RV rv = real->C_FindObjects(In(h), o, max, n);
  if (rv == CKR_OK) {
    for (CK_ULONG i = 0; i < *n; i++) o[i] = Out(o[i]);
  }
  return rv;
}
CK_RV FindObjectsFinal(CK_SESSION_HANDLE h) { return real->C_FindObjectsFinal(In(h)); }

// Strips the DER OCTET STRING around an EC point, in place.
void RawEcPoint(CK_ATTRIBUTE* a) {
  auto* p = static_cast<unsigned char*>(a->pValue);
  if (p == nullptr || a->ulValueLen < 3 || p[0] != 0x04) return;
  size_t header = (p[1] & 0x80) ? 2 + (p[1] & 0x7f) : 2;
  if (header >= a->ulValueLen) return;
  std::memmove(p, p + header, a->ulValueLen - header);
  a->ulValueLen -= header;
}

CK_RV GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE* t, CK_ULONG n) {
  FAULT_POINT("C_GetAttributeValue");
  bool anyInvalid = false;
  for (CK_ULONG i = 0; i < n; i++) anyInvalid |= InvalidAttr(t[i].type);
  if (anyInvalid) {
    // As the spec says: every other attribute is processed; the invalid one gets UNAVAILABLE.
    CK_RV worst = CKR_OK;
    for (CK_ULONG i = 0; i < n; i++) {
      if (InvalidAttr(t[i].type)) {
        t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
        worst = CKR_ATTRIBUTE_TYPE_INVALID;
        continue;
      }
      CK_RV rv = GetAttributeValue(h, o, &t[i], 1);
      if (rv != CKR_OK) return rv;
    }
    return worst;
  }
  bool raw = Flag("raw_ec_point");
  // A raw point is shorter than the DER one: lengths asked for stay the DER ones (large enough).
  CK_RV rv = real->C_GetAttributeValue(In(h), In(o), t, n);
  if (rv == CKR_OK && raw) {
    for (CK_ULONG i = 0; i < n; i++) {
      if (t[i].type == CKA_EC_POINT && t[i].pValue != nullptr) RawEcPoint(&t[i]);
    }
  }
  return rv;
}
CK_RV GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM* m, CK_ATTRIBUTE* pub, CK_ULONG np, CK_ATTRIBUTE* priv,
                      CK_ULONG nv, CK_OBJECT_HANDLE* hp, CK_OBJECT_HANDLE* hv) {
  if (DeviceLost()) return CKR_DEVICE_REMOVED;
  Directive d = For("C_GenerateKeyPair");
  if (d.delayMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(d.delayMs));
  if (d.fail && !d.after) return d.rv;
  CK_RV rv = real->C_GenerateKeyPair(In(h), m, pub, np, priv, nv, hp, hv);
  if (rv == CKR_OK && d.fail) return d.rv;  // "after": made, and reported as failed
  if (rv == CKR_OK) {
    *hp = Out(*hp);
    *hv = Out(*hv);
  }
  return rv;
}
CK_RV CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE* t, CK_ULONG n, CK_OBJECT_HANDLE* o) {
  FAULT_POINT("C_CreateObject");
  CK_RV rv = real->C_CreateObject(In(h), t, n, o);
  if (rv == CKR_OK) *o = Out(*o);
  return rv;
}
CK_RV SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE* t, CK_ULONG n) {
  FAULT_POINT("C_SetAttributeValue");
  return real->C_SetAttributeValue(In(h), In(o), t, n);
}
CK_RV DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o) {
  FAULT_POINT("C_DestroyObject");
  return real->C_DestroyObject(In(h), In(o));
}
CK_RV SignInit(CK_SESSION_HANDLE h, CK_MECHANISM* m, CK_OBJECT_HANDLE k) {
  FAULT_POINT("C_SignInit");
  return real->C_SignInit(In(h), m, In(k));
}
CK_RV Sign(CK_SESSION_HANDLE h, CK_BYTE* d, CK_ULONG n, CK_BYTE* s, CK_ULONG* sn) {
  if (DeviceLost()) return CKR_DEVICE_REMOVED;
  {
    Directive dir = For("C_Sign");
    if (dir.delayMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(dir.delayMs));
    if (dir.fail) {
      // A failed C_Sign ends the operation in the real module too, so the session is clean.
      CK_ULONG len = 0;
      if (real->C_Sign(In(h), d, n, nullptr, &len) == CKR_OK) {
        std::vector<CK_BYTE> scratch(len);
        real->C_Sign(In(h), d, n, scratch.data(), &len);
      }
      return dir.rv;
    }
  }
  return real->C_Sign(In(h), d, n, s, sn);
}
CK_RV VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM* m, CK_OBJECT_HANDLE k) {
  FAULT_POINT("C_VerifyInit");
  return real->C_VerifyInit(In(h), m, In(k));
}
CK_RV Verify(CK_SESSION_HANDLE h, CK_BYTE* d, CK_ULONG n, CK_BYTE* s, CK_ULONG sn) {
  return real->C_Verify(In(h), d, n, s, sn);
}
CK_RV DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM* m, CK_OBJECT_HANDLE k) {
  FAULT_POINT("C_DecryptInit");
  return real->C_DecryptInit(In(h), m, In(k));
}
CK_RV Decrypt(CK_SESSION_HANDLE h, CK_BYTE* c, CK_ULONG n, CK_BYTE* p, CK_ULONG* pn) {
  return real->C_Decrypt(In(h), c, n, p, pn);
}
CK_RV GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE* r, CK_ULONG n) {
  FAULT_POINT("C_GenerateRandom");
  return real->C_GenerateRandom(In(h), r, n);
}

CK_RV Load() {
  if (real != nullptr) return CKR_OK;
  const char* path = std::getenv("FAULT_REAL_MODULE");
  void* dl = dlopen(path ? path : "/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_LOCAL);
  if (dl == nullptr) return CKR_GENERAL_ERROR;
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(dl, "C_GetFunctionList"));
  if (get == nullptr || get(&real) != CKR_OK) return CKR_GENERAL_ERROR;
  wrapped = *real;  // everything not wrapped below goes straight to the real module
  wrapped.C_Initialize = Initialize;
  wrapped.C_Finalize = Finalize;
  wrapped.C_GetInfo = GetInfo;
  wrapped.C_GetSlotList = GetSlotList;
  wrapped.C_GetTokenInfo = GetTokenInfo;
  wrapped.C_OpenSession = OpenSession;
  wrapped.C_CloseSession = CloseSession;
  wrapped.C_GetSessionInfo = GetSessionInfo;
  wrapped.C_Login = Login;
  wrapped.C_Logout = Logout;
  wrapped.C_FindObjectsInit = FindObjectsInit;
  wrapped.C_FindObjects = FindObjects;
  wrapped.C_FindObjectsFinal = FindObjectsFinal;
  wrapped.C_GetAttributeValue = GetAttributeValue;
  wrapped.C_GenerateKeyPair = GenerateKeyPair;
  wrapped.C_CreateObject = CreateObject;
  wrapped.C_SetAttributeValue = SetAttributeValue;
  wrapped.C_DestroyObject = DestroyObject;
  wrapped.C_SignInit = SignInit;
  wrapped.C_Sign = Sign;
  wrapped.C_VerifyInit = VerifyInit;
  wrapped.C_Verify = Verify;
  wrapped.C_DecryptInit = DecryptInit;
  wrapped.C_Decrypt = Decrypt;
  wrapped.C_GenerateRandom = GenerateRandom;
  return CKR_OK;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST** list) {
  CK_RV rv = Load();
  if (rv != CKR_OK) return rv;
  wrapped.C_GetFunctionList = C_GetFunctionList;
  *list = &wrapped;
  return CKR_OK;
}
