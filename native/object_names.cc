#include "object_names.h"

#include <openssl/objects.h>

#include "ossl_error.h"

namespace cmp {

// Digest/MAC names for the *_ALGNID options, as OBJ_txt2nid resolves them.
Napi::Value ObjectNid(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) ThrowType(info.Env(), "name must be a string");
  return Napi::Number::New(info.Env(), OBJ_txt2nid(info[0].As<Napi::String>().Utf8Value().c_str()));
}

// Dotted OID of an object name or OID text, null when OpenSSL knows neither.
Napi::Value ObjectOid(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) ThrowType(info.Env(), "name must be a string");
  ASN1_OBJECT* obj = OBJ_txt2obj(info[0].As<Napi::String>().Utf8Value().c_str(), 0);
  if (obj == nullptr) return info.Env().Null();
  char buf[128];
  OBJ_obj2txt(buf, sizeof buf, obj, 1);
  ASN1_OBJECT_free(obj);
  return Napi::String::New(info.Env(), buf);
}

}  // namespace cmp
