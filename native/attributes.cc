#include "attributes.h"

#include <cstring>
#include <string>

#include "convert.h"
#include "errors.h"
#include "names.h"

namespace hsm {
namespace {

std::string Hex(CK_ULONG v) {
  char buf[32];
  snprintf(buf, sizeof buf, "0x%lx", v);
  return buf;
}

AttrKind KindOrThrow(Napi::Env env, CK_ATTRIBUTE_TYPE type) {
  AttrKind kind;
  if (!AttributeKind(type, &kind)) {
    throw InvalidArgValue(env, "attribute type " + Hex(type) + " is not in the codec table");
  }
  return kind;
}

std::vector<unsigned char> Encode(const Napi::Value& v, CK_ATTRIBUTE_TYPE type, AttrKind kind) {
  Napi::Env env = v.Env();
  std::string what = "attribute " + Hex(type);
  switch (kind) {
    case AttrKind::kBool: {
      if (!v.IsBoolean()) throw InvalidArgType(env, what + " must be a boolean");
      return {v.As<Napi::Boolean>().Value() ? CK_TRUE : CK_FALSE};
    }
    case AttrKind::kUlong: {
      CK_ULONG n = UlongFromJs(v, what.c_str());
      std::vector<unsigned char> out(sizeof n);
      std::memcpy(out.data(), &n, sizeof n);
      return out;
    }
    case AttrKind::kBytes: {
      Napi::Uint8Array bytes = BytesFromJs(v, what.c_str());
      return std::vector<unsigned char>(bytes.Data(), bytes.Data() + bytes.ByteLength());
    }
    case AttrKind::kUtf8: {
      if (!v.IsString()) throw InvalidArgType(env, what + " must be a string");
      std::string s = v.As<Napi::String>().Utf8Value();
      return std::vector<unsigned char>(s.begin(), s.end());
    }
    case AttrKind::kUlongArray: {
      if (!v.IsArray()) throw InvalidArgType(env, what + " must be an array of numbers");
      Napi::Array arr = v.As<Napi::Array>();
      std::vector<unsigned char> out(arr.Length() * sizeof(CK_ULONG));
      for (uint32_t i = 0; i < arr.Length(); i++) {
        CK_ULONG n = UlongFromJs(arr.Get(i), what.c_str());
        std::memcpy(out.data() + i * sizeof n, &n, sizeof n);
      }
      return out;
    }
  }
  return {};
}

// Reads one attribute on its own: the fallback for modules that fail a whole template.
CK_RV ReadOne(CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, AttributeReading* r) {
  CK_ATTRIBUTE a = {r->type, nullptr, 0};
  CK_RV rv = fl->C_GetAttributeValue(s, o, &a, 1);
  if (rv == CKR_ATTRIBUTE_SENSITIVE) {
    r->status = AttributeReading::kSensitive;
    return CKR_OK;
  }
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID) {
    r->status = AttributeReading::kInvalid;
    return CKR_OK;
  }
  if (rv != CKR_OK) return rv;
  if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    r->status = AttributeReading::kUnavailable;
    return CKR_OK;
  }
  r->value.resize(a.ulValueLen);
  a.pValue = r->value.empty() ? nullptr : r->value.data();
  if (r->value.empty()) {
    r->status = AttributeReading::kValue;
    return CKR_OK;
  }
  rv = fl->C_GetAttributeValue(s, o, &a, 1);
  if (rv != CKR_OK) return rv;
  r->value.resize(a.ulValueLen);
  r->status = AttributeReading::kValue;
  return CKR_OK;
}

CK_RV ReadEachAlone(CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                    std::vector<AttributeReading>* readings) {
  for (auto& r : *readings) {
    r.value.clear();
    CK_RV rv = ReadOne(fl, s, o, &r);
    if (rv != CKR_OK) return rv;
  }
  return CKR_OK;
}

bool IsPerAttributeError(CK_RV rv) {
  return rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL;
}

}  // namespace

AttributeTemplate AttributeTemplate::FromJs(const Napi::Value& value, const char* what) {
  Napi::Env env = value.Env();
  if (!value.IsArray()) {
    throw InvalidArgType(env, std::string(what) + " must be an array of [type, value]");
  }
  Napi::Array arr = value.As<Napi::Array>();
  AttributeTemplate t;
  t.storage_.reserve(arr.Length());  // no reallocation: pointers into storage_ stay valid
  t.attrs_.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value entry = arr.Get(i);
    if (!entry.IsArray() || entry.As<Napi::Array>().Length() != 2) {
      throw InvalidArgType(env, std::string(what) + " entries must be [type, value] pairs");
    }
    Napi::Array pair = entry.As<Napi::Array>();
    CK_ATTRIBUTE_TYPE type = UlongFromJs(pair.Get(0u), "attribute type");
    AttrKind kind = KindOrThrow(env, type);
    t.storage_.push_back(Encode(pair.Get(1u), type, kind));
    std::vector<unsigned char>& bytes = t.storage_.back();
    t.attrs_.push_back({type, bytes.empty() ? nullptr : bytes.data(), static_cast<CK_ULONG>(bytes.size())});
  }
  return t;
}

std::vector<CK_ATTRIBUTE_TYPE> AttributeTypesFromJs(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsArray()) throw InvalidArgType(env, "attribute types must be an array");
  Napi::Array arr = value.As<Napi::Array>();
  std::vector<CK_ATTRIBUTE_TYPE> types;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    CK_ATTRIBUTE_TYPE type = UlongFromJs(arr.Get(i), "attribute type");
    KindOrThrow(env, type);
    types.push_back(type);
  }
  return types;
}

CK_RV ReadAttributes(CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                     std::vector<AttributeReading>* readings) {
  std::vector<CK_ATTRIBUTE> t(readings->size());
  for (size_t i = 0; i < t.size(); i++) t[i] = {(*readings)[i].type, nullptr, 0};
  // Pass 1: lengths of the whole template in one call.
  CK_RV rv = fl->C_GetAttributeValue(session, object, t.data(), static_cast<CK_ULONG>(t.size()));
  if (IsPerAttributeError(rv)) return ReadEachAlone(fl, session, object, readings);
  if (rv != CKR_OK) return rv;
  for (size_t i = 0; i < t.size(); i++) {
    AttributeReading& r = (*readings)[i];
    if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION) {
      r.status = AttributeReading::kUnavailable;
      t[i].ulValueLen = 0;
    } else {
      r.status = AttributeReading::kValue;
      r.value.resize(t[i].ulValueLen);
      t[i].pValue = r.value.empty() ? nullptr : r.value.data();
    }
  }
  // Pass 2: the values. Attributes with nothing to fetch are left out of the call.
  std::vector<CK_ATTRIBUTE> fetch;
  std::vector<size_t> index;
  for (size_t i = 0; i < t.size(); i++) {
    if (t[i].pValue != nullptr) {
      fetch.push_back(t[i]);
      index.push_back(i);
    }
  }
  if (fetch.empty()) return CKR_OK;
  rv = fl->C_GetAttributeValue(session, object, fetch.data(), static_cast<CK_ULONG>(fetch.size()));
  if (IsPerAttributeError(rv)) return ReadEachAlone(fl, session, object, readings);
  if (rv != CKR_OK) return rv;
  for (size_t j = 0; j < fetch.size(); j++) (*readings)[index[j]].value.resize(fetch[j].ulValueLen);
  return CKR_OK;
}

Napi::Value ReadingsToJs(Napi::Env env, const std::vector<AttributeReading>& readings) {
  Napi::Array out = Napi::Array::New(env, readings.size());
  for (size_t i = 0; i < readings.size(); i++) {
    const AttributeReading& r = readings[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", UlongToJs(env, r.type));
    AttrKind kind = AttrKind::kBytes;
    AttributeKind(r.type, &kind);
    const char* absent = nullptr;
    switch (r.status) {
      case AttributeReading::kSensitive:
        absent = "sensitive";
        break;
      case AttributeReading::kInvalid:
        absent = "invalid";
        break;
      case AttributeReading::kUnavailable:
        absent = "unavailable";
        break;
      case AttributeReading::kValue:
        break;
    }
    if (absent == nullptr) {
      switch (kind) {
        case AttrKind::kBool:
          if (r.value.size() != 1)
            absent = "unavailable";
          else
            o.Set("value", Napi::Boolean::New(env, r.value[0] != CK_FALSE));
          break;
        case AttrKind::kUlong: {
          CK_ULONG n = 0;
          if (r.value.size() != sizeof n) {
            absent = "unavailable";
            break;
          }
          std::memcpy(&n, r.value.data(), sizeof n);
          if (n == CK_UNAVAILABLE_INFORMATION)
            absent = "unavailable";
          else
            o.Set("value", UlongToJs(env, n));
          break;
        }
        case AttrKind::kBytes:
          o.Set("value", Napi::Buffer<unsigned char>::Copy(env, r.value.data(), r.value.size()));
          break;
        case AttrKind::kUtf8:
          o.Set("value", Napi::String::New(env, reinterpret_cast<const char*>(r.value.data()), r.value.size()));
          break;
        case AttrKind::kUlongArray: {
          size_t n = r.value.size() / sizeof(CK_ULONG);
          Napi::Array arr = Napi::Array::New(env, n);
          for (size_t k = 0; k < n; k++) {
            CK_ULONG m;
            std::memcpy(&m, r.value.data() + k * sizeof m, sizeof m);
            arr.Set(static_cast<uint32_t>(k), UlongToJs(env, m));
          }
          o.Set("value", arr);
          break;
        }
      }
    }
    if (absent != nullptr) o.Set("absent", Napi::String::New(env, absent));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace hsm
