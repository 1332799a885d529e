// Arguments of the native methods as the TypeScript facade passes them:
// checked by type, converted, or null when the caller passed null/undefined.
#pragma once

#include <napi.h>
#include <openssl/asn1.h>

#include <memory>
#include <string>

namespace cmp {

inline bool Nullish(const Napi::Value& v) { return v.IsNull() || v.IsUndefined(); }

// OpenSSL returns 1 on success, 0 or -1 on failure; the push0/push1
// functions pass on sk_push's count of elements.
void Check(Napi::Env env, int ok, const char* what);

int IntArg(const Napi::CallbackInfo& info, size_t i, const char* param);
bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* param);

// A nullable string argument: null for null/undefined.
std::unique_ptr<std::string> OptString(const Napi::CallbackInfo& info, size_t i, const char* param);
inline const char* CStr(const std::unique_ptr<std::string>& s) { return s ? s->c_str() : nullptr; }

// A function argument or null/undefined (an empty reference).
Napi::FunctionReference OptFunction(const Napi::CallbackInfo& info, size_t i, const char* param);

// The caller frees the result (ASN1_OCTET_STRING_free).
ASN1_OCTET_STRING* OctetsFromJs(const Napi::Value& v, const char* param);

}  // namespace cmp
