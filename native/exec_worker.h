// One CMP transaction, run on an executor thread and settled as a Promise.
#pragma once

#include <napi.h>

#include <memory>

#include "convert.h"
#include "ctx_state.h"
#include "ossl_error.h"
#include "promise_job.h"

namespace cmp {

enum class Transaction { CertReq, TryCertReq, RR, GENM, CaCerts, RootCaKeyUpdate, CertReqTemplate, CrlUpdate };

struct TransactionInput {
  Transaction kind = Transaction::CertReq;
  int reqType = 0;
  CrmfMsgPtr crm;
  X509Ptr cert;  // rootCaKeyUpdate: oldWithOld; crlUpdate: the certificate whose CRL is asked for
  CrlPtr lastCrl;
  std::string keySpec;  // certificate requests: a new key made on the transaction's thread (GenerateKey)
};

// Everything one transaction owns: what it was asked, what it produced, why
// it failed. Filled by the worker while it runs (callbacks reach it through
// CtxState::Running), read alone by Complete on the main thread; a callback
// that settles after its transaction ended finds the record gone (the JS side
// holds it weakly) and so cannot touch the next transaction's error.
struct TransactionRecord : CauseSlot {
  TransactionInput input;

  bool ok = false;
  bool done = true;  // tryCertReq: false while the server says "waiting"
  int checkAfter = 0;
  std::vector<unsigned char> newCert;  // DER of the enrolled certificate
  ItavStackPtr itavs;
  X509StackPtr certs;
  X509Ptr newWithNew, newWithOld, oldWithNew;
  std::vector<unsigned char> certTemplate, keySpec, crl;  // DER; empty: none sent
  ErrorInfo error;

  // Set by the worker when a JS callback failed the transaction.
  std::string callbackProblem;
  bool transferFailed = false;
  std::vector<unsigned char> badResponse;  // bytes a transport returned that were no PKIMessage
};

class ExecJob : public PromiseJob<CtxState> {
 public:
  ExecJob(Napi::Env env, std::shared_ptr<CtxState> state, Napi::Object owner, TransactionInput input);

  void Execute() override;
  void Complete(Napi::Env env) override;
  ~ExecJob() override;
  // Main thread: rejects the promise as aborted now, ahead of Execute.
  void SettleAborted(Napi::Env env);

 private:
  bool RunCertReq();
  // After an abort: withdraws a pending request at the server, briefly.
  void Farewell();
  bool RunCaCerts();
  bool RunRootCaKeyUpdate();
  bool RunCertReqTemplate();
  bool RunCrlUpdate();
  // OpenSSL 3.0 has no OSSL_CMP_get1_*: a genm with the info type's OID and
  // the matching ITAV of the genp, as 3.2+ does it.
  ItavPtr ExchangeGenm(const char* requestOid, ASN1_TYPE* requestValue, const char* expectedOid,
                       const char* desc);
  Napi::Value Result(Napi::Env env);
  void Fail();

  std::shared_ptr<TransactionRecord> txn_;
  bool settled_ = false;  // main thread
};

}  // namespace cmp
