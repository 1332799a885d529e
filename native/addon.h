// Per-environment state of the addon (one per Node environment, so the addon
// works in worker_threads): the error class handed over by the facade, the
// transaction executor.
#pragma once

#include <napi.h>

#include <memory>

#include "executor.h"
#include "ossl_error.h"

namespace cmp {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);

  Napi::FunctionReference errorClass;
  std::shared_ptr<Executor> executor;

 private:
  CMP_MARKED_METHODS(Addon)
  Napi::Value SetErrorClass(const Napi::CallbackInfo& info);
  Napi::Value ObjectNid(const Napi::CallbackInfo& info);
  Napi::Value ObjectOid(const Napi::CallbackInfo& info);
  Napi::Value SetMaxThreads(const Napi::CallbackInfo& info);
  Napi::Value GetMaxThreads(const Napi::CallbackInfo& info);
};

}  // namespace cmp
