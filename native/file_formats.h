// OpenSSL file formats Node's crypto does not read: OpenSSL config files
// (NCONF, so $var, .include and [default] behave as in OpenSSL) and PKCS#12.
#pragma once

#include <napi.h>

namespace cmp {

// readConfig(path) -> { [section]: { [name]: value } } with values expanded.
Napi::Value ReadConfig(const Napi::CallbackInfo& info);
// extensionsFromConfig(path, sections[]) -> DER Extensions, as X509V3_EXT_add_nconf_sk
// builds them from those config sections (openssl cmp -reqexts, -policies).
Napi::Value ExtensionsFromConfig(const Napi::CallbackInfo& info);
// parsePkcs12(der, passphrase) -> { key: DER PKCS#8 | null, cert: DER | null, ca: DER[] }
Napi::Value ParsePkcs12(const Napi::CallbackInfo& info);
// createPkcs12(keyDer, certDer, chainDers[], passphrase, name?) -> Promise<DER PKCS#12>
// with OpenSSL's default algorithms, made on libuv's pool.
Napi::Value CreatePkcs12(const Napi::CallbackInfo& info);

}  // namespace cmp
