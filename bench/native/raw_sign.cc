// raw_sign: the module's own signing limit. dlopen(RTLD_NOW|RTLD_LOCAL), C_GetFunctionList,
// C_Initialize(CKF_OS_LOCKING_OK), one logged-in session per thread, the key found by CKA_ID,
// then C_SignInit+C_Sign in a loop. Threads start together after a warm-up; the count over the
// measured window is printed as JSON on stdout. Threads wait for the start without spinning (a
// network HSM simulator behind it runs 128+ threads on a 2-core host).
//   raw_sign <module> <token-label> <pin> <key-id-hex> <ecdsa|rsa-pkcs-sha256|eddsa> <input-bytes> <threads> <seconds>
#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cryptoki.h"

namespace {

CK_FUNCTION_LIST* fl = nullptr;

[[noreturn]] void Die(const char* what, CK_RV rv) {
  std::fprintf(stderr, "raw_sign: %s failed: 0x%lx\n", what, rv);
  std::exit(1);
}

void Check(CK_RV rv, const char* what) {
  if (rv != CKR_OK) Die(what, rv);
}

std::string Trim(const CK_UTF8CHAR* s, size_t n) {
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == 0)) n--;
  return std::string(reinterpret_cast<const char*>(s), n);
}

std::vector<unsigned char> FromHex(const std::string& hex) {
  std::vector<unsigned char> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<unsigned char>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr,
                 "usage: raw_sign <module> <label> <pin> <key-id-hex> <ecdsa|rsa-pkcs-sha256|eddsa> <input-bytes> "
                 "<threads> <seconds>\n");
    return 2;
  }
  const std::string label = argv[2], pin = argv[3], mech = argv[5];
  const std::vector<unsigned char> id = FromHex(argv[4]);
  const size_t inputBytes = std::strtoul(argv[6], nullptr, 10);
  const int threads = std::atoi(argv[7]);
  const double seconds = std::atof(argv[8]);
  if (threads < 1 || threads > 4096) {
    std::fprintf(stderr, "raw_sign: threads must be 1 to 4096\n");
    return 2;
  }
  void* dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    std::fprintf(stderr, "raw_sign: %s\n", dlerror());
    return 1;
  }
  auto getList = reinterpret_cast<CK_C_GetFunctionList>(dlsym(dl, "C_GetFunctionList"));
  if (!getList) return 1;
  Check(getList(&fl), "C_GetFunctionList");
  CK_C_INITIALIZE_ARGS init{};
  init.flags = CKF_OS_LOCKING_OK;
  Check(fl->C_Initialize(&init), "C_Initialize");

  CK_ULONG count = 0;
  Check(fl->C_GetSlotList(CK_TRUE, nullptr, &count), "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(count);
  Check(fl->C_GetSlotList(CK_TRUE, slots.data(), &count), "C_GetSlotList");
  CK_SLOT_ID slot = 0;
  bool found = false;
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO ti;
    if (fl->C_GetTokenInfo(s, &ti) == CKR_OK && Trim(ti.label, sizeof ti.label) == label) {
      slot = s;
      found = true;
      break;
    }
  }
  if (!found) {
    std::fprintf(stderr, "raw_sign: no token labelled %s\n", label.c_str());
    return 1;
  }
  CK_MECHANISM mechanism{mech == "ecdsa" ? CKM_ECDSA : mech == "eddsa" ? CKM_EDDSA : CKM_SHA256_RSA_PKCS, nullptr, 0};
  std::vector<unsigned char> input(inputBytes, 0x5a);

  std::atomic<int> ready{0};
  std::atomic<bool> measuring{false}, stop{false};
  std::mutex startLock;
  std::condition_variable started;
  bool go = false;
  std::vector<unsigned long long> counts(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++) {
    pool.emplace_back([&, t] {
      CK_SESSION_HANDLE session;
      Check(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session), "C_OpenSession");
      CK_RV rv =
          fl->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data())), pin.size());
      if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) Die("C_Login", rv);
      CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
      CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, const_cast<unsigned char*>(id.data()), id.size()}};
      CK_OBJECT_HANDLE key;
      CK_ULONG n = 0;
      Check(fl->C_FindObjectsInit(session, tmpl, 2), "C_FindObjectsInit");
      Check(fl->C_FindObjects(session, &key, 1, &n), "C_FindObjects");
      fl->C_FindObjectsFinal(session);
      if (n != 1) Die("key lookup", 0);
      unsigned char sig[1024];
      {
        std::unique_lock<std::mutex> l(startLock);
        ready++;
        started.wait(l, [&] { return go; });
      }
      unsigned long long done = 0;
      while (!stop) {
        CK_ULONG len = sizeof sig;
        Check(fl->C_SignInit(session, &mechanism, key), "C_SignInit");
        Check(fl->C_Sign(session, input.data(), input.size(), sig, &len), "C_Sign");
        if (measuring) done++;
      }
      counts[t] = done;
      fl->C_CloseSession(session);
    });
  }
  while (ready < threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  {
    std::lock_guard<std::mutex> g(startLock);
    go = true;
  }
  started.notify_all();
  std::this_thread::sleep_for(std::chrono::milliseconds(250));  // warm-up
  auto start = std::chrono::steady_clock::now();
  measuring = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  measuring = false;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  for (auto& th : pool) th.join();
  unsigned long long total = 0;
  for (auto c : counts) total += c;
  std::printf("{\"ops\":%llu,\"seconds\":%.4f,\"rate\":%.1f,\"threads\":%d}\n", total, elapsed, total / elapsed,
              threads);
  fl->C_Finalize(nullptr);
  return 0;
}
