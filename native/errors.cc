#include "errors.h"

#include <cstdio>
#include <initializer_list>
#include <string>

#include "module_object.h"
#include "module_registry.h"
#include "names.h"

namespace hsm {
namespace {

const ErrorClasses* Classes(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  return data != nullptr ? &data->errorClasses : nullptr;
}

// new cls(...args) (or cls(...args) for a factory): empty when the class was not handed over, when
// a JS exception is pending (it must not be swallowed), or when the constructor itself threw.
Napi::Value Make(Napi::Env env, Napi::FunctionReference ErrorClasses::*slot, std::initializer_list<napi_value> args,
                 bool construct = true) {
  const ErrorClasses* classes = Classes(env);
  if (classes == nullptr || (classes->*slot).IsEmpty() || env.IsExceptionPending()) return Napi::Value();
  try {
    Napi::Value v = construct ? Napi::Value((classes->*slot).New(args)) : (classes->*slot).Call(args);
    return v.IsObject() ? v : Napi::Value();
  } catch (const Napi::Error&) {
    return Napi::Value();  // the exception was taken off the environment with the Napi::Error
  }
}

Napi::Error WithCode(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

std::string CkrString(CK_RV rv, std::string* hexOut) {
  char hex[24];
  snprintf(hex, sizeof hex, "0x%08lx", rv);
  *hexOut = hex;
  const char* name = CkrName(rv);
  return name != nullptr ? name : std::string("CKR_UNKNOWN_") + hex;
}

struct MisuseEntry {
  const char* code;     // raw: the code of the plain Error
  const char* message;  // raw: its message
  Napi::FunctionReference ErrorClasses::*cls;
  const char* what;  // the constructor's argument, if it takes one
};

const MisuseEntry& Entry(Misuse what) {
  static const MisuseEntry kEntries[] = {
      {"ERR_HSM_CLOSED", "module is closed", &ErrorClasses::closed, "the PKCS#11 module"},
      {"ERR_HSM_CLOSED", "the signing engine is closed", &ErrorClasses::closed, "the signing engine"},
      {"ERR_HSM_CLOSED", "the signing engine was closed before this request ran", &ErrorClasses::closed,
       "the signing engine"},
      {"ERR_HSM_SESSION_BUSY", "session already has an operation in flight", &ErrorClasses::sessionBusy, nullptr},
      {"ERR_HSM_QUEUE_FULL", "the signing engine has maxPending requests unsettled", &ErrorClasses::queueFull,
       "the signing engine queue"},
      {"ERR_HSM_REINITIALIZED",
       "the module was re-initialised after this handle was made: find the session or key again",
       &ErrorClasses::reinitialized, nullptr},
      {"ERR_HSM_NOT_OWNER",
       "the module was initialised by another component of this process; it cannot be re-initialised here",
       &ErrorClasses::notOwner, nullptr},
      {"ERR_HSM_BUSY", "calls in flight did not end within the drain timeout; nothing was re-initialised",
       &ErrorClasses::busy, nullptr},
  };
  return kEntries[static_cast<int>(what)];
}

}  // namespace

Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  static const struct {
    const char* name;
    Napi::FunctionReference ErrorClasses::*slot;
  } kMembers[] = {
      {"Pkcs11Error", &ErrorClasses::pkcs11},
      {"ClosedError", &ErrorClasses::closed},
      {"ModuleReinitializedError", &ErrorClasses::reinitialized},
      {"QueueFullError", &ErrorClasses::queueFull},
      {"ModuleNotOwnedError", &ErrorClasses::notOwner},
      {"ModuleBusyError", &ErrorClasses::busy},
      {"SessionBusyError", &ErrorClasses::sessionBusy},
      {"ModuleLoadError", &ErrorClasses::moduleLoad},
      {"AddonFailureError", &ErrorClasses::addonFailure},
      {"invalidArgType", &ErrorClasses::argType},
      {"invalidArgValue", &ErrorClasses::argValue},
  };
  if (info.Length() < 1 || !info[0].IsObject()) throw InvalidArgType(env, "classes must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  ErrorClasses next;  // all or nothing
  for (const auto& m : kMembers) {
    Napi::Value v = o.Get(m.name);
    if (!v.IsFunction()) throw InvalidArgType(env, std::string("classes.") + m.name + " must be a function");
    next.*m.slot = Napi::Persistent(v.As<Napi::Function>());
  }
  env.GetInstanceData<AddonData>()->errorClasses = std::move(next);
  return env.Undefined();
}

Napi::Error Pkcs11Failure(Napi::Env env, CK_RV rv, const char* fn) {
  std::string hex;
  std::string ckr = CkrString(rv, &hex);
  Napi::Number rvJs = Napi::Number::New(env, static_cast<double>(rv));
  Napi::String fnJs = Napi::String::New(env, fn);
  Napi::String ckrJs = Napi::String::New(env, ckr);
  Napi::Value typed = Make(env, &ErrorClasses::pkcs11, {rvJs, fnJs, ckrJs});
  if (!typed.IsEmpty()) return Napi::Error(env, typed);
  Napi::Error e = Napi::Error::New(env, std::string(fn) + " failed: " + ckr + " (" + hex + ")");
  e.Set("rv", rvJs);
  e.Set("ckr", ckrJs);
  e.Set("fn", fnJs);
  return e;
}

Napi::Error BindingError(Napi::Env env, Misuse what) {
  const MisuseEntry& m = Entry(what);
  Napi::Value typed = m.what != nullptr ? Make(env, m.cls, {Napi::String::New(env, m.what)}) : Make(env, m.cls, {});
  if (!typed.IsEmpty()) return Napi::Error(env, typed);
  return WithCode(env, m.code, m.message);
}

Napi::Error StaleGeneration(Napi::Env env) { return BindingError(env, Misuse::kReinitialized); }

Napi::Error LoadError(Napi::Env env, const LoadFailure& failure, const std::string& path) {
  static const char* kReasons[] = {"none", "not-found", "not-pkcs11", "dlopen", "init"};
  static const char* kCodes[] = {"ERR_MODULE_LOAD_FAILED", "ERR_MODULE_NOT_FOUND", "ERR_MODULE_NOT_PKCS11",
                                 "ERR_MODULE_LOAD_FAILED", "ERR_MODULE_INIT_FAILED"};
  bool init = failure.kind == LoadFailure::kInit;
  Napi::Value cause = init ? Pkcs11Failure(env, failure.rv, failure.fn).Value() : env.Undefined();
  // For C_Initialize the detail is the PKCS#11 failure's message (its CKR name and value).
  std::string detail = init ? cause.As<Napi::Object>().Get("message").ToString().Utf8Value() : failure.detail;
  Napi::Value typed = Make(env, &ErrorClasses::moduleLoad,
                           {Napi::String::New(env, kCodes[failure.kind]), Napi::String::New(env, path),
                            Napi::String::New(env, detail), cause});
  if (!typed.IsEmpty()) return Napi::Error(env, typed);
  Napi::Error e = init ? Napi::Error(env, cause) : Napi::Error::New(env, failure.detail);
  e.Set("reason", Napi::String::New(env, kReasons[failure.kind]));
  e.Set("path", Napi::String::New(env, path));
  e.Set("detail", Napi::String::New(env, failure.detail));
  return e;
}

Napi::Error AddonFailure(Napi::Env env, const std::string& detail) {
  Napi::Value typed = Make(env, &ErrorClasses::addonFailure, {Napi::String::New(env, detail)});
  if (!typed.IsEmpty()) return Napi::Error(env, typed);
  return Napi::Error::New(env, detail);
}

Napi::TypeError InvalidArgType(Napi::Env env, const std::string& message) {
  Napi::Value typed = Make(env, &ErrorClasses::argType, {Napi::String::New(env, message)}, false);
  if (!typed.IsEmpty()) return Napi::TypeError(env, typed);
  Napi::TypeError e = Napi::TypeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  return e;
}

Napi::RangeError InvalidArgValue(Napi::Env env, const std::string& message) {
  Napi::Value typed = Make(env, &ErrorClasses::argValue, {Napi::String::New(env, message)}, false);
  if (!typed.IsEmpty()) return Napi::RangeError(env, typed);
  Napi::RangeError e = Napi::RangeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_VALUE"));
  return e;
}

}  // namespace hsm
