// Per-environment state of the addon (one per Node environment, so the addon
// works in worker_threads): the error class handed over by the facade, the
// transaction executor.
#pragma once

#include <napi.h>

#include <memory>

#include "executor.h"
#include "js_link.h"
#include "ossl_error.h"

namespace cmp {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);

  Napi::FunctionReference errorClass;
  std::shared_ptr<Executor> executor;
  std::unique_ptr<AsyncRelay> relay;
};

}  // namespace cmp
