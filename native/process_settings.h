// Process-wide OpenSSL settings the openssl apps take as options: providers,
// default properties, random seed files.
#pragma once

#include <napi.h>

namespace cmp {

Napi::Value LoadProvider(const Napi::CallbackInfo& info);         // (name) -> void, throws
Napi::Value SetProviderSearchPath(const Napi::CallbackInfo& info);  // (path) -> void
Napi::Value SetDefaultProperties(const Napi::CallbackInfo& info);   // (query) -> void, throws
Napi::Value RandLoadFile(const Napi::CallbackInfo& info);           // (path) -> boolean
Napi::Value RandWriteFile(const Napi::CallbackInfo& info);          // (path) -> boolean
// Any thread: whether loadProvider or setDefaultProperties was ever called in this process.
bool ProvidersTouched();

}  // namespace cmp
