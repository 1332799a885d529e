// What the facade sets on this environment's addon instance: the CmpError
// class errors are made of, and the executor's thread cap.
#pragma once

#include <napi.h>

namespace cmp {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info);
Napi::Value SetMaxThreads(const Napi::CallbackInfo& info);
Napi::Value GetMaxThreads(const Napi::CallbackInfo& info);

}  // namespace cmp
