#include "addon_settings.h"

#include "addon.h"
#include "ossl_error.h"

namespace cmp {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowType(info.Env(), "errorClass must be a constructor");
  info.Env().GetInstanceData<Addon>()->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// The executor's per-lane thread cap for this environment.
Napi::Value SetMaxThreads(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) ThrowType(info.Env(), "maxThreads must be a number");
  double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= 4096) || n != static_cast<double>(static_cast<int64_t>(n))) {
    ThrowType(info.Env(), "maxThreads must be an integer from 1 to 4096");
  }
  info.Env().GetInstanceData<Addon>()->executor->SetMaxThreads(static_cast<size_t>(n));
  return info.Env().Undefined();
}

Napi::Value GetMaxThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(info.Env().GetInstanceData<Addon>()->executor->maxThreads()));
}

}  // namespace cmp
