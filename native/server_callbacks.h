// The OpenSSL server callbacks (OSSL_CMP_SRV_CTX_init) of a CmpServer: each
// asks the JS dispatcher on the main thread and waits for its answer on the
// worker thread; and OpenSSL's log lines, sent to the JS log hook.
#pragma once

#include <openssl/cmp.h>

#include "cmp_server.h"

namespace cmp {

OSSL_CMP_PKISI* CertReqCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, int certReqId, const OSSL_CRMF_MSG* crm,
                          const X509_REQ* p10cr, X509** certOut, STACK_OF(X509)** chainOut, STACK_OF(X509)** caPubs);
int PollReqCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, int certReqId, OSSL_CMP_MSG** certReq,
              int64_t* checkAfter);
OSSL_CMP_PKISI* RrCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, const X509_NAME* issuer,
                     const ASN1_INTEGER* serial);
int GenmCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, const STACK_OF(OSSL_CMP_ITAV)* in,
           STACK_OF(OSSL_CMP_ITAV)** out);
void ErrorCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, const OSSL_CMP_PKISI* si, const ASN1_INTEGER* code,
             const OSSL_CMP_PKIFREETEXT* details);
int CertConfCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, int certReqId, const ASN1_OCTET_STRING* certHash,
               const OSSL_CMP_PKISI* si);

// Never to stdout/stderr: lines go to the JS log hook of the server named by
// LogTo on this thread, or nowhere.
int ServerLog(const char* component, const char* file, int line, OSSL_CMP_severity level, const char* message);

// The server whose request this thread is processing, for ServerLog: OpenSSL's
// log callback has no argument that could carry it.
struct LogTo {
  explicit LogTo(ServerState* s);
  ~LogTo();
};

}  // namespace cmp
