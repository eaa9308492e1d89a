// Entry point: exports load(), setErrorClasses() and the NativeModule and NativeSignEngine classes.
// binding.d.ts declares exactly this.
#include <napi.h>

#include <string>

#include "errors.h"
#include "module_object.h"
#include "names.h"
#include "sign_engine.h"

namespace hsm {
namespace {

Napi::Value OptionalMember(const Napi::Object& o, const char* name) {
  return o.Has(name) ? o.Get(name) : o.Env().Undefined();
}

bool BoolOption(const Napi::Object& o, const char* name, bool fallback) {
  Napi::Value v = OptionalMember(o, name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) {
    throw InvalidArgType(o.Env(), std::string("options.") + name + " must be a boolean");
  }
  return v.As<Napi::Boolean>().Value();
}

class LoadOp : public Napi::AsyncWorker {
 public:
  LoadOp(const Napi::Env& env, std::string path, LoadOptions options)
      : Napi::AsyncWorker(env, "hsm-jwks:load"),
        path_(std::move(path)),
        options_(std::move(options)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 private:
  void Execute() override {
    module_ = AcquireModule(path_, options_, &failure_);
    if (module_ == nullptr) SetError("load");
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    deferred_.Resolve(ModuleObject::NewInstance(Env(), module_));
  }
  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    deferred_.Reject(LoadError(Env(), failure_, path_).Value());
  }

  std::string path_;
  LoadOptions options_;
  Napi::Promise::Deferred deferred_;
  LoadedModule* module_ = nullptr;
  LoadFailure failure_;
};

// load(path, { deepBind?, osLocking?, initArgs? }): Promise<NativeModule>
Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    throw InvalidArgType(env, "path must be a string");
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) {
    throw InvalidArgValue(env, "path must be a non-empty string without NUL");
  }
  LoadOptions options;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsObject()) throw InvalidArgType(env, "options must be an object");
    Napi::Object o = info[1].As<Napi::Object>();
    options.deepBind = BoolOption(o, "deepBind", true);
    options.osLocking = BoolOption(o, "osLocking", true);
    Napi::Value initArgs = OptionalMember(o, "initArgs");
    if (!initArgs.IsUndefined()) {
      if (!initArgs.IsString()) throw InvalidArgType(env, "options.initArgs must be a string");
      options.hasInitArgs = true;
      options.initArgs = initArgs.As<Napi::String>().Utf8Value();
    }
  }
  auto* op = new LoadOp(env, std::move(path), std::move(options));
  Napi::Promise promise = op->Promise();
  op->Queue();
  return promise;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted (and leases released) at environment teardown
  Napi::Function ctor = ModuleObject::DefineClass(env);
  data->moduleConstructor = Napi::Persistent(ctor);
  Napi::Function engine = SignEngineObject::DefineClass(env);
  data->signEngineConstructor = Napi::Persistent(engine);
  exports.Set("NativeSignEngine", engine);
  exports.Set("NativeModule", ctor);
  exports.Set("load", Napi::Function::New<Load>(env, "load"));
  exports.Set("setErrorClasses", Napi::Function::New<SetErrorClasses>(env, "setErrorClasses"));
  return exports;
}

}  // namespace hsm

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return hsm::Init(env, exports); }

NODE_API_MODULE(hsm_jwks, InitAddon)
