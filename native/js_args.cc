#include "js_args.h"

#include <vector>

#include "convert.h"
#include "ossl_error.h"

namespace cmp {

void Check(Napi::Env env, int ok, const char* what) {
  if (ok <= 0) ThrowOssl(env, what);
}

int IntArg(const Napi::CallbackInfo& info, size_t i, const char* param) {
  if (!info[i].IsNumber()) ThrowType(info.Env(), std::string(param) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int>(d))) {
    ThrowCode(info.Env(), "ERR_OUT_OF_RANGE", std::string(param) + " must be a 32-bit integer");
  }
  return static_cast<int>(d);
}

bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* param) {
  if (!info[i].IsBoolean()) ThrowType(info.Env(), std::string(param) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::unique_ptr<std::string> OptString(const Napi::CallbackInfo& info, size_t i, const char* param) {
  if (Nullish(info[i])) return nullptr;
  return std::make_unique<std::string>(StringFromJs(info[i], param));
}

Napi::FunctionReference OptFunction(const Napi::CallbackInfo& info, size_t i, const char* param) {
  if (Nullish(info[i])) return Napi::FunctionReference();
  if (!info[i].IsFunction()) ThrowType(info.Env(), std::string(param) + " must be a function or null");
  return Napi::Persistent(info[i].As<Napi::Function>());
}

ASN1_OCTET_STRING* OctetsFromJs(const Napi::Value& v, const char* param) {
  std::vector<unsigned char> bytes = BytesFromJs(v, param);
  ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
  if (os == nullptr || !ASN1_OCTET_STRING_set(os, bytes.data(), static_cast<int>(bytes.size()))) {
    ASN1_OCTET_STRING_free(os);
    ThrowOssl(v.Env(), "out of memory");
  }
  return os;
}

}  // namespace cmp
