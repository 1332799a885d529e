#include "addon.h"

#include <openssl/crypto.h>
#include <openssl/objects.h>

#include <utility>

#include "cert_issuer.h"
#include "cmp_context.h"
#include "cmp_server.h"
#include "features.h"
#include "file_formats.h"
#include "proc_args.h"
#include "process_settings.h"
#include "ossl_error.h"

namespace cmp {

Addon::Addon(Napi::Env env, Napi::Object exports) : executor(Executor::Create(env)) {
  DefineAddon(exports, {InstanceMethod<&Addon::Marked<&Addon::SetErrorClass>>("setErrorClass"),
                       InstanceMethod<&Addon::Marked<&Addon::ObjectNid>>("objectNid"),
                       InstanceMethod<&Addon::Marked<&Addon::ObjectOid>>("objectOid"),
                       InstanceMethod<&Addon::Marked<&Addon::SetMaxThreads>>("setMaxThreads"),
                       InstanceMethod<&Addon::Marked<&Addon::GetMaxThreads>>("getMaxThreads")});
  exports.Set("CmpContext", CmpContext::Define(env));
  exports.Set("CmpServer", CmpServer::Define(env));
  using Fn = Napi::Value (*)(const Napi::CallbackInfo&);
  const std::pair<const char*, Fn> functions[] = {
      {"issueCertificate", cmp::Marked<IssueCertificate>},
      {"nameFromDer", cmp::Marked<NameFromDer>},
      {"nameToDer", cmp::Marked<NameToDer>},
      {"issueCrl", cmp::Marked<IssueCrl>},
      {"readConfig", cmp::Marked<ReadConfig>},
      {"parsePkcs12", cmp::Marked<ParsePkcs12>},
      {"createPkcs12", cmp::Marked<CreatePkcs12>},
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

Napi::Value Addon::SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowType(info.Env(), "errorClass must be a constructor");
  errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// Digest/MAC names for the *_ALGNID options, as OBJ_txt2nid resolves them.
Napi::Value Addon::ObjectNid(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) ThrowType(info.Env(), "name must be a string");
  return Napi::Number::New(info.Env(), OBJ_txt2nid(info[0].As<Napi::String>().Utf8Value().c_str()));
}

// Dotted OID of an object name or OID text, null when OpenSSL knows neither.
Napi::Value Addon::ObjectOid(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) ThrowType(info.Env(), "name must be a string");
  ASN1_OBJECT* obj = OBJ_txt2obj(info[0].As<Napi::String>().Utf8Value().c_str(), 0);
  if (obj == nullptr) return info.Env().Null();
  char buf[128];
  OBJ_obj2txt(buf, sizeof buf, obj, 1);
  ASN1_OBJECT_free(obj);
  return Napi::String::New(info.Env(), buf);
}

// The executor's per-lane thread cap for this environment.
Napi::Value Addon::SetMaxThreads(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) ThrowType(info.Env(), "maxThreads must be a number");
  double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= 4096) || n != static_cast<double>(static_cast<int64_t>(n))) {
    ThrowType(info.Env(), "maxThreads must be an integer from 1 to 4096");
  }
  executor->SetMaxThreads(static_cast<size_t>(n));
  return info.Env().Undefined();
}

Napi::Value Addon::GetMaxThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(executor->maxThreads()));
}

}  // namespace cmp

using CmpAddon = cmp::Addon;
NODE_API_ADDON(CmpAddon)
