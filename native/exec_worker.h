// One CMP transaction, run on an executor thread and settled as a Promise.
#pragma once

#include <napi.h>

#include <memory>

#include "convert.h"
#include "ctx_state.h"
#include "executor.h"
#include "ossl_error.h"

namespace cmp {

enum class Transaction { CertReq, TryCertReq, RR, GENM, CaCerts, RootCaKeyUpdate, CertReqTemplate, CrlUpdate };

struct TransactionInput {
  Transaction kind = Transaction::CertReq;
  int reqType = 0;
  CrmfMsgPtr crm;
  X509Ptr cert;  // rootCaKeyUpdate: oldWithOld; crlUpdate: the certificate whose CRL is asked for
  CrlPtr lastCrl;
};

class ExecJob : public Job {
 public:
  ExecJob(Napi::Env env, std::shared_ptr<CtxState> state, Napi::Object owner, TransactionInput input);
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override;
  void Complete(Napi::Env env) override;
  void Abort() override { state_->Abort(); }

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

  std::shared_ptr<CtxState> state_;
  Napi::ObjectReference owner_;  // keeps the JS wrapper alive while in flight
  Napi::Promise::Deferred deferred_;
  TransactionInput input_;

  bool ok_ = false;
  bool done_ = true;  // tryCertReq: false while the server says "waiting"
  int checkAfter_ = 0;
  ItavStackPtr itavs_;
  X509StackPtr certs_;
  X509Ptr newWithNew_, newWithOld_, oldWithNew_;
  std::vector<unsigned char> template_, keySpec_, crl_;  // DER; empty: none sent
  ErrorInfo error_;
};

}  // namespace cmp
