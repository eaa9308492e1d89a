#include "mechanism.h"

#include <string>

#include "convert.h"
#include "errors.h"

namespace hsm {
namespace {

Napi::Value Member(const Napi::Object& o, const char* name) { return o.Has(name) ? o.Get(name) : o.Env().Undefined(); }

std::vector<unsigned char> CopyBytes(const Napi::Value& v, const char* what) {
  Napi::Uint8Array b = BytesFromJs(v, what);
  return std::vector<unsigned char>(b.Data(), b.Data() + b.ByteLength());
}

}  // namespace

Mechanism Mechanism::FromJs(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (value.IsNumber()) {  // the fast path: a mechanism without parameter, by its type alone
    Mechanism m;
    m.mech_.mechanism = UlongFromJs(value, "mechanism");
    return m;
  }
  if (!value.IsObject()) throw InvalidArgType(env, "mechanism must be an object or a mechanism type");
  Napi::Object o = value.As<Napi::Object>();
  Mechanism m;
  m.mech_.mechanism = UlongFromJs(Member(o, "type"), "mechanism.type");
  Napi::Value p = Member(o, "parameter");
  if (p.IsUndefined()) return m;
  if (!p.IsObject()) throw InvalidArgType(env, "mechanism.parameter must be an object");
  Napi::Object po = p.As<Napi::Object>();
  Napi::Value kindValue = Member(po, "kind");
  if (!kindValue.IsString()) throw InvalidArgType(env, "mechanism.parameter.kind must be a string");
  std::string kind = kindValue.As<Napi::String>().Utf8Value();
  if (kind == "pss") {
    m.param_ = Param::kPss;
    m.pss_.hashAlg = UlongFromJs(Member(po, "hashAlg"), "pss.hashAlg");
    m.pss_.mgf = UlongFromJs(Member(po, "mgf"), "pss.mgf");
    m.pss_.sLen = UlongFromJs(Member(po, "saltLength"), "pss.saltLength");
  } else if (kind == "oaep") {
    m.param_ = Param::kOaep;
    m.oaep_.hashAlg = UlongFromJs(Member(po, "hashAlg"), "oaep.hashAlg");
    m.oaep_.mgf = UlongFromJs(Member(po, "mgf"), "oaep.mgf");
    m.oaep_.source = CKZ_DATA_SPECIFIED;
    Napi::Value label = Member(po, "label");
    if (!label.IsUndefined()) m.bytes_ = CopyBytes(label, "oaep.label");
  } else if (kind == "raw") {
    m.param_ = Param::kRaw;
    m.bytes_ = CopyBytes(Member(po, "data"), "raw.data");
  } else {
    throw InvalidArgValue(env, "mechanism.parameter.kind must be 'pss', 'oaep' or 'raw'");
  }
  return m;
}

CK_MECHANISM* Mechanism::get() {
  switch (param_) {
    case Param::kNone:
      mech_.pParameter = nullptr;
      mech_.ulParameterLen = 0;
      break;
    case Param::kPss:
      mech_.pParameter = &pss_;
      mech_.ulParameterLen = sizeof pss_;
      break;
    case Param::kOaep:
      oaep_.pSourceData = bytes_.empty() ? nullptr : bytes_.data();
      oaep_.ulSourceDataLen = static_cast<CK_ULONG>(bytes_.size());
      mech_.pParameter = &oaep_;
      mech_.ulParameterLen = sizeof oaep_;
      break;
    case Param::kRaw:
      mech_.pParameter = bytes_.empty() ? nullptr : bytes_.data();
      mech_.ulParameterLen = static_cast<CK_ULONG>(bytes_.size());
      break;
  }
  return &mech_;
}

}  // namespace hsm
