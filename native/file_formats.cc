#include "file_formats.h"

#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "convert.h"
#include "ossl_error.h"

namespace cmp {

Napi::Value ReadConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringFromJs(info[0], "path");
  std::unique_ptr<CONF, Freer<CONF, NCONF_free>> conf(NCONF_new_ex(nullptr, nullptr));
  if (!conf) ThrowOssl(env, "Cannot create a config object");
  long line = 0;
  if (NCONF_load(conf.get(), path.c_str(), &line) <= 0) {
    std::string where = line > 0 ? " (line " + std::to_string(line) + ")" : "";
    ThrowOssl(env, "Cannot load config file " + path + where);
  }
  Napi::Object out = Napi::Object::New(env);
  STACK_OF(OPENSSL_CSTRING)* names = NCONF_get_section_names(conf.get());
  for (int i = 0; i < sk_OPENSSL_CSTRING_num(names); i++) {
    const char* section = sk_OPENSSL_CSTRING_value(names, i);
    STACK_OF(CONF_VALUE)* values = NCONF_get_section(conf.get(), section);
    Napi::Object entries = Napi::Object::New(env);
    for (int j = 0; j < sk_CONF_VALUE_num(values); j++) {
      const CONF_VALUE* v = sk_CONF_VALUE_value(values, j);
      if (v->name != nullptr && v->value != nullptr) entries.Set(v->name, v->value);
    }
    out.Set(section, entries);
  }
  sk_OPENSSL_CSTRING_free(names);
  return out;
}

namespace {
void FreeExtensions(STACK_OF(X509_EXTENSION)* s) { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
using ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), Freer<STACK_OF(X509_EXTENSION), FreeExtensions>>;
}  // namespace

Napi::Value ExtensionsFromConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringFromJs(info[0], "path");
  if (!info[1].IsArray()) ThrowType(env, "sections must be an array of strings");
  std::unique_ptr<CONF, Freer<CONF, NCONF_free>> conf(NCONF_new_ex(nullptr, nullptr));
  long line = 0;
  if (!conf || NCONF_load(conf.get(), path.c_str(), &line) <= 0) ThrowOssl(env, "Cannot load config file " + path);
  ExtStackPtr owned(sk_X509_EXTENSION_new_null());
  if (!owned) ThrowOssl(env, "out of memory");
  STACK_OF(X509_EXTENSION)* exts = owned.get();
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, nullptr, nullptr, nullptr, nullptr, X509V3_CTX_REPLACE);
  X509V3_set_nconf(&v3, conf.get());
  Napi::Array sections = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < sections.Length(); i++) {
    std::string section = StringFromJs(sections.Get(i), "sections[]");
    if (!X509V3_EXT_add_nconf_sk(conf.get(), &v3, section.c_str(), &exts)) {
      ThrowOssl(env, "cannot load extension section '" + section + "'");
    }
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_EXTENSIONS(exts, &der);
  return DerToJs(env, len, der);
}

Napi::Value ParsePkcs12(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<unsigned char> der = BytesFromJs(info[0], "pkcs12");
  std::string pass = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  const unsigned char* p = der.data();
  std::unique_ptr<PKCS12, Freer<PKCS12, PKCS12_free>> p12(d2i_PKCS12(nullptr, &p, static_cast<long>(der.size())));
  if (!p12) ThrowOssl(env, "not a PKCS#12 file");
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* ca = nullptr;
  int ok = PKCS12_parse(p12.get(), pass.c_str(), &key, &cert, &ca);
  OPENSSL_cleanse(&pass[0], pass.size());
  if (!ok) ThrowOssl(env, "cannot decrypt or parse the PKCS#12 file (wrong pass phrase?)");
  PkeyPtr keyPtr(key);
  X509Ptr certPtr(cert);
  X509StackPtr caPtr(ca);
  Napi::Object out = Napi::Object::New(env);
  out.Set("key", KeyToJs(env, key, true));
  out.Set("cert", CertToJs(env, cert));
  out.Set("ca", CertsToJs(env, ca));
  return out;
}

namespace {
// PKCS12_create's key derivations (PBKDF2 for the bags, the PKCS#12 KDF for
// the MAC) take milliseconds per file: they run on libuv's pool.
class Pkcs12Writer : public Napi::AsyncWorker {
 public:
  Pkcs12Writer(Napi::Env env, std::vector<unsigned char> key, std::vector<unsigned char> cert,
               std::vector<std::vector<unsigned char>> chain, std::string pass, std::string name)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), key_(std::move(key)),
        cert_(std::move(cert)), chain_(std::move(chain)), pass_(std::move(pass)), name_(std::move(name)) {}
  ~Pkcs12Writer() override {
    OPENSSL_cleanse(pass_.data(), pass_.size());
    OPENSSL_cleanse(key_.data(), key_.size());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    const unsigned char* p = key_.data();
    PkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(key_.size())));
    p = cert_.data();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(cert_.size())));
    X509StackPtr chain(sk_X509_new_null());
    if (!key || !cert || !chain) return Fail("cannot read the key or certificate for the PKCS#12 file");
    for (const auto& der : chain_) {
      p = der.data();
      X509* c = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
      if (c == nullptr || !sk_X509_push(chain.get(), c)) {
        X509_free(c);
        return Fail("cannot read a chain certificate for the PKCS#12 file");
      }
    }
    // 0 everywhere: OpenSSL's defaults (PBES2 with AES-256-CBC, SHA-256 MAC)
    std::unique_ptr<PKCS12, Freer<PKCS12, PKCS12_free>> p12(PKCS12_create_ex(
        pass_.c_str(), name_.empty() ? nullptr : name_.c_str(), key.get(), cert.get(), chain.get(), 0, 0, 0, 0, 0, nullptr, nullptr));
    if (!p12) return Fail("cannot make the PKCS#12 file");
    unsigned char* der = nullptr;
    int len = i2d_PKCS12(p12.get(), &der);
    if (len <= 0) return Fail("cannot encode the PKCS#12 file");
    out_.assign(der, der + len);
    OPENSSL_free(der);
  }
  void OnOK() override { deferred_.Resolve(Napi::Buffer<unsigned char>::Copy(Env(), out_.data(), out_.size())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  void Fail(const std::string& message) {
    ERR_clear_error();
    SetError(message);
  }
  Napi::Promise::Deferred deferred_;
  std::vector<unsigned char> key_, cert_;
  std::vector<std::vector<unsigned char>> chain_;
  std::string pass_, name_;
  std::vector<unsigned char> out_;
};
}  // namespace

Napi::Value CreatePkcs12(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<unsigned char> key = BytesFromJs(info[0], "key");
  std::vector<unsigned char> cert = BytesFromJs(info[1], "cert");
  if (!info[2].IsArray()) ThrowType(env, "chain must be an array of DER certificates");
  Napi::Array list = info[2].As<Napi::Array>();
  std::vector<std::vector<unsigned char>> chain;
  for (uint32_t i = 0; i < list.Length(); i++) chain.push_back(BytesFromJs(list.Get(i), "chain[]"));
  std::string pass = StringFromJs(info[3], "passphrase");
  std::string name = info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  auto* worker = new Pkcs12Writer(env, std::move(key), std::move(cert), std::move(chain), std::move(pass), std::move(name));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace cmp
