// setTls({ cert?, key?, extra?, trusted?, host? }) as the client SSL_CTX
// `openssl cmp -tls_*` builds: the peer verified when trust anchors are given.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "convert.h"

namespace cmp {

using SslCtxPtr = std::unique_ptr<SSL_CTX, Freer<SSL_CTX, SSL_CTX_free>>;

struct TlsOptions {
  SslCtxPtr ctx;
  std::string host;  // empty: the server's own name
};

TlsOptions TlsOptionsFromJs(Napi::Env env, Napi::Object o);

}  // namespace cmp
