#include "transfer_bridge.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "convert.h"
#include "ctx_state.h"
#include "exec_worker.h"
#include "issued_details.h"
#include "message_check.h"
#include "platform.h"
#include "read_ahead.h"

namespace cmp {

namespace {

constexpr int kSystemFailureBit = 1 << 25;  // PKIFailureInfo systemFailure

bool ToBytes(Napi::Value v, JsReply& r, std::string& problem) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    problem = "the transfer callback did not produce a Buffer";
    return false;
  }
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  r.bytes.assign(a.Data(), a.Data() + a.ByteLength());
  return true;
}

bool ToNumber(Napi::Value v, JsReply& r, std::string& problem) {
  if (!v.IsNumber()) {
    problem = "the certConf callback did not produce a number";
    return false;
  }
  r.number = v.As<Napi::Number>().Int32Value();
  return true;
}

}  // namespace

void Bridges::Install(CtxState* state) {
  OSSL_CMP_CTX* ctx = state->ctx();
  // Without a log callback OpenSSL prints to stdout; a library must not.
  OSSL_CMP_CTX_set_log_cb(ctx, Log);
  OSSL_CMP_CTX_set_http_cb(ctx, Http);
  SetTransfer(state);
}

void Bridges::SetTransfer(CtxState* state) {
  OSSL_CMP_CTX_set_transfer_cb(state->ctx(), state->files_.any() ? TransferFiles : state->jsTransfer_ ? TransferJs : TransferHttp);
}

namespace {

bool WriteMessage(std::vector<std::string>& files, const OSSL_CMP_MSG* msg) {
  if (files.empty()) return true;
  std::string file = files.front();
  files.erase(files.begin());
  if (OSSL_CMP_MSG_write(file.c_str(), msg) <= 0) {
    ERR_raise_data(ERR_LIB_CMP, CMP_R_INVALID_ARGS, "cannot write PKIMessage to file '%s'", file.c_str());
    return false;
  }
  return true;
}

OSSL_CMP_MSG* ReadMessage(std::vector<std::string>& files, const char* what) {
  std::string file = files.front();
  files.erase(files.begin());
  OSSL_CMP_MSG* msg = OSSL_CMP_MSG_read(file.c_str(), nullptr, nullptr);
  if (msg == nullptr) ERR_raise_data(ERR_LIB_CMP, CMP_R_INVALID_ARGS, "cannot read PKIMessage %s from file '%s'", what, file.c_str());
  return msg;
}

}  // namespace

OSSL_CMP_MSG* Bridges::TransferFiles(OSSL_CMP_CTX* ctx, const OSSL_CMP_MSG* req) {
  CtxState* self = CtxState::Current();
  if (self == nullptr) return nullptr;
  CtxState::MessageFiles& f = self->files_;
  if (req != nullptr && !WriteMessage(f.reqout, req)) return nullptr;
  OSSL_CMP_MSG* reqNew = nullptr;
  if (!f.reqin.empty() && f.rspin.empty()) {
    if ((reqNew = ReadMessage(f.reqin, "to send")) == nullptr) return nullptr;
    // a stored request's transactionID may be stale, and a follow-up needs
    // the current recipNonce: both mean re-protecting it, as openssl does
    if ((f.reqinNewTid && !OSSL_CMP_MSG_update_transactionID(ctx, reqNew)) || !OSSL_CMP_MSG_update_recipNonce(ctx, reqNew)) {
      OSSL_CMP_MSG_free(reqNew);
      return nullptr;
    }
  }
  bool replayed = !f.rspin.empty();
  OSSL_CMP_MSG* res = nullptr;
  if (replayed) {
    res = ReadMessage(f.rspin, "to use as response");
  } else {
    const OSSL_CMP_MSG* actual = reqNew != nullptr ? reqNew : req;
    res = self->jsTransfer_ ? TransferJs(ctx, actual) : TransferHttp(ctx, actual);
  }
  bool patch = reqNew != nullptr || replayed;
  OSSL_CMP_MSG_free(reqNew);
  if (res == nullptr) return nullptr;
  std::string why;
  if (replayed && !ProtectionAlgIsSafe(res, why)) {
    OSSL_CMP_MSG_free(res);
    ERR_raise_data(ERR_LIB_CMP, CMP_R_ERROR_VALIDATING_PROTECTION, "response refused: %s", why.c_str());
    return nullptr;
  }
  if (patch) {
    // what was replayed or sent instead must pass the client's nonce and transactionID checks
    const OSSL_CMP_PKIHEADER* hdr = OSSL_CMP_MSG_get0_header(res);
    if (!OSSL_CMP_CTX_set1_senderNonce(ctx, OSSL_CMP_HDR_get0_recipNonce(hdr)) ||
        !OSSL_CMP_CTX_set1_transactionID(ctx, OSSL_CMP_HDR_get0_transactionID(hdr))) {
      OSSL_CMP_MSG_free(res);
      return nullptr;
    }
  }
  if (!WriteMessage(f.rspout, res)) {
    OSSL_CMP_MSG_free(res);
    return nullptr;
  }
  return res;
}

void Bridges::SetCertConf(CtxState* state, bool js, X509_STORE* trusted) {
  OSSL_CMP_CTX* ctx = state->ctx();
  if (js) {
    OSSL_CMP_CTX_set_certConf_cb(ctx, CertConfJs);
    OSSL_CMP_CTX_set_certConf_cb_arg(ctx, nullptr);
  } else if (trusted != nullptr) {
    OSSL_CMP_CTX_set_certConf_cb(ctx, OSSL_CMP_certConf_cb);
    OSSL_CMP_CTX_set_certConf_cb_arg(ctx, trusted);
  } else {
    OSSL_CMP_CTX_set_certConf_cb(ctx, nullptr);
    OSSL_CMP_CTX_set_certConf_cb_arg(ctx, nullptr);
  }
}

int Bridges::Log(const char* component, const char* file, int line, OSSL_CMP_severity level, const char* message) {
  CtxState* self = CtxState::Current();
  if (self == nullptr || message == nullptr) return 1;
  if (self->logToJs.load()) {
    std::shared_ptr<CtxState> state = self->self();
    LogLine logged(component, file, line, static_cast<int>(level), message);
    state->Post([state, logged](Napi::Env env) {
      if (state->logFn.IsEmpty()) return;
      try {
        state->logFn.Call({logged.ToJs(env)});
      } catch (const Napi::Error& e) {
        // a throwing log callback must not take the transaction down
        e.Value();
      }
    });
  }
  OsslErrorEntry entry;
  if (EntryFromPrintedError(component, message, entry)) {
    if (level <= OSSL_CMP_LOG_ERR) self->printed_.push_back(std::move(entry));
    return 1;
  }
  std::string text = message;
  text.erase(0, text.find_first_not_of(' '));
  if (text.rfind("sending ", 0) == 0 || text.rfind("received ", 0) == 0) {
    self->notes_.clear();
  } else if (level <= OSSL_CMP_LOG_INFO && self->notes_.size() < 16) {
    self->notes_.push_back(std::move(text));
  }
  return 1;
}

BIO* Bridges::Http(BIO* bio, void* arg, int connect, int detail) {
  CtxState* self = CtxState::Current();
  if (self == nullptr) return bio;
  std::lock_guard<std::mutex> lock(self->mu_);
  if (!connect) {  // OpenSSL is about to close the connection
    self->httpFd_ = -1;
    return bio;
  }
  if (self->aborted_) return nullptr;
  int fd = -1;
  if (BIO_get_fd(bio, &fd) > 0 && fd >= 0) {
    // OpenSSL writes the HTTP header and body separately; with Nagle on, every
    // exchange after the first on a kept-alive connection stalls ~40 ms.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&one), sizeof one);
    self->httpFd_ = fd;
  }
  SSL_CTX* tls = static_cast<SSL_CTX*>(arg);
  if (tls == nullptr) return PushReadAhead(bio);
  if (!detail) return bio;
  const std::string& host = self->tlsHost_.empty() ? self->server_ : self->tlsHost_;
  BIO* sbio = BIO_new_ssl(tls, 1);
  SSL* ssl = nullptr;
  if (sbio == nullptr || BIO_get_ssl(sbio, &ssl) <= 0 || ssl == nullptr) {
    BIO_free(sbio);
    self->httpFd_ = -1;  // OpenSSL frees the connection without telling this callback
    return nullptr;
  }
  if (!host.empty()) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
    if (ip == nullptr) {
      SSL_set_tlsext_host_name(ssl, host.c_str());
      if (SSL_set1_host(ssl, host.c_str()) != 1) ERR_raise_data(ERR_LIB_CMP, CMP_R_INVALID_ARGS, "bad TLS host name");
    } else {
      ASN1_OCTET_STRING_free(ip);
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    }
  }
  return BIO_push(sbio, bio);
}

OSSL_CMP_MSG* Bridges::TransferHttp(OSSL_CMP_CTX* ctx, const OSSL_CMP_MSG* req) {
  CtxState* self = CtxState::Current();
  // An exchange under way is cut by an abort (OnAbortLocked); one that has
  // not started yet must not start: with no connection, it would sit in
  // connect() where no abort reaches.
  auto exchanging = [self](bool on) {
    if (self == nullptr) return true;
    std::lock_guard<std::mutex> lock(self->mu_);
    if (on && self->aborted_) return false;
    self->inExchange_ = on;
    return true;
  };
  if (!exchanging(true)) return nullptr;
  OSSL_CMP_MSG* rsp = OSSL_CMP_MSG_http_perform(ctx, req);
  exchanging(false);
  std::string why;
  if (rsp != nullptr && !ProtectionAlgIsSafe(rsp, why)) {
    OSSL_CMP_MSG_free(rsp);
    ERR_raise_data(ERR_LIB_CMP, CMP_R_ERROR_VALIDATING_PROTECTION, "response refused: %s", why.c_str());
    return nullptr;
  }
  return rsp;
}

OSSL_CMP_MSG* Bridges::TransferJs(OSSL_CMP_CTX* ctx, const OSSL_CMP_MSG* req) {
  CtxState* self = CtxState::Current();
  if (self == nullptr || !CtxState::CurrentTransaction()) return nullptr;
  unsigned char* der = nullptr;
  int len = i2d_OSSL_CMP_MSG(const_cast<OSSL_CMP_MSG*>(req), &der);
  if (len <= 0) return nullptr;
  auto request = std::make_shared<std::vector<unsigned char>>(der, der + len);
  OPENSSL_free(der);
  int timeout = OSSL_CMP_CTX_get_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT);  // already capped by TOTAL_TIMEOUT
  std::shared_ptr<CtxState> state = self->self();
  const std::shared_ptr<TransactionRecord>& txn = CtxState::CurrentTransaction();
  std::weak_ptr<CauseSlot> causeTo = txn;
  std::shared_ptr<JsReply> reply;
  CtxState::Wait w = self->RoundTrip(
      [state, request, causeTo](Napi::Env env, const std::shared_ptr<JsReply>& r) {
        if (state->transferFn.IsEmpty()) return state->Settle(r, false, "no transfer callback is set");
        napi_value buf = Napi::Buffer<unsigned char>::Copy(env, request->data(), request->size());
        state->CallAsync(env, state->transferFn, {buf}, r, ToBytes, causeTo);
      },
      timeout, reply);
  if (w == CtxState::Wait::Aborted) return nullptr;
  txn->transferFailed = true;  // until the response proves usable
  if (w == CtxState::Wait::TimedOut) {
    txn->callbackProblem = "the transfer callback did not answer within " + std::to_string(timeout) + " s";
    return nullptr;
  }
  if (!reply->ok) {
    txn->callbackProblem = reply->problem;
    return nullptr;
  }
  std::string why;
  if (!ProtectionAlgIsSafe(reply->bytes.data(), static_cast<long>(reply->bytes.size()), why)) {
    txn->callbackProblem = "response refused: " + why;
    return nullptr;
  }
  const unsigned char* p = reply->bytes.data();
  OSSL_CMP_MSG* rsp = d2i_OSSL_CMP_MSG(nullptr, &p, static_cast<long>(reply->bytes.size()));
  if (rsp == nullptr || p != reply->bytes.data() + reply->bytes.size()) {
    OSSL_CMP_MSG_free(rsp);
    txn->callbackProblem = "the transfer callback returned bytes that are not a DER PKIMessage";
    txn->badResponse = std::move(reply->bytes);
    return nullptr;
  }
  txn->transferFailed = false;
  return rsp;
}

int Bridges::CertConfJs(OSSL_CMP_CTX* ctx, X509* cert, int failInfo, const char** text) {
  CtxState* self = CtxState::Current();
  if (self == nullptr || !CtxState::CurrentTransaction()) return failInfo;
  TransactionRecord& txn = *CtxState::CurrentTransaction();
  std::weak_ptr<CauseSlot> causeTo = CtxState::CurrentTransaction();
  if (self->certConfTrusted_ != nullptr) {
    // anchors of setCertConfTrusted given before the callback: OpenSSL's own check runs first, the callback sees its verdict
    void* arg = OSSL_CMP_CTX_get_certConf_cb_arg(ctx);
    OSSL_CMP_CTX_set_certConf_cb_arg(ctx, self->certConfTrusted_);
    failInfo = OSSL_CMP_certConf_cb(ctx, cert, failInfo, text);
    OSSL_CMP_CTX_set_certConf_cb_arg(ctx, arg);
  }
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) return failInfo | kSystemFailureBit;
  auto certDer = std::make_shared<std::vector<unsigned char>>(der, der + len);
  OPENSSL_free(der);
  std::shared_ptr<IssuedDetails> details;
  if (self->issuedDetails_) {
    // the key's PEM only for a key this transaction made: never the client's own key, which
    // OSSL_CMP_CTX_get0_newPkey falls back to
    EVP_PKEY* newKey = txn.input.keySpec.empty() ? nullptr : OSSL_CMP_CTX_get0_newPkey(ctx, 1);
    details = std::make_shared<IssuedDetails>(IssuedDetails::Of(cert, newKey, self->issuedKeyPass_.get()));
    if (!details->ok) {
      unsigned long e = ERR_peek_last_error();
      const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
      ERR_clear_error();
      txn.callbackProblem = std::string("cannot read the issued certificate or write its key: ") + (reason != nullptr ? reason : "unknown error");
      return failInfo | kSystemFailureBit;
    }
  }
  std::string inText = (text != nullptr && *text != nullptr) ? *text : "";
  bool hasText = text != nullptr && *text != nullptr;
  int timeout = OSSL_CMP_CTX_get_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT);
  std::shared_ptr<CtxState> state = self->self();
  std::shared_ptr<JsReply> reply;
  CtxState::Wait w = self->RoundTrip(
      [state, certDer, failInfo, inText, hasText, causeTo, details](Napi::Env env, const std::shared_ptr<JsReply>& r) {
        if (state->certConfFn.IsEmpty()) {
          r->number = failInfo;
          return state->Settle(r, true);
        }
        napi_value c = Napi::Buffer<unsigned char>::Copy(env, certDer->data(), certDer->size());
        napi_value t = hasText ? Napi::String::New(env, inText) : env.Null();
        napi_value d = details ? details->ToJs(env) : env.Undefined();
        state->CallAsync(env, state->certConfFn, {c, Napi::Number::New(env, failInfo), t, d}, r, ToNumber, causeTo);
      },
      timeout, reply);
  if (w != CtxState::Wait::Settled) {
    if (w == CtxState::Wait::TimedOut) {
      txn.callbackProblem = "the certConf callback did not answer within " + std::to_string(timeout) + " s";
    }
    return failInfo | kSystemFailureBit;
  }
  if (!reply->ok) {
    txn.callbackProblem = reply->problem;
    return failInfo | kSystemFailureBit;
  }
  return reply->number;
}

}  // namespace cmp
