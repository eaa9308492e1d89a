#include "sign_engine.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <vector>

#include "convert.h"
#include "errors.h"
#include "mechanism.h"
#include "sign_call.h"

namespace hsm {
namespace {

// Worker threads an engine may have at once (each holds a session and a thread).
constexpr size_t kMaxWorkers = 1024;

uint64_t NanosSince(std::chrono::steady_clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace

struct SignRequest {
  CK_OBJECT_HANDLE key = 0;
  Mechanism mechanism;
  CK_BYTE* in = nullptr;
  CK_ULONG inLen = 0;
  CK_BYTE* out = nullptr;
  CK_ULONG cap = 0;
  SignOutcome outcome;
  std::vector<CK_BYTE> spill;  // the signature, when `out` was too small (see SignCall)
  bool stale = false;          // refused: the module was re-initialised after the engine's sessions were made
  napi_deferred deferred = nullptr;
  Napi::Reference<Napi::Value> input;             // pinned: read in place by the worker
  Napi::Reference<Napi::Buffer<CK_BYTE>> output;  // pinned: written in place by the worker
};

// One worker thread and the session it signs on. The record belongs to the engine while the
// worker takes work, then to whoever joins its thread (close, or a retirement); it is only ever
// destroyed off its own thread.
struct Worker {
  Worker(CK_SESSION_HANDLE s, std::shared_ptr<Lease> l) : session(s), lease(std::move(l)) {}
  ~Worker() { Join(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Blocking: call off the JS thread (except at environment teardown). The lease taken when the
  // thread started is left once it has ended, thread-local destructors included, so the module
  // is never finalized under it.
  void Join() {
    if (!thread.joinable()) return;
    thread.join();
    lease->Leave();
  }

  CK_SESSION_HANDLE session;
  std::shared_ptr<Lease> lease;
  std::thread thread;
  bool busy = false;      // inside a batch (EngineCore::mutex_)
  bool retiring = false;  // leaves instead of taking more work (EngineCore::mutex_)
};

using WorkerList = std::vector<std::unique_ptr<Worker>>;

// Everything the worker threads and the JS thread share. Owned by shared_ptrs held by the JS
// object, the thread-safe function's pending calls, the worker threads themselves and the close
// and retire operations, so it outlives all of them. Holds no JS reference: the last owner may be
// a worker thread.
class EngineCore : public std::enable_shared_from_this<EngineCore> {
 public:
  EngineCore(std::shared_ptr<Lease> lease, LoadedModule* module, size_t batchSize, size_t maxPending, size_t limit,
             uint64_t generation)
      : lease_(std::move(lease)),
        module_(module),
        batchSize_(batchSize),
        maxPending_(maxPending),
        generation_(generation),
        limit_(limit) {}

  // JS thread, once, before AddWorkers.
  void Start(Napi::Env env) {
    env_ = env;
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                          "hsm-jwks:sign-engine", 0, 1);
    tsfn_.Unref(env);  // an idle engine does not keep the process alive
  }

  // JS thread: one worker thread per session, all or none. Throws std::system_error when a thread
  // cannot be started; the engine is then as it was.
  void AddWorkers(const std::vector<CK_SESSION_HANDLE>& sessions) {
    WorkerList fresh;
    // Held while spawning: the new threads take no work before they are all in, so that on a
    // failure the ones already started can be sent away at once, holding nothing.
    std::unique_lock<std::mutex> g(mutex_);
    // Room first: once a thread has started, no push_back below may throw.
    fresh.reserve(sessions.size());
    workers_.reserve(workers_.size() + sessions.size());
    try {
      for (CK_SESSION_HANDLE s : sessions) fresh.push_back(Spawn(s));
    } catch (...) {  // std::system_error, or bad_alloc: never unwind with started threads and the lock held
      for (auto& w : fresh) w->retiring = true;
      g.unlock();
      wake_.notify_all();
      for (auto& w : fresh) w->Join();
      throw;
    }
    for (auto& w : fresh) workers_.push_back(std::move(w));
  }

  size_t WorkerCount() {
    std::lock_guard<std::mutex> g(mutex_);
    return workers_.size();
  }

  // JS thread; 1 <= n <= WorkerCount() (checked by the caller). Raising it wakes waiting workers
  // now; lowering it lets running batches finish, after which the workers beyond it wait.
  void SetLimit(size_t n) {
    {
      std::lock_guard<std::mutex> g(mutex_);
      limit_ = n;
    }
    wake_.notify_all();
  }

  // JS thread: takes up to n workers out of the engine, never leaving fewer than the limit (so
  // never fewer than one): lower the limit first to retire more. Idle workers are taken first;
  // busy ones finish their batch. The caller joins the threads (off the JS thread) and owns the
  // sessions then.
  WorkerList TakeRetiring(size_t n) {
    WorkerList leaving;
    {
      std::lock_guard<std::mutex> g(mutex_);
      n = std::min(n, workers_.size() - limit_);
      leaving.reserve(n);
      // Busy ones to the front, idle ones to the back, where they are taken from.
      std::stable_partition(workers_.begin(), workers_.end(), [](const std::unique_ptr<Worker>& w) { return w->busy; });
      for (auto it = workers_.end() - static_cast<std::ptrdiff_t>(n); it != workers_.end(); ++it) {
        (*it)->retiring = true;
        leaving.push_back(std::move(*it));
      }
      workers_.resize(workers_.size() - n);
    }
    wake_.notify_all();
    return leaving;
  }

  // JS thread: whether another request would exceed the bound on requests not yet settled.
  bool Full() const { return outstanding_ >= maxPending_; }

  // JS thread. A worker is woken only when one may run now: with every place under the limit
  // taken, the request waits for a worker that ends its batch (it looks at the queue before it
  // waits), and a wake-up would only rouse a worker parked above the limit, which goes back to
  // sleep, after costing the JS thread a futex call and, on few cores, its CPU.
  void Submit(SignRequest* r) {
    if (outstanding_++ == 0) tsfn_.Ref(env_);
    bool room;
    {
      std::lock_guard<std::mutex> g(mutex_);
      queue_.push_back(r);
      room = running_ < limit_;
    }
    if (room) wake_.notify_one();
  }

  // JS thread (stopping_ is written on the JS thread only).
  bool Stopping() const { return stopping_; }

  // JS thread, for close(): refuse new work; fail what has not started; the workers end after
  // their batch. Returns them, for the caller to join off the JS thread.
  WorkerList BeginStop(Napi::Env env) {
    std::deque<SignRequest*> abandoned;
    WorkerList all;
    {
      std::lock_guard<std::mutex> g(mutex_);
      stopping_ = true;
      abandoned.swap(queue_);
      all.swap(workers_);
    }
    wake_.notify_all();
    for (SignRequest* r : abandoned) {
      Napi::Error e = BindingError(env, Misuse::kEngineClosedQueued);
      napi_reject_deferred(env, r->deferred, e.Value());
      Finish(r);
    }
    return all;
  }

  // Blocking (off the JS thread, but for teardown): until every worker thread, retiring ones
  // included, has made its last call on the thread-safe function.
  void WaitExited() {
    std::unique_lock<std::mutex> g(mutex_);
    exited_.wait(g, [this] { return alive_ == 0; });
  }

  // Environment teardown without close(): stop the workers; nothing is settled any more.
  void Shutdown() {
    WorkerList all;
    {
      std::lock_guard<std::mutex> g(mutex_);
      stopping_ = true;
      queue_.clear();
      all.swap(workers_);
    }
    wake_.notify_all();
    for (auto& w : all) w->Join();
    WaitExited();
  }

  // JS thread, after WaitExited(): deliver what finished during the stop, then drop the function
  // (no worker calls it any more).
  void End() {
    Drain(env_);
    tsfn_.Release();
  }

  Napi::Object Stats(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](const char* name, double value) { o.Set(name, Napi::Number::New(env, value)); };
    {
      std::lock_guard<std::mutex> g(mutex_);
      set("workers", static_cast<double>(workers_.size()));
      set("limit", static_cast<double>(limit_));
      set("running", static_cast<double>(running_));
      set("queued", static_cast<double>(queue_.size()));
      set("idleMs", static_cast<double>(idleNs_) / 1e6);
    }
    {
      std::lock_guard<std::mutex> g(doneMutex_);
      set("batches", static_cast<double>(batches_));
      set("signLatencyUsSum", static_cast<double>(signNs_) / 1e3);
      set("signLatencyCount", static_cast<double>(signs_));
    }
    set("batchSize", static_cast<double>(batchSize_));
    set("outstanding", static_cast<double>(outstanding_));
    set("completed", static_cast<double>(completed_));
    set("drains", static_cast<double>(drains_));
    set("maxPending", static_cast<double>(maxPending_));
    return o;
  }

 private:
  // JS thread, mutex_ held.
  std::unique_ptr<Worker> Spawn(CK_SESSION_HANDLE session) {
    auto w = std::make_unique<Worker>(session, lease_);
    lease_->Enter();  // the module stays loaded until this thread is joined
    alive_++;
    try {
      w->thread = std::thread([self = shared_from_this(), worker = w.get()] { self->Work(worker); });
    } catch (...) {
      alive_--;
      lease_->Leave();
      throw;
    }
    return w;
  }

  void Work(Worker* worker) {
    std::vector<SignRequest*> batch;
    batch.reserve(batchSize_);
    while (TakeBatch(worker, &batch)) {
      uint64_t signNs = RunBatch(worker->session, batch);
      Deliver(&batch, signNs);
    }
    {
      std::lock_guard<std::mutex> g(mutex_);
      alive_--;
    }
    exited_.notify_all();
  }

  // Waits until this worker may take work, and takes a batch; false when it is to leave (the
  // engine is stopping, or it was retired).
  bool TakeBatch(Worker* worker, std::vector<SignRequest*>* batch) {
    std::unique_lock<std::mutex> g(mutex_);
    if (worker->busy) {  // back from a batch: its place under the limit is free
      worker->busy = false;
      running_--;
    }
    auto w0 = std::chrono::steady_clock::now();
    wake_.wait(g, [&] { return stopping_ || worker->retiring || (!queue_.empty() && running_ < limit_); });
    idleNs_ += static_cast<long long>(NanosSince(w0));
    if (stopping_ || worker->retiring) {
      // A retiring worker may leave a place under the limit that a waiting one can take.
      if (!queue_.empty()) wake_.notify_one();
      return false;
    }
    // A fair share among the workers allowed to run, at most batchSize: with few requests queued
    // every running worker gets some (a full batch on one would leave the others idle); with
    // many, batches amortise the hand-offs between threads.
    size_t share = (queue_.size() + limit_ - 1) / limit_;
    // ...and no longer than about kBatchBudgetNs: on a slow device (a network HSM: milliseconds a
    // signature) a batch of 16 would hold 15 requests back behind the first for tens of ms while
    // other workers could have run them, and would make the latency figures arrive in bursts.
    uint64_t perSign = recentSignNs_.load(std::memory_order_relaxed);
    size_t byTime = perSign == 0 ? batchSize_ : static_cast<size_t>(std::max<uint64_t>(1, kBatchBudgetNs / perSign));
    size_t n = std::min({batchSize_, std::max<size_t>(1, share), byTime});
    batch->assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    worker->busy = true;
    running_++;
    return true;
  }

  // Worker thread: the PKCS#11 calls of a batch. Returns the time spent in them (the sum of each
  // request's C_SignInit+C_Sign), in nanoseconds.
  uint64_t RunBatch(CK_SESSION_HANDLE session, const std::vector<SignRequest*>& batch) {
    ModuleCall call(*module_, generation_);
    if (call.stale()) {
      for (SignRequest* r : batch) r->stale = true;
      return 0;
    }
    uint64_t ns = 0;
    for (SignRequest* r : batch) {
      auto t0 = std::chrono::steady_clock::now();
      r->outcome =
          SignCall(module_->fl, session, r->mechanism.get(), r->key, r->in, r->inLen, r->out, r->cap, &r->spill);
      ns += NanosSince(t0);
    }
    return ns;
  }

  // Worker thread: hands a finished batch to the JS thread. One call delivers everything finished
  // until the JS thread runs it. The figures are counted here, under the lock taken anyway.
  void Deliver(std::vector<SignRequest*>* batch, uint64_t signNs) {
    bool notify;
    {
      std::lock_guard<std::mutex> g(doneMutex_);
      done_.insert(done_.end(), batch->begin(), batch->end());
      notify = !notifyPending_;
      notifyPending_ = true;
      batches_++;
      if (!batch->front()->stale) {
        signNs_ += signNs;
        signs_ += batch->size();
        // A moving average of one signature's time, for the batch size (TakeBatch).
        uint64_t mean = signNs / batch->size();
        uint64_t prev = recentSignNs_.load(std::memory_order_relaxed);
        recentSignNs_.store(prev == 0 ? mean : (prev * 7 + mean) / 8, std::memory_order_relaxed);
      }
    }
    if (notify) {
      auto self = shared_from_this();
      tsfn_.NonBlockingCall([self](Napi::Env env, Napi::Function) { self->Drain(env); });
    }
    batch->clear();
  }

  // JS thread: settle every finished request.
  void Drain(Napi::Env env) {
    std::vector<SignRequest*> done;
    {
      std::lock_guard<std::mutex> g(doneMutex_);
      done.swap(done_);
      notifyPending_ = false;
    }
    if (done.empty()) return;
    drains_++;
    Napi::HandleScope scope(env);
    for (SignRequest* r : done) {
      if (r->stale) {
        napi_reject_deferred(env, r->deferred, StaleGeneration(env).Value());
      } else if (r->outcome.ok()) {
        napi_resolve_deferred(env, r->deferred, Signature(env, r));
      } else {
        napi_reject_deferred(env, r->deferred, Pkcs11Failure(env, r->outcome.rv, r->outcome.fn).Value());
      }
      completed_++;
      Finish(r);
    }
  }

  // JS thread: the pinned output Buffer itself when the signature filled it.
  static napi_value Signature(Napi::Env env, SignRequest* r) {
    const SignOutcome& o = r->outcome;
    if (o.spilled) return Napi::Buffer<CK_BYTE>::Copy(env, r->spill.data(), o.length);
    if (o.length == r->cap) return r->output.Value();
    return Napi::Buffer<CK_BYTE>::Copy(env, r->out, o.length);
  }

  void Finish(SignRequest* r) {
    delete r;  // drops the pins (JS thread)
    if (--outstanding_ == 0) tsfn_.Unref(env_);
  }

  std::shared_ptr<Lease> lease_;
  LoadedModule* module_;
  size_t batchSize_;
  size_t maxPending_;
  uint64_t generation_;
  Napi::Env env_ = Napi::Env(nullptr);
  Napi::ThreadSafeFunction tsfn_;

  // Guarded by mutex_; workers wait on wake_ for work, close waits on exited_ for the threads.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable exited_;
  std::deque<SignRequest*> queue_;
  WorkerList workers_;  // those taking work (not retiring); changed on the JS thread only
  size_t limit_;        // workers allowed inside a batch at once; 1 <= limit_ <= workers_.size()
  size_t running_ = 0;  // workers inside a batch now
  size_t alive_ = 0;    // threads whose loop has not ended (retiring ones included)
  bool stopping_ = false;
  long long idleNs_ = 0;

  // Guarded by doneMutex_ (taken once per batch).
  std::mutex doneMutex_;
  std::vector<SignRequest*> done_;
  bool notifyPending_ = false;
  size_t batches_ = 0;
  uint64_t signNs_ = 0;                    // sum of every request's C_SignInit+C_Sign, measured on its worker
  uint64_t signs_ = 0;                     // requests measured (those that reached the module, failed or not)
  std::atomic<uint64_t> recentSignNs_{0};  // moving average of one request's time (written under doneMutex_)
  static constexpr uint64_t kBatchBudgetNs = 1'000'000;  // a batch should take about 1 ms at most

  // JS thread only.
  size_t outstanding_ = 0;
  size_t completed_ = 0;
  size_t drains_ = 0;
};

// The engine's sessions are claimed in its NativeModule's busy-session set: nothing else may use
// them while the engine has them. JS thread only. Each holder keeps the NativeModule alive.
class SessionClaims {
 public:
  explicit SessionClaims(ModuleObject* owner) : owner_(owner), ref_(Napi::Persistent(owner->Value())) {}
  ModuleObject* owner() const { return owner_; }

  // All or none: a session already busy (SessionBusyError) leaves the others unclaimed.
  void Claim(Napi::Env env, const std::vector<CK_SESSION_HANDLE>& sessions) {
    size_t claimed = 0;
    try {
      for (CK_SESSION_HANDLE s : sessions) {
        owner_->ClaimSession(env, s);
        claimed++;
      }
    } catch (const Napi::Error&) {
      for (size_t i = 0; i < claimed; i++) owner_->ReleaseSession(sessions[i]);
      throw;
    }
  }

  // The sessions are the caller's again (to close them).
  void Release(const std::vector<CK_SESSION_HANDLE>& sessions) {
    for (CK_SESSION_HANDLE s : sessions) owner_->ReleaseSession(s);
  }

 private:
  ModuleObject* owner_;
  Napi::ObjectReference ref_;
};

namespace {

struct EngineSpec {
  std::shared_ptr<SessionClaims> claims;
  std::shared_ptr<Lease> lease;
  LoadedModule* module;
  uint64_t generation;
  std::vector<CK_SESSION_HANDLE> sessions;
  size_t batchSize = 16;
  size_t maxPending = 65536;
  size_t limit = 0;  // 0: one per session
};

// A count given as a JS number (not a bigint), within [min, max].
size_t CountFromJs(const Napi::Value& value, const char* what, size_t min, size_t max) {
  if (!value.IsNumber()) throw InvalidArgType(value.Env(), std::string(what) + " must be a number");
  return UlongFromJs(value, what, min, max);
}

// sessions: 1 to `max` distinct bigint handles.
std::vector<CK_SESSION_HANDLE> SessionsFromJs(const Napi::Value& value, size_t max) {
  Napi::Env env = value.Env();
  if (!value.IsArray()) throw InvalidArgType(env, "sessions must be an array of bigint handles");
  Napi::Array list = value.As<Napi::Array>();
  if (list.Length() == 0 || list.Length() > max) {
    throw InvalidArgValue(env, "sessions must hold 1 to " + std::to_string(max) + " handles");
  }
  std::vector<CK_SESSION_HANDLE> sessions;
  std::unordered_set<CK_SESSION_HANDLE> seen;
  for (uint32_t i = 0; i < list.Length(); i++) {
    CK_SESSION_HANDLE s = HandleFromJs(list.Get(i), "session");
    if (!seen.insert(s).second) throw InvalidArgValue(env, "sessions must not repeat a handle");
    sessions.push_back(s);
  }
  return sessions;
}

// { batchSize?, maxPending?, limit? }
void EngineOptionsFromJs(const Napi::Value& value, EngineSpec* spec) {
  if (value.IsUndefined()) return;
  if (!value.IsObject()) throw InvalidArgType(value.Env(), "options must be an object");
  Napi::Object o = value.As<Napi::Object>();
  if (o.Has("batchSize")) spec->batchSize = UlongFromJs(o.Get("batchSize"), "batchSize", 1, 1024);
  if (o.Has("maxPending")) spec->maxPending = UlongFromJs(o.Get("maxPending"), "maxPending", 1, 1UL << 24);
  if (o.Has("limit")) spec->limit = CountFromJs(o.Get("limit"), "limit", 1, spec->sessions.size());
}

Napi::Error ThreadFailure(Napi::Env env, const std::system_error& e) {
  return AddonFailure(env, std::string("cannot start a signing engine thread: ") + e.what());
}

// Joins worker threads off the JS thread, then hands their sessions back. It holds only what it
// owns (the core, the worker records with their sessions, and the claims, which keep the
// NativeModule alive), never the engine's JS object: that one may be collected before OnOK.
class JoinOp : public Napi::AsyncWorker {
 public:
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  JoinOp(const Napi::Env& env, const char* name, std::shared_ptr<EngineCore> core,
         std::shared_ptr<SessionClaims> claims, WorkerList workers)
      : Napi::AsyncWorker(env, name),
        core_(std::move(core)),
        claims_(std::move(claims)),
        workers_(std::move(workers)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  void Execute() override {
    for (auto& w : workers_) w->Join();
  }

  // JS thread, after Execute: releases the sessions of the joined workers and returns them.
  std::vector<CK_SESSION_HANDLE> ReleaseSessions() {
    std::vector<CK_SESSION_HANDLE> sessions;
    for (auto& w : workers_) sessions.push_back(w->session);
    claims_->Release(sessions);
    return sessions;
  }

  std::shared_ptr<EngineCore> core_;
  std::shared_ptr<SessionClaims> claims_;
  WorkerList workers_;
  Napi::Promise::Deferred deferred_;
};

// close(): joins every worker, waits for retiring ones to make their last delivery, settles what
// finished during the stop and releases the sessions.
class CloseEngineOp : public JoinOp {
 public:
  CloseEngineOp(const Napi::Env& env, std::shared_ptr<EngineCore> core, std::shared_ptr<SessionClaims> claims,
                WorkerList workers)
      : JoinOp(env, "hsm-jwks:sign-engine-close", std::move(core), std::move(claims), std::move(workers)) {}

 private:
  void Execute() override {
    JoinOp::Execute();
    core_->WaitExited();  // workers a retirement still has to join deliver through the same function
  }
  void OnOK() override {
    core_->End();
    ReleaseSessions();
    deferred_.Resolve(Env().Undefined());
  }
};

// retireWorkers(): joins the retired workers and resolves with their sessions, released.
class RetireOp : public JoinOp {
 public:
  RetireOp(const Napi::Env& env, std::shared_ptr<EngineCore> core, std::shared_ptr<SessionClaims> claims,
           WorkerList workers)
      : JoinOp(env, "hsm-jwks:sign-engine-retire", std::move(core), std::move(claims), std::move(workers)) {}

 private:
  void OnOK() override {
    std::vector<CK_SESSION_HANDLE> sessions = ReleaseSessions();
    Napi::Array out = Napi::Array::New(Env(), sessions.size());
    for (uint32_t i = 0; i < sessions.size(); i++) out.Set(i, HandleToJs(Env(), sessions[i]));
    deferred_.Resolve(out);
  }
};

}  // namespace

Napi::Function SignEngineObject::DefineClass(Napi::Env env) {
  return ObjectWrap<SignEngineObject>::DefineClass(
      env, "NativeSignEngine",
      {
          InstanceMethod<&SignEngineObject::Sign>("sign"),
          InstanceMethod<&SignEngineObject::Stats>("stats"),
          InstanceMethod<&SignEngineObject::SetLimit>("setLimit"),
          InstanceMethod<&SignEngineObject::AddSessions>("addSessions"),
          InstanceMethod<&SignEngineObject::RetireWorkers>("retireWorkers"),
          InstanceMethod<&SignEngineObject::Close>("close"),
      });
}

Napi::Value SignEngineObject::Create(ModuleObject* owner, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EngineSpec spec;
  spec.module = owner->OpenModule(env);
  spec.lease = owner->lease();
  spec.generation = owner->generation();
  spec.sessions = SessionsFromJs(info[0], kMaxWorkers);
  EngineOptionsFromJs(info[1], &spec);
  if (spec.limit == 0) spec.limit = spec.sessions.size();
  spec.claims = std::make_shared<SessionClaims>(owner);
  spec.claims->Claim(env, spec.sessions);  // the engine owns its sessions: nothing else may use them
  try {
    AddonData* data = env.GetInstanceData<AddonData>();
    return data->signEngineConstructor.New({Napi::External<EngineSpec>::New(env, &spec)});
  } catch (const Napi::Error&) {
    spec.claims->Release(spec.sessions);
    throw;
  }
}

SignEngineObject::SignEngineObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SignEngineObject>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw InvalidArgType(env, "NativeSignEngine is created by NativeModule.createSignEngine()");
  }
  EngineSpec* spec = info[0].As<Napi::External<EngineSpec>>().Data();
  claims_ = spec->claims;
  core_ = std::make_shared<EngineCore>(spec->lease, spec->module, spec->batchSize, spec->maxPending, spec->limit,
                                       spec->generation);
  core_->Start(env);
  try {
    core_->AddWorkers(spec->sessions);
  } catch (const std::system_error& e) {
    core_->End();
    throw ThreadFailure(env, e);
  }
  Ref();  // not collectable while open: close() drops this reference
}

SignEngineObject::~SignEngineObject() {
  // Only at environment teardown (an open engine holds a reference to itself).
  if (!core_->Stopping()) core_->Shutdown();
}

void SignEngineObject::CheckOpen(Napi::Env env) const {
  if (core_->Stopping()) throw BindingError(env, Misuse::kEngineClosed);
}

// sign(key: bigint, mechanism, data: Uint8Array, signatureLength: number): Promise<Buffer>
Napi::Value SignEngineObject::Sign(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (core_->Full()) throw BindingError(env, Misuse::kQueueFull);
  auto r = std::make_unique<SignRequest>();
  r->key = HandleFromJs(info[0], "key");
  r->mechanism = Mechanism::FromJs(info[1]);
  Napi::Uint8Array data = BytesFromJs(info[2], "data");
  r->cap = UlongFromJs(info[3], "signatureLength", 1, 8192);
  Napi::Buffer<CK_BYTE> out = Napi::Buffer<CK_BYTE>::New(env, r->cap);
  r->in = data.Data();
  r->inLen = static_cast<CK_ULONG>(data.ByteLength());
  r->out = out.Data();
  r->input = Napi::Persistent(Napi::Value(data));
  r->output = Napi::Persistent(out);
  napi_value promise;
  napi_create_promise(env, &r->deferred, &promise);
  core_->Submit(r.release());
  return Napi::Value(env, promise);
}

Napi::Value ModuleObject::CreateSignEngine(const Napi::CallbackInfo& info) {
  return SignEngineObject::Create(this, info);
}

Napi::Value SignEngineObject::Stats(const Napi::CallbackInfo& info) { return core_->Stats(info.Env()); }

// setLimit(n: number): void. 1 <= n <= workers.
Napi::Value SignEngineObject::SetLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  core_->SetLimit(CountFromJs(info[0], "limit", 1, core_->WorkerCount()));
  return env.Undefined();
}

// addSessions(sessions: bigint[]): void. One more worker per session, claimed like the first ones;
// the limit is left as it is.
Napi::Value SignEngineObject::AddSessions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  claims_->owner()->OpenModule(env);  // ClosedError once the NativeModule is closing
  size_t room = kMaxWorkers - core_->WorkerCount();
  if (room == 0)
    throw InvalidArgValue(env, "the signing engine already has " + std::to_string(kMaxWorkers) + " workers");
  std::vector<CK_SESSION_HANDLE> sessions = SessionsFromJs(info[0], room);
  claims_->Claim(env, sessions);
  try {
    core_->AddWorkers(sessions);
  } catch (const std::system_error& e) {
    claims_->Release(sessions);
    throw ThreadFailure(env, e);
  }
  return env.Undefined();
}

// retireWorkers(n: number): Promise<bigint[]>. See EngineCore::TakeRetiring for which ones go.
Napi::Value SignEngineObject::RetireWorkers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  size_t n = CountFromJs(info[0], "count", 1, kMaxWorkers);  // more than there can be is an error
  auto* op = new RetireOp(env, core_, claims_, core_->TakeRetiring(n));
  Napi::Promise promise = op->Promise();
  op->Queue();
  return promise;
}

// close(): Promise<void>. Queued requests are rejected (ClosedError); running batches finish;
// the worker threads are joined; then the sessions may be closed by the caller.
Napi::Value SignEngineObject::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  auto* op = new CloseEngineOp(env, core_, claims_, core_->BeginStop(env));
  Unref();  // collectable from now on: the close operation does not refer to this object
  Napi::Promise promise = op->Promise();
  op->Queue();
  return promise;
}

}  // namespace hsm
