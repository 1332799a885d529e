#include "tls_options.h"

#include "js_args.h"
#include "ossl_error.h"

namespace cmp {

TlsOptions TlsOptionsFromJs(Napi::Env env, Napi::Object o) {
  SslCtxPtr tls(SSL_CTX_new(TLS_client_method()));
  if (!tls) ThrowOssl(env, "Cannot create a TLS context");
  Napi::Value trusted = o.Get("trusted");
  if (!Nullish(trusted)) {
    X509StorePtr store = StoreFromJs(trusted, "tls.trusted");
    SSL_CTX_set_cert_store(tls.get(), store.release());
    SSL_CTX_set_verify(tls.get(), SSL_VERIFY_PEER, nullptr);
  }
  Napi::Value cert = o.Get("cert");
  Napi::Value key = o.Get("key");
  if (!Nullish(cert)) {
    X509Ptr c = CertFromJs(cert, "tls.cert");
    if (SSL_CTX_use_certificate(tls.get(), c.get()) != 1) ThrowOssl(env, "tls.cert cannot be used");
  }
  if (!Nullish(key)) {
    PkeyPtr k = KeyFromJs(key, true, "tls.key");
    if (SSL_CTX_use_PrivateKey(tls.get(), k.get()) != 1) ThrowOssl(env, "tls.key cannot be used");
    if (!Nullish(cert) && SSL_CTX_check_private_key(tls.get()) != 1) ThrowOssl(env, "tls.key does not match tls.cert");
  }
  Napi::Value extra = o.Get("extra");
  if (!Nullish(extra)) {
    X509StackPtr certs = CertsFromJs(extra, "tls.extra");
    for (int i = 0; i < sk_X509_num(certs.get()); i++) {
      if (SSL_CTX_add1_chain_cert(tls.get(), sk_X509_value(certs.get(), i)) != 1) ThrowOssl(env, "tls.extra cannot be used");
    }
  }
  Napi::Value host = o.Get("host");
  return {std::move(tls), Nullish(host) ? "" : StringFromJs(host, "tls.host")};
}

}  // namespace cmp
