// The C callbacks OpenSSL's CMP client takes as function pointers, bridged to
// JS functions (transfer, certConf, log) and to OpenSSL's own HTTP client
// (TCP_NODELAY, TLS, abort).
#pragma once

#include <openssl/cmp.h>

namespace cmp {

class CtxState;

struct Bridges {
  // Installs the log, HTTP and transfer callbacks on a new context.
  static void Install(CtxState* state);
  // Picks the transfer function for the state's transport and message files.
  static void SetTransfer(CtxState* state);
  static void SetCertConf(CtxState* state, bool js, X509_STORE* trusted);

  static int Log(const char* component, const char* file, int line, OSSL_CMP_severity level, const char* message);
  static BIO* Http(BIO* bio, void* arg, int connect, int detail);
  static OSSL_CMP_MSG* TransferHttp(OSSL_CMP_CTX* ctx, const OSSL_CMP_MSG* req);
  static OSSL_CMP_MSG* TransferJs(OSSL_CMP_CTX* ctx, const OSSL_CMP_MSG* req);
  // Around either of the two, as openssl cmp's -reqout/-rspout/-reqin/-rspin.
  static OSSL_CMP_MSG* TransferFiles(OSSL_CMP_CTX* ctx, const OSSL_CMP_MSG* req);
  static int CertConfJs(OSSL_CMP_CTX* ctx, X509* cert, int failInfo, const char** text);
};

}  // namespace cmp
