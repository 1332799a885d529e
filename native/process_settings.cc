#include "process_settings.h"

#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <atomic>

#include "convert.h"
#include "ossl_error.h"

namespace cmp {

namespace {
std::atomic<bool> providersTouched{false};
}  // namespace

bool ProvidersTouched() { return providersTouched.load(std::memory_order_relaxed); }

Napi::Value LoadProvider(const Napi::CallbackInfo& info) {
  std::string name = StringFromJs(info[0], "name");
  providersTouched = true;
  // Kept loaded for the life of the process, as the apps keep theirs.
  if (OSSL_PROVIDER_load(nullptr, name.c_str()) == nullptr) ThrowOssl(info.Env(), "unable to load provider " + name);
  return info.Env().Undefined();
}

Napi::Value SetProviderSearchPath(const Napi::CallbackInfo& info) {
  std::string path = StringFromJs(info[0], "path");
  if (!OSSL_PROVIDER_set_default_search_path(nullptr, path.c_str())) ThrowOssl(info.Env(), "cannot set provider path");
  return info.Env().Undefined();
}

Napi::Value SetDefaultProperties(const Napi::CallbackInfo& info) {
  std::string query = StringFromJs(info[0], "query");
  providersTouched = true;
  if (!EVP_set_default_properties(nullptr, query.c_str())) ThrowOssl(info.Env(), "cannot set property query " + query);
  return info.Env().Undefined();
}

Napi::Value RandLoadFile(const Napi::CallbackInfo& info) {
  std::string path = StringFromJs(info[0], "path");
  return Napi::Boolean::New(info.Env(), RAND_load_file(path.c_str(), -1) >= 0);
}

Napi::Value RandWriteFile(const Napi::CallbackInfo& info) {
  std::string path = StringFromJs(info[0], "path");
  return Napi::Boolean::New(info.Env(), RAND_write_file(path.c_str()) > 0);
}

}  // namespace cmp
