#include "addon.h"

#include <openssl/crypto.h>

#include "cmp_context.h"
#include "features.h"
#include "ossl_error.h"

namespace cmp {

Addon::Addon(Napi::Env env, Napi::Object exports) : executor(std::make_unique<Executor>(env)) {
  DefineAddon(exports, {InstanceMethod<&Addon::SetErrorClass>("setErrorClass")});
  exports.Set("CmpContext", CmpContext::Define(env));
  exports.Set("opensslVersion", OpenSSL_version(OPENSSL_VERSION));
  exports.Set("features", GetFeatures().ToJs(env));
  // Threads must be gone before the environment (and this instance) is.
  env.AddCleanupHook([this] { executor->Shutdown(); });
}

Napi::Value Addon::SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowType(info.Env(), "errorClass must be a constructor");
  errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace cmp

using CmpAddon = cmp::Addon;
NODE_API_ADDON(CmpAddon)
