#include "async_op.h"

#include "errors.h"

namespace hsm {

AsyncOp::AsyncOp(ModuleObject* owner, const Napi::Env& env, const char* name)
    : Napi::AsyncWorker(env, name),
      owner_(owner),
      ownerRef_(Napi::Persistent(owner->Value())),
      lease_(owner->lease()),
      module_(owner->OpenModule(env)),
      deferred_(Napi::Promise::Deferred::New(env)),
      generation_(owner->generation()) {}

AsyncOp::~AsyncOp() {
  if (claimed_) owner_->ReleaseSession(session_);
}

Napi::Promise AsyncOp::Start() {
  lease_->Enter();  // from here until Execute ends, close() waits for us
  Queue();
  return deferred_.Promise();
}

bool AsyncOp::Ok(CK_RV rv, const char* fn) {
  if (rv == CKR_OK) return true;
  if (fn_ == nullptr) {
    rv_ = rv;
    fn_ = fn;
  }
  return false;
}

void AsyncOp::Pin(const Napi::Value& value) { pins_.push_back(Napi::Persistent(value)); }

void AsyncOp::UseSession(CK_SESSION_HANDLE session) {
  owner_->ClaimSession(Env(), session);
  session_ = session;
  claimed_ = true;
}

void AsyncOp::Execute() {
  struct LeaveOnExit {  // also when Run throws (std::bad_alloc): close() must not wait forever
    Lease* lease;
    ~LeaveOnExit() { lease->Leave(); }
  } leave{lease_.get()};
  ModuleCall call(*module_, generation_, UsesHandles());
  if (call.stale()) {
    stale_ = true;
    SetError("stale");
    return;
  }
  Run(module_->fl);
  if (fn_ != nullptr) SetError("pkcs11");
}

void AsyncOp::Settle() {
  if (claimed_) {
    owner_->ReleaseSession(session_);
    claimed_ = false;
  }
}

void AsyncOp::OnOK() {
  Napi::HandleScope scope(Env());
  Settle();
  deferred_.Resolve(Result(Env()));
}

void AsyncOp::OnError(const Napi::Error& error) {
  Napi::HandleScope scope(Env());
  Settle();
  if (stale_) {
    deferred_.Reject(StaleGeneration(Env()).Value());
    return;
  }
  // fn_ is unset when Run threw a C++ exception (std::bad_alloc): the addon's own failure.
  deferred_.Reject(fn_ != nullptr ? Pkcs11Failure(Env(), rv_, fn_).Value()
                                  : AddonFailure(Env(), error.Message()).Value());
}

}  // namespace hsm
