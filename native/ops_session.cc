// Session management: C_OpenSession, C_CloseSession, C_GetSessionInfo, C_Login, C_Logout, C_InitPIN.
#include "async_op.h"
#include "convert.h"

namespace hsm {
namespace {

class OpenSessionOp : public AsyncOp {
 public:
  OpenSessionOp(ModuleObject* owner, const Napi::Env& env, CK_SLOT_ID slot, CK_FLAGS flags)
      : AsyncOp(owner, env, "hsm-jwks:openSession"), slot_(slot), flags_(flags) {}

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    // Always serial (the spec requires the flag); no notification callback.
    Ok(fl->C_OpenSession(slot_, flags_ | CKF_SERIAL_SESSION, nullptr, nullptr, &opened_), "C_OpenSession");
  }
  Napi::Value Result(Napi::Env env) override { return HandleToJs(env, opened_); }
  CK_SLOT_ID slot_;
  CK_FLAGS flags_;
  CK_SESSION_HANDLE opened_ = CK_INVALID_HANDLE;
};

// An op on one session with no result: C_CloseSession, C_Logout.
class SessionCallOp : public AsyncOp {
 public:
  using Call = CK_RV (*)(CK_FUNCTION_LIST*, CK_SESSION_HANDLE);
  SessionCallOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session, Call call, const char* fn)
      : AsyncOp(owner, env, fn), call_(call), name_(fn) {
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override { Ok(call_(fl, session_), name_); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  Call call_;
  const char* name_;
};

class SessionInfoOp : public AsyncOp {
 public:
  SessionInfoOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session)
      : AsyncOp(owner, env, "hsm-jwks:getSessionInfo") {
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override { Ok(fl->C_GetSessionInfo(session_, &info_), "C_GetSessionInfo"); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("slot", HandleToJs(env, info_.slotID));
    o.Set("state", UlongToJs(env, info_.state));
    o.Set("flags", UlongToJs(env, info_.flags));
    o.Set("deviceError", UlongToJs(env, info_.ulDeviceError));
    return o;
  }
  CK_SESSION_INFO info_{};
};

class LoginOp : public AsyncOp {
 public:
  LoginOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session, CK_USER_TYPE userType,
          Napi::Uint8Array pin)
      : AsyncOp(owner, env, "hsm-jwks:login"), userType_(userType), pin_(pin.Data()), pinLen_(pin.ByteLength()) {
    Pin(pin);  // the caller's buffer is used in place (never copied) and may be zeroed afterwards
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    Ok(fl->C_Login(session_, userType_, pin_, static_cast<CK_ULONG>(pinLen_)), "C_Login");
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  CK_USER_TYPE userType_;
  CK_UTF8CHAR* pin_;
  size_t pinLen_;
};

// C_InitPIN: sets the user PIN, in a read/write session logged in as the SO. The PIN buffer is
// used in place (pinned, never copied).
class InitPinOp : public AsyncOp {
 public:
  InitPinOp(ModuleObject* owner, const Napi::Env& env, CK_SESSION_HANDLE session, Napi::Uint8Array pin)
      : AsyncOp(owner, env, "hsm-jwks:initPin"), pin_(pin.Data()), pinLen_(pin.ByteLength()) {
    Pin(pin);
    UseSession(session);
  }

 private:
  void Run(CK_FUNCTION_LIST* fl) override {
    Ok(fl->C_InitPIN(session_, pin_, static_cast<CK_ULONG>(pinLen_)), "C_InitPIN");
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  CK_UTF8CHAR* pin_;
  size_t pinLen_;
};

}  // namespace

Napi::Value ModuleObject::OpenSession(const Napi::CallbackInfo& info) {
  CK_SLOT_ID slot = HandleFromJs(info[0], "slot");
  CK_FLAGS flags = UlongFromJs(info[1], "flags");
  return (new OpenSessionOp(this, info.Env(), slot, flags))->Start();
}

Napi::Value ModuleObject::CloseSession(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  return (new SessionCallOp(
              this, info.Env(), session,
              [](CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE s) { return fl->C_CloseSession(s); }, "C_CloseSession"))
      ->Start();
}

Napi::Value ModuleObject::Logout(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  return (new SessionCallOp(
              this, info.Env(), session, [](CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE s) { return fl->C_Logout(s); },
              "C_Logout"))
      ->Start();
}

Napi::Value ModuleObject::GetSessionInfo(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  return (new SessionInfoOp(this, info.Env(), session))->Start();
}

Napi::Value ModuleObject::Login(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  CK_USER_TYPE userType = UlongFromJs(info[1], "userType");
  Napi::Uint8Array pin = BytesFromJs(info[2], "pin");
  return (new LoginOp(this, info.Env(), session, userType, pin))->Start();
}

Napi::Value ModuleObject::InitPin(const Napi::CallbackInfo& info) {
  CK_SESSION_HANDLE session = HandleFromJs(info[0], "session");
  Napi::Uint8Array pin = BytesFromJs(info[1], "pin");
  return (new InitPinOp(this, info.Env(), session, pin))->Start();
}

}  // namespace hsm
