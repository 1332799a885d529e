#include "addon.h"

#include <openssl/crypto.h>

#include <utility>

#include "addon_settings.h"
#include "cert_issuer.h"
#include "cmp_context.h"
#include "cmp_server.h"
#include "features.h"
#include "durable_files.h"
#include "file_formats.h"
#include "object_names.h"
#include "ossl_error.h"
#include "proc_args.h"
#include "process_settings.h"

namespace cmp {

Addon::Addon(Napi::Env env, Napi::Object exports) : executor(Executor::Create(env)), relay(std::make_unique<AsyncRelay>(env)) {
  exports.Set("CmpContext", CmpContext::Define(env));
  exports.Set("CmpServer", CmpServer::Define(env));
  using Fn = Napi::Value (*)(const Napi::CallbackInfo&);
  const std::pair<const char*, Fn> functions[] = {
      {"setErrorClass", cmp::Marked<SetErrorClass>},
      {"objectNid", cmp::Marked<ObjectNid>},
      {"objectOid", cmp::Marked<ObjectOid>},
      {"setMaxThreads", cmp::Marked<SetMaxThreads>},
      {"getMaxThreads", cmp::Marked<GetMaxThreads>},
      {"issueCertificate", cmp::Marked<IssueCertificate>},
      {"certIssuer", cmp::Marked<CertIssuer>},
      {"nameFromDer", cmp::Marked<NameFromDer>},
      {"nameToDer", cmp::Marked<NameToDer>},
      {"issueCrl", cmp::Marked<IssueCrl>},
      {"readConfig", cmp::Marked<ReadConfig>},
      {"parsePkcs12", cmp::Marked<ParsePkcs12>},
      {"createPkcs12", cmp::Marked<CreatePkcs12>},
      {"writeFilesDurably", cmp::Marked<WriteFilesDurably>},
      {"loadProvider", cmp::Marked<LoadProvider>},
      {"setProviderSearchPath", cmp::Marked<SetProviderSearchPath>},
      {"setDefaultProperties", cmp::Marked<SetDefaultProperties>},
      {"randLoadFile", cmp::Marked<RandLoadFile>},
      {"randWriteFile", cmp::Marked<RandWriteFile>},
      {"extensionsFromConfig", cmp::Marked<ExtensionsFromConfig>},
      {"blankArgs", cmp::Marked<BlankArgs>},
  };
  for (const auto& [name, fn] : functions) exports.Set(name, Napi::Function::New(env, fn, name));
  exports.Set("opensslVersion", OpenSSL_version(OPENSSL_VERSION));
  exports.Set("features", GetFeatures().ToJs(env));
  // Threads must be gone before the environment (and this instance) is.
  env.AddCleanupHook([this] { executor->Shutdown(); });
}

}  // namespace cmp

using CmpAddon = cmp::Addon;
NODE_API_ADDON(CmpAddon)
