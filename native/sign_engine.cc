#include "sign_engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>


#include "convert.h"
#include "errors.h"
#include "mechanism.h"

namespace hsm {

struct SignRequest {
  CK_OBJECT_HANDLE key;
  Mechanism mechanism;
  CK_BYTE* in;
  CK_ULONG inLen;
  CK_BYTE* out;
  CK_ULONG cap;
  CK_ULONG outLen = 0;
  CK_RV rv = CKR_OK;
  const char* fn = nullptr;  // set on failure
  bool stale = false;        // refused: the module was re-initialised after the engine's sessions were made
  napi_deferred deferred = nullptr;
  Napi::Reference<Napi::Value> input;               // pinned: read in place by the worker
  Napi::Reference<Napi::Buffer<CK_BYTE>> output;    // pinned: written in place by the worker
};

// Everything the worker threads and the JS thread share. Owned by a shared_ptr held by the JS
// object, the thread-safe function's context and the close worker, so it outlives all of them.
class EngineCore : public std::enable_shared_from_this<EngineCore> {
 public:
  EngineCore(std::shared_ptr<Lease> lease, LoadedModule* module, std::vector<CK_SESSION_HANDLE> sessions,
             size_t batchSize, size_t maxPending, uint64_t generation)
      : lease_(std::move(lease)), module_(module), sessions_(std::move(sessions)), batchSize_(batchSize),
        maxPending_(maxPending), generation_(generation) {}

  void Start(Napi::Env env) {
    env_ = env;
    auto self = shared_from_this();
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                          "hsm-jwks:sign-engine", 0, 1);
    tsfn_.Unref(env);  // an idle engine does not keep the process alive
    lease_->Enter();   // the module stays loaded until close() has joined the workers
    for (CK_SESSION_HANDLE s : sessions_) workers_.emplace_back([self, s] { self->Work(s); });
  }

  // JS thread: whether another request would exceed the bound on requests not yet settled.
  bool Full() const { return outstanding_ >= maxPending_; }

  // JS thread.
  void Submit(SignRequest* r) {
    if (outstanding_++ == 0) tsfn_.Ref(env_);
    {
      std::lock_guard<std::mutex> g(mutex_);
      queue_.push_back(r);
    }
    wake_.notify_one();
  }

  bool Stopping() const { return stopping_; }

  // JS thread: refuse new work; fail what has not started; the workers end after their batch.
  void BeginStop(Napi::Env env) {
    std::deque<SignRequest*> abandoned;
    {
      std::lock_guard<std::mutex> g(mutex_);
      stopping_ = true;
      abandoned.swap(queue_);
    }
    wake_.notify_all();
    for (SignRequest* r : abandoned) {
      Napi::Error e = BindingError(env, "ERR_HSM_CLOSED", "the signing engine was closed before this request ran");
      napi_reject_deferred(env, r->deferred, e.Value());
      Finish(r);
    }
  }

  // Worker thread of the close operation (or the JS thread at environment teardown).
  void Join() {
    if (joined_.exchange(true)) return;
    for (auto& w : workers_) {
      if (w.joinable()) w.join();
    }
    lease_->Leave();
  }

  // Environment teardown without close(): stop the workers; nothing is settled any more.
  void Shutdown() {
    {
      std::lock_guard<std::mutex> g(mutex_);
      stopping_ = true;
      queue_.clear();
    }
    wake_.notify_all();
    Join();
  }

  // JS thread, after Join(): deliver what finished during the stop, then drop the function.
  void End() {
    Drain(env_);
    tsfn_.Release();
  }

  Napi::Object Stats(Napi::Env env) {
    std::lock_guard<std::mutex> g(mutex_);
    Napi::Object o = Napi::Object::New(env);
    o.Set("workers", Napi::Number::New(env, static_cast<double>(sessions_.size())));
    o.Set("batchSize", Napi::Number::New(env, static_cast<double>(batchSize_)));
    o.Set("queued", Napi::Number::New(env, static_cast<double>(queue_.size())));
    o.Set("outstanding", Napi::Number::New(env, static_cast<double>(outstanding_)));
    o.Set("batches", Napi::Number::New(env, static_cast<double>(batches_)));
    o.Set("completed", Napi::Number::New(env, static_cast<double>(completed_)));
    o.Set("idleMs", Napi::Number::New(env, static_cast<double>(idleNs_) / 1e6));
    o.Set("drains", Napi::Number::New(env, static_cast<double>(drains_)));
    o.Set("maxPending", Napi::Number::New(env, static_cast<double>(maxPending_)));
    return o;
  }

 private:
  void Work(CK_SESSION_HANDLE session) {
    std::vector<SignRequest*> batch;
    batch.reserve(batchSize_);
    for (;;) {
      {
        std::unique_lock<std::mutex> g(mutex_);
        auto w0 = std::chrono::steady_clock::now();
        wake_.wait(g, [this] { return stopping_ || !queue_.empty(); });
        idleNs_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - w0).count();
        if (queue_.empty()) return;  // stopping, and nothing left to do
        // A fair share, at most batchSize: with few requests queued every worker gets some (a
        // full batch on one worker would leave the others idle); with many, batches amortise the
        // hand-offs between threads.
        size_t share = (queue_.size() + sessions_.size() - 1) / sessions_.size();
        size_t n = std::min(batchSize_, std::max<size_t>(1, share));
        batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      }
      {
        GateHold gate(module_->gate);
        if (module_->generation.load() != generation_) {
          for (SignRequest* r : batch) r->stale = true;
        } else if (module_->serialize) {
          std::lock_guard<std::mutex> g(module_->callLock);
          for (SignRequest* r : batch) Run(session, r);
        } else {
          for (SignRequest* r : batch) Run(session, r);
        }
      }
      bool notify;
      {
        std::lock_guard<std::mutex> g(doneMutex_);
        done_.insert(done_.end(), batch.begin(), batch.end());
        notify = !notifyPending_;
        notifyPending_ = true;
        batches_++;
      }
      // One call delivers everything finished until the JS thread runs it.
      if (notify) {
        auto self = shared_from_this();
        tsfn_.NonBlockingCall([self](Napi::Env env, Napi::Function) { self->Drain(env); });
      }
      batch.clear();
    }
  }

  void Run(CK_SESSION_HANDLE session, SignRequest* r) {
    CK_FUNCTION_LIST* fl = module_->fl;
    CK_RV rv = fl->C_SignInit(session, r->mechanism.get(), r->key);
    if (rv != CKR_OK) {
      r->rv = rv;
      r->fn = "C_SignInit";
      return;
    }
    r->outLen = r->cap;
    rv = fl->C_Sign(session, r->in, r->inLen, r->out, &r->outLen);
    if (rv != CKR_OK) {
      r->rv = rv;
      r->fn = "C_Sign";
      // A failed C_Sign ends the operation, except CKR_BUFFER_TOO_SMALL, which leaves it active:
      // end it with a length query so the session is clean for the next request.
      if (rv == CKR_BUFFER_TOO_SMALL) {
        CK_ULONG need = 0;
        if (fl->C_Sign(session, r->in, r->inLen, nullptr, &need) == CKR_OK) {
          std::vector<CK_BYTE> scratch(need);
          fl->C_Sign(session, r->in, r->inLen, scratch.data(), &need);
        }
      }
    }
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
      } else if (r->fn == nullptr) {
        Napi::Value sig = r->outLen == r->cap ? Napi::Value(r->output.Value())
                                              : Napi::Value(Napi::Buffer<CK_BYTE>::Copy(env, r->out, r->outLen));
        napi_resolve_deferred(env, r->deferred, sig);
      } else {
        napi_reject_deferred(env, r->deferred, Pkcs11Failure(env, r->rv, r->fn).Value());
      }
      completed_++;
      Finish(r);
    }
  }

  void Finish(SignRequest* r) {
    delete r;  // drops the pins (JS thread)
    if (--outstanding_ == 0) tsfn_.Unref(env_);
  }

  std::shared_ptr<Lease> lease_;
  LoadedModule* module_;
  std::vector<CK_SESSION_HANDLE> sessions_;
  size_t batchSize_;
  size_t maxPending_;
  uint64_t generation_;
  Napi::Env env_ = Napi::Env(nullptr);
  Napi::ThreadSafeFunction tsfn_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<SignRequest*> queue_;
  bool stopping_ = false;
  std::atomic<bool> joined_{false};
  std::mutex doneMutex_;
  std::vector<SignRequest*> done_;
  bool notifyPending_ = false;
  size_t outstanding_ = 0;  // JS thread only
  size_t batches_ = 0;
  size_t completed_ = 0;    // JS thread only
  size_t drains_ = 0;
  long long idleNs_ = 0;
};

namespace {

struct EngineSpec {
  ModuleObject* owner;
  std::shared_ptr<Lease> lease;
  LoadedModule* module;
  std::vector<CK_SESSION_HANDLE> sessions;
  size_t batchSize;
  size_t maxPending;
};

class CloseEngineOp : public Napi::AsyncWorker {
 public:
  CloseEngineOp(const Napi::Env& env, std::shared_ptr<EngineCore> core, std::function<void()> onClosed)
      : Napi::AsyncWorker(env, "hsm-jwks:sign-engine-close"), core_(std::move(core)),
        onClosed_(std::move(onClosed)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 private:
  void Execute() override { core_->Join(); }
  void OnOK() override {
    core_->End();
    onClosed_();
    deferred_.Resolve(Env().Undefined());
  }
  std::shared_ptr<EngineCore> core_;
  std::function<void()> onClosed_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace

Napi::Function SignEngineObject::DefineClass(Napi::Env env) {
  return ObjectWrap<SignEngineObject>::DefineClass(env, "NativeSignEngine",
                                                   {
                                                       InstanceMethod<&SignEngineObject::Sign>("sign"),
                                                       InstanceMethod<&SignEngineObject::Stats>("stats"),
                                                       InstanceMethod<&SignEngineObject::Close>("close"),
                                                   });
}

Napi::Value SignEngineObject::Create(ModuleObject* owner, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoadedModule* module = owner->OpenModule(env);
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "sessions must be an array of bigint handles");
  Napi::Array list = info[0].As<Napi::Array>();
  if (list.Length() == 0 || list.Length() > 256) throw Napi::RangeError::New(env, "sessions must hold 1 to 256 handles");
  EngineSpec spec{owner, owner->lease(), module, {}, 16, 65536};
  for (uint32_t i = 0; i < list.Length(); i++) {
    CK_SESSION_HANDLE s = HandleFromJs(list.Get(i), "session");
    owner->ClaimSession(env, s);  // the engine owns its sessions: nothing else may use them
    spec.sessions.push_back(s);
  }
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    if (o.Has("batchSize")) {
      CK_ULONG n = UlongFromJs(o.Get("batchSize"), "batchSize");
      if (n < 1 || n > 1024) throw Napi::RangeError::New(env, "batchSize must be 1 to 1024");
      spec.batchSize = n;
    }
    if (o.Has("maxPending")) {
      CK_ULONG n = UlongFromJs(o.Get("maxPending"), "maxPending");
      if (n < 1 || n > (1UL << 24)) throw Napi::RangeError::New(env, "maxPending must be 1 to 16777216");
      spec.maxPending = n;
    }
  }
  AddonData* data = env.GetInstanceData<AddonData>();
  return data->signEngineConstructor.New({Napi::External<EngineSpec>::New(env, &spec)});
}

SignEngineObject::SignEngineObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SignEngineObject>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeSignEngine is created by NativeModule.createSignEngine()");
  }
  EngineSpec* spec = info[0].As<Napi::External<EngineSpec>>().Data();
  owner_ = spec->owner;
  ownerRef_ = Napi::Persistent(owner_->Value());
  sessions_ = spec->sessions;
  core_ = std::make_shared<EngineCore>(spec->lease, spec->module, spec->sessions, spec->batchSize, spec->maxPending,
                                       owner_->generation());
  core_->Start(info.Env());
  Ref();  // not collectable while open: close() drops this reference
}

SignEngineObject::~SignEngineObject() {
  // Only at environment teardown (an open engine holds a reference to itself).
  if (!closed_) core_->Shutdown();
}

// sign(key: bigint, mechanism, data: Uint8Array, signatureLength: number): Promise<Buffer>
Napi::Value SignEngineObject::Sign(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (core_->Stopping()) throw BindingError(env, "ERR_HSM_CLOSED", "the signing engine is closed");
  if (core_->Full()) throw BindingError(env, "ERR_HSM_QUEUE_FULL", "the signing engine has maxPending requests unsettled");
  CK_OBJECT_HANDLE key = HandleFromJs(info[0], "key");
  Mechanism mechanism = Mechanism::FromJs(info[1]);
  Napi::Uint8Array data = BytesFromJs(info[2], "data");
  CK_ULONG length = UlongFromJs(info[3], "signatureLength");
  if (length < 1 || length > 8192) throw Napi::RangeError::New(env, "signatureLength must be 1 to 8192");
  Napi::Buffer<CK_BYTE> out = Napi::Buffer<CK_BYTE>::New(env, length);
  auto* r = new SignRequest{key, std::move(mechanism), data.Data(), static_cast<CK_ULONG>(data.ByteLength()),
                            out.Data(), length, 0, CKR_OK, nullptr, false, nullptr, {}, {}};
  r->input = Napi::Persistent(Napi::Value(data));
  r->output = Napi::Persistent(out);
  napi_value promise;
  napi_create_promise(env, &r->deferred, &promise);
  core_->Submit(r);
  return Napi::Value(env, promise);
}

Napi::Value ModuleObject::CreateSignEngine(const Napi::CallbackInfo& info) {
  return SignEngineObject::Create(this, info);
}

Napi::Value SignEngineObject::Stats(const Napi::CallbackInfo& info) { return core_->Stats(info.Env()); }

// close(): Promise<void>. Queued requests are rejected (ERR_HSM_CLOSED); running batches finish;
// the worker threads are joined; then the sessions may be closed by the caller.
Napi::Value SignEngineObject::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (core_->Stopping()) throw BindingError(env, "ERR_HSM_CLOSED", "the signing engine is closed");
  core_->BeginStop(env);
  closed_ = true;
  Unref();
  auto* op = new CloseEngineOp(env, core_, [this] {
    // The sessions are the caller's again (to close them).
    for (CK_SESSION_HANDLE s : sessions_) owner_->ReleaseSession(s);
  });
  Napi::Promise promise = op->Promise();
  op->Queue();
  return promise;
}

}  // namespace hsm
