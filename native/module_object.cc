#include "module_object.h"

#include <algorithm>

#include "convert.h"
#include "errors.h"

namespace hsm {
namespace {

// The module-level operations (close, share, reinitialize): off the JS thread, settling a Promise.
class ModuleWorker : public Napi::AsyncWorker {
 public:
  // Queues the work; the Promise settles in OnOK.
  Napi::Promise Start() {
    Napi::Promise promise = deferred_.Promise();
    Queue();
    return promise;
  }

 protected:
  ModuleWorker(const Napi::Env& env, const char* name, std::shared_ptr<Lease> lease, LoadedModule* module)
      : Napi::AsyncWorker(env, name),
        lease_(std::move(lease)),
        module_(module),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  std::shared_ptr<Lease> lease_;
  LoadedModule* module_;
  Napi::Promise::Deferred deferred_;
};

// close(): waits for the calls in flight on this object, then drops its module reference.
class CloseOp : public ModuleWorker {
 public:
  CloseOp(const Napi::Env& env, std::shared_ptr<Lease> lease, LoadedModule* module)
      : ModuleWorker(env, "hsm-jwks:close", std::move(lease), module) {}

 private:
  void Execute() override {
    lease_->WaitIdle();
    rv_ = ReleaseModule(module_);
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (rv_ == CKR_OK) {
      deferred_.Resolve(Env().Undefined());
    } else {
      deferred_.Reject(Pkcs11Failure(Env(), rv_, "C_Finalize").Value());
    }
  }
  CK_RV rv_ = CKR_OK;
};

// share(): one more reference on the same loaded module, for a new NativeModule of its own.
class ShareOp : public ModuleWorker {
 public:
  ShareOp(const Napi::Env& env, std::shared_ptr<Lease> lease, LoadedModule* module)
      : ModuleWorker(env, "hsm-jwks:share", std::move(lease), module) {
    lease_->Enter();  // the module stays loaded until the new reference is taken
  }

 private:
  void Execute() override {
    ShareModule(module_);
    lease_->Leave();
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    deferred_.Resolve(ModuleObject::NewInstance(Env(), module_));
  }
};

// reinitialize(): see ReinitializeModule. This object keeps its generation (its handles stay
// refused); share() gives a NativeModule of the new one.
class ReinitializeOp : public ModuleWorker {
 public:
  ReinitializeOp(const Napi::Env& env, std::shared_ptr<Lease> lease, LoadedModule* module, uint64_t seen,
                 std::chrono::milliseconds drain)
      : ModuleWorker(env, "hsm-jwks:reinitialize", std::move(lease), module), seen_(seen), drain_(drain) {
    lease_->Enter();  // close() waits for the re-initialisation
  }

 private:
  void Execute() override {
    rv_ = ReinitializeModule(module_, seen_, drain_, &now_);
    lease_->Leave();
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (rv_ == CKR_OK) {
      deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(now_)));
    } else if (rv_ == CKR_FUNCTION_CANCELED) {
      deferred_.Reject(BindingError(Env(), Misuse::kDrainTimeout).Value());
    } else if (rv_ == CKR_FUNCTION_NOT_SUPPORTED) {
      deferred_.Reject(BindingError(Env(), Misuse::kNotOwner).Value());
    } else {
      deferred_.Reject(Pkcs11Failure(Env(), rv_, "C_Initialize").Value());
    }
  }
  uint64_t seen_;
  std::chrono::milliseconds drain_;
  CK_RV rv_ = CKR_OK;
  uint64_t now_ = 0;
};

}  // namespace

AddonData::~AddonData() {
  for (auto& lease : leases) {
    // Calls still running on the thread pool keep their module; it stays loaded (a leak, not a
    // crash) rather than being finalized under them.
    if (lease->module != nullptr && lease->Idle()) ReleaseModule(lease->module);
    lease->module = nullptr;
  }
}

Napi::Function ModuleObject::DefineClass(Napi::Env env) {
  return ObjectWrap<ModuleObject>::DefineClass(
      env, "NativeModule",
      {
          InstanceMethod<&ModuleObject::Describe>("describe"),
          InstanceMethod<&ModuleObject::GetInfo>("getInfo"),
          InstanceMethod<&ModuleObject::GetSlots>("getSlots"),
          InstanceMethod<&ModuleObject::GetTokenInfo>("getTokenInfo"),
          InstanceMethod<&ModuleObject::GetMechanisms>("getMechanisms"),
          InstanceMethod<&ModuleObject::InitToken>("initToken"),
          InstanceMethod<&ModuleObject::OpenSession>("openSession"),
          InstanceMethod<&ModuleObject::CloseSession>("closeSession"),
          InstanceMethod<&ModuleObject::GetSessionInfo>("getSessionInfo"),
          InstanceMethod<&ModuleObject::Login>("login"),
          InstanceMethod<&ModuleObject::Logout>("logout"),
          InstanceMethod<&ModuleObject::InitPin>("initPin"),
          InstanceMethod<&ModuleObject::FindObjects>("findObjects"),
          InstanceMethod<&ModuleObject::GetAttributes>("getAttributes"),
          InstanceMethod<&ModuleObject::GetAttributesMany>("getAttributesMany"),
          InstanceMethod<&ModuleObject::SetAttributes>("setAttributes"),
          InstanceMethod<&ModuleObject::CreateObject>("createObject"),
          InstanceMethod<&ModuleObject::GenerateKeyPair>("generateKeyPair"),
          InstanceMethod<&ModuleObject::DestroyObject>("destroyObject"),
          InstanceMethod<&ModuleObject::Sign>("sign"),
          InstanceMethod<&ModuleObject::SignSync>("signSync"),
          InstanceMethod<&ModuleObject::Verify>("verify"),
          InstanceMethod<&ModuleObject::Decrypt>("decrypt"),
          InstanceMethod<&ModuleObject::GenerateRandom>("generateRandom"),
          InstanceMethod<&ModuleObject::CreateSignEngine>("createSignEngine"),
          InstanceMethod<&ModuleObject::Share>("share"),
          InstanceMethod<&ModuleObject::Reinitialize>("reinitialize"),
          InstanceMethod<&ModuleObject::Close>("close"),
      });
}

Napi::Object ModuleObject::NewInstance(Napi::Env env, LoadedModule* module) {
  AddonData* data = env.GetInstanceData<AddonData>();
  auto& leases = data->leases;
  leases.erase(std::remove_if(leases.begin(), leases.end(),
                              [](const std::shared_ptr<Lease>& l) { return l->module == nullptr; }),
               leases.end());
  return data->moduleConstructor.New({Napi::External<LoadedModule>::New(env, module)});
}

ModuleObject::ModuleObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModuleObject>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw InvalidArgType(info.Env(), "NativeModule is created by load(), not by new");
  }
  lease_ = std::make_shared<Lease>(info[0].As<Napi::External<LoadedModule>>().Data());
  generation_ = lease_->module->generation.load();
  info.Env().GetInstanceData<AddonData>()->leases.push_back(lease_);
}

LoadedModule* ModuleObject::OpenModule(Napi::Env env) const {
  if (lease_->module == nullptr) throw BindingError(env, Misuse::kModuleClosed);
  return lease_->module;
}

void ModuleObject::ClaimSession(Napi::Env env, CK_SESSION_HANDLE session) {
  if (!busy_.insert(session).second) {
    throw BindingError(env, Misuse::kSessionBusy);
  }
}

Napi::Value ModuleObject::Describe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoadedModule* m = OpenModule(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", Napi::String::New(env, m->key));
  o.Set("functionListVersion", VersionToJs(env, m->version));
  o.Set("viaGetInterface", Napi::Boolean::New(env, m->viaGetInterface));
  o.Set("ownsInitialization", Napi::Boolean::New(env, m->ownsInit));
  o.Set("deepBind", Napi::Boolean::New(env, m->deepBind));
  o.Set("osLocking", Napi::Boolean::New(env, m->osLocking));
  o.Set("references", Napi::Number::New(env, ModuleReferences(m)));
  o.Set("generation", Napi::Number::New(env, static_cast<double>(generation_)));
  return o;
}

Napi::Value ModuleObject::Share(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return (new ShareOp(env, lease_, OpenModule(env)))->Start();
}

Napi::Value ModuleObject::Reinitialize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CK_ULONG drainMs = 10000;
  if (info.Length() > 0 && info[0].IsObject() && info[0].As<Napi::Object>().Has("drainTimeoutMs")) {
    drainMs = UlongFromJs(info[0].As<Napi::Object>().Get("drainTimeoutMs"), "drainTimeoutMs", 0, 600000);
  }
  return (new ReinitializeOp(env, lease_, OpenModule(env), generation_, std::chrono::milliseconds(drainMs)))->Start();
}

Napi::Value ModuleObject::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoadedModule* m = OpenModule(env);
  lease_->module = nullptr;  // new calls are refused from now on
  return (new CloseOp(env, lease_, m))->Start();
}

}  // namespace hsm
