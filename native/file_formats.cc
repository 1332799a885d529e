#include "file_formats.h"

#include <openssl/conf.h>
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

}  // namespace cmp
