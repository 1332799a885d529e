#include "server_callbacks.h"

#include <openssl/err.h>

#include <functional>
#include <map>
#include <mutex>

#include "cert_issuer.h"
#include "crmf_reader.h"
#include "features.h"
#include "ossl_error.h"

namespace cmp {

namespace {

constexpr int kHandlerTimeout = 120;  // seconds a JS handler may take

// What a JS handler decided, converted on the main thread; certificates cross
// as DER and are read on the worker (ReadAnswerCerts).
struct Decision {
  int status = OSSL_CMP_PKISTATUS_accepted;
  int failInfo = 0;
  std::string text;
  std::vector<unsigned char> certDer;
  std::vector<std::vector<unsigned char>> chainDer, caPubsDer;
  bool hasChain = false, hasCaPubs = false;
  X509Ptr cert;
  X509StackPtr chain, caPubs;
  PkeyPtr key;  // central key generation: the private key to return, encrypted
  int checkAfter = -1;  // >= 0: "waiting"
  ItavStackPtr itavs;
  bool accept = true;
};

Napi::Object CertReqToJs(Napi::Env env, const CertReqInfo& in) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", in.type);
  o.Set("certReqId", in.certReqId);
  o.Set("subject", BytesOrNull(env, in.subject));
  o.Set("publicKey", BytesOrNull(env, in.publicKey));
  o.Set("publicKeyUsable", in.publicKeyUsable);
  o.Set("extensions", BytesOrNull(env, in.extensions));
  o.Set("csr", BytesOrNull(env, in.csr));
  if (!in.oldIssuer.empty() || !in.oldSerial.empty()) {
    Napi::Object old = Napi::Object::New(env);
    old.Set("issuer", BytesOrNull(env, in.oldIssuer));
    old.Set("serial", BytesOrNull(env, in.oldSerial));
    o.Set("oldCertId", old);
    o.Set("oldCert", BytesOrNull(env, in.oldCert));
  } else {
    o.Set("oldCertId", env.Null());
    o.Set("oldCert", env.Null());
  }
  o.Set("sender", in.sender);
  o.Set("notBefore", in.notBefore > 0 ? Napi::Number::New(env, in.notBefore) : env.Null());
  o.Set("notAfter", in.notAfter > 0 ? Napi::Number::New(env, in.notAfter) : env.Null());
  o.Set("centralKeyGen", in.centralKeyGen);
  o.Set("message", BytesOrNull(env, in.message));
  return o;
}

// The facade normalises every handler result to this shape.
bool ToDecision(Napi::Value v, JsReply& r, std::string& problem) {
  if (!v.IsObject()) {
    problem = "the handler did not produce an object";
    return false;
  }
  Napi::Object o = v.As<Napi::Object>();
  auto d = std::make_shared<Decision>();
  auto num = [&](const char* k, int def) {
    Napi::Value x = o.Get(k);
    return x.IsNumber() ? x.As<Napi::Number>().Int32Value() : def;
  };
  d->status = num("status", OSSL_CMP_PKISTATUS_accepted);
  d->failInfo = num("failInfo", 0);
  d->checkAfter = num("checkAfter", -1);
  if (o.Get("text").IsString()) d->text = o.Get("text").As<Napi::String>().Utf8Value();
  if (o.Has("accept")) d->accept = o.Get("accept").ToBoolean();
  Napi::Value cert = o.Get("cert");
  if (!cert.IsUndefined() && !cert.IsNull()) d->certDer = BytesFromJs(cert, "cert");
  auto list = [](Napi::Value v, const char* name, std::vector<std::vector<unsigned char>>& out) {
    Napi::Array arr = v.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(BytesFromJs(arr.Get(i), name));
  };
  d->hasChain = o.Get("chain").IsArray();
  if (d->hasChain) list(o.Get("chain"), "chain[]", d->chainDer);
  d->hasCaPubs = o.Get("caPubs").IsArray();
  if (d->hasCaPubs) list(o.Get("caPubs"), "caPubs[]", d->caPubsDer);
  Napi::Value key = o.Get("key");
  if (!key.IsUndefined() && !key.IsNull()) d->key = KeyFromJs(key, true, "key");
  Napi::Value itavs = o.Get("itavs");
  if (itavs.IsArray()) {
    d->itavs.reset(sk_OSSL_CMP_ITAV_new_null());
    if (!d->itavs) ThrowOssl(o.Env(), "out of memory");
    Napi::Array arr = itavs.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      ItavPtr itav = ItavFromJs(arr.Get(i), "itavs[]");
      if (sk_OSSL_CMP_ITAV_push(d->itavs.get(), itav.get()) <= 0) ThrowOssl(o.Env(), "out of memory");
      itav.release();  // the stack owns it now
    }
  }
  r.payload = d;
  return true;
}

std::shared_ptr<Decision> Ask(ServerState* server, const char* kind, std::function<Napi::Value(Napi::Env)> build) {
  std::shared_ptr<ServerState> state = server->self();
  std::string what = kind;
  std::shared_ptr<JsReply> reply;
  JsLink::Wait w = server->RoundTrip(
      [state, what, build](Napi::Env env, const std::shared_ptr<JsReply>& r) {
        if (state->dispatch.IsEmpty()) return state->Settle(r, false, "the server is closed");
        state->CallAsync(env, state->dispatch, {Napi::String::New(env, what), build(env)}, r, ToDecision);
      },
      kHandlerTimeout, reply);
  if (w != JsLink::Wait::Settled || !reply->ok) {
    std::string problem = w == JsLink::Wait::TimedOut ? "timed out"
                          : w == JsLink::Wait::Aborted ? "the server was closed"
                                                       : reply->problem;
    ERR_raise_data(ERR_LIB_CMP, CMP_R_ERROR_PROCESSING_MESSAGE, "%s handler: %s", what.c_str(), problem.c_str());
    return nullptr;
  }
  return std::static_pointer_cast<Decision>(reply->payload);
}

// A handler's chain and caPubs are the same in most answers: read once, kept
// by their DER (a few, process-wide; X509 objects are shared read-only).
X509Ptr RepeatedCert(const std::vector<unsigned char>& der) {
  static std::mutex mu;
  static std::map<std::vector<unsigned char>, X509Ptr> known;
  constexpr size_t kKept = 32;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = known.find(der);
    if (it != known.end() && X509_up_ref(it->second.get()) == 1) return X509Ptr(it->second.get());
  }
  X509Ptr cert = CertFromDer(der);
  if (cert && X509_up_ref(cert.get()) == 1) {
    std::lock_guard<std::mutex> lock(mu);
    if (known.size() >= kKept) known.clear();
    known.emplace(der, X509Ptr(cert.get()));
  }
  return cert;
}

// Worker thread: the certificates of an answer, from their DER; false with `problem` for one that is not.
bool ReadAnswerCerts(Decision& d, std::string& problem) {
  if (!d.certDer.empty()) {
    d.cert = TakeIssued(d.certDer);  // one the server's own CA issued just now, unless a handler made its own
    if (!d.cert) d.cert = CertFromDer(d.certDer);
    if (!d.cert) {
      problem = "cert is not a valid certificate";
      return false;
    }
    d.certDer.clear();
  }
  auto list = [&](std::vector<std::vector<unsigned char>>& ders, X509StackPtr& out, const char* name) {
    out.reset(sk_X509_new_null());
    if (!out) return false;
    for (size_t i = 0; i < ders.size(); i++) {
      X509Ptr cert = RepeatedCert(ders[i]);
      if (!cert) {
        problem = std::string(name) + "[" + std::to_string(i) + "] is not a valid certificate";
        return false;
      }
      if (!sk_X509_push(out.get(), cert.get())) return false;
      cert.release();
    }
    ders.clear();
    return true;
  };
  if (d.hasChain && !list(d.chainDer, d.chain, "chain")) return false;
  if (d.hasCaPubs && !list(d.caPubsDer, d.caPubs, "caPubs")) return false;
  d.hasChain = d.hasCaPubs = false;
  return true;
}

Session* SessionOf(OSSL_CMP_SRV_CTX* srv) { return static_cast<Session*>(OSSL_CMP_SRV_CTX_get0_custom_ctx(srv)); }

OSSL_CMP_PKISI* StatusOf(const Decision& d) {
  return OSSL_CMP_STATUSINFO_new(d.status, d.failInfo, d.text.empty() ? nullptr : d.text.c_str());
}

thread_local ServerState* logTarget = nullptr;

}  // namespace

LogTo::LogTo(ServerState* s) { logTarget = s; }
LogTo::~LogTo() { logTarget = nullptr; }

OSSL_CMP_PKISI* CertReqCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, int certReqId, const OSSL_CRMF_MSG* crm,
                          const X509_REQ* p10cr, X509** certOut, STACK_OF(X509)** chainOut,
                          STACK_OF(X509)** caPubs) {
  Session* s = SessionOf(srv);
  std::shared_ptr<Decision> d;
  if (s->decided) {  // polling finished: the answer is already known
    d = std::static_pointer_cast<Decision>(s->decided);
    s->decided.reset();
  } else {
    std::shared_ptr<CertReqInfo> in = ReadCertReq(req, certReqId, crm, p10cr, s->requestDer);
    d = Ask(s->server, "certReq", [in](Napi::Env env) { return CertReqToJs(env, *in); });
    if (!d) return nullptr;
    if (d->checkAfter >= 0) {
      OSSL_CMP_MSG_free(s->pendingRequest);
      s->pendingRequest = OSSL_CMP_MSG_dup(req);
      s->pendingInfo = in;
      return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_waiting, 0, nullptr);
    }
  }
  OSSL_CMP_MSG_free(s->pendingRequest);
  s->pendingRequest = nullptr;
  std::string problem;
  if (!ReadAnswerCerts(*d, problem)) {
    if (problem.empty()) problem = "out of memory";
    ERR_raise_data(ERR_LIB_CMP, CMP_R_ERROR_PROCESSING_MESSAGE, "certReq handler: %s", problem.c_str());
    return nullptr;
  }
  if (d->cert && X509_up_ref(d->cert.get()) == 1) *certOut = d->cert.get();
  if (d->chain) *chainOut = X509_chain_up_ref(d->chain.get());
  if (d->caPubs) *caPubs = X509_chain_up_ref(d->caPubs.get());
  // OpenSSL 3.5+ returns the context's private newPkey, encrypted for the
  // client, when the request asked for central key generation.
  if (d->key && GetFeatures().centralkeygen_requested != nullptr && EVP_PKEY_up_ref(d->key.get()) == 1 &&
      !OSSL_CMP_CTX_set0_newPkey(OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv), 1, d->key.get())) {
    EVP_PKEY_free(d->key.get());
  }
  return StatusOf(*d);
}

int PollReqCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, int certReqId, OSSL_CMP_MSG** certReq,
              int64_t* checkAfter) {
  Session* s = SessionOf(srv);
  *certReq = nullptr;
  if (s->pendingRequest == nullptr) {
    ERR_raise_data(ERR_LIB_CMP, CMP_R_UNEXPECTED_PKIBODY, "no request is pending");
    return 0;
  }
  std::shared_ptr<CertReqInfo> in = std::static_pointer_cast<CertReqInfo>(s->pendingInfo);
  std::shared_ptr<Decision> d = Ask(s->server, "pollReq", [in](Napi::Env env) { return CertReqToJs(env, *in); });
  if (!d) return 0;
  if (d->checkAfter >= 0) {
    *checkAfter = d->checkAfter;
    return 1;
  }
  s->decided = d;
  *certReq = OSSL_CMP_MSG_dup(s->pendingRequest);
  *checkAfter = 0;
  return *certReq != nullptr;
}

OSSL_CMP_PKISI* RrCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, const X509_NAME* issuer,
                     const ASN1_INTEGER* serial) {
  std::vector<unsigned char> iss = NameDer(issuer);
  std::vector<unsigned char> ser = IntegerBytes(serial);
  std::shared_ptr<Decision> d = Ask(SessionOf(srv)->server, "rr", [iss, ser](Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("issuer", BytesOrNull(env, iss));
    o.Set("serial", BytesOrNull(env, ser));
    return o;
  });
  return d ? StatusOf(*d) : nullptr;
}

int GenmCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, const STACK_OF(OSSL_CMP_ITAV)* in,
           STACK_OF(OSSL_CMP_ITAV)** out) {
  // ITAVs cross as DER, converted on the main thread.
  auto copy = std::shared_ptr<STACK_OF(OSSL_CMP_ITAV)>(
      sk_OSSL_CMP_ITAV_deep_copy(in, OSSL_CMP_ITAV_dup, OSSL_CMP_ITAV_free), FreeItavStack);
  std::shared_ptr<Decision> d = Ask(SessionOf(srv)->server, "genm", [copy](Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("itavs", ItavsToJs(env, copy.get()));
    return o;
  });
  if (!d) return 0;
  *out = d->itavs ? d->itavs.release() : sk_OSSL_CMP_ITAV_new_null();
  return *out != nullptr;
}

static std::string StatusText(const OSSL_CMP_PKISI* si) {
  char buf[OSSL_CMP_PKISI_BUFLEN];
  return si != nullptr && OSSL_CMP_snprint_PKIStatusInfo(si, buf, sizeof buf) != nullptr ? buf : "";
}

void ErrorCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, const OSSL_CMP_PKISI* si, const ASN1_INTEGER* code,
             const OSSL_CMP_PKIFREETEXT* details) {
  std::string status = StatusText(si);
  std::vector<std::string> texts = FreeTextToStrings(details);
  long errorCode = code != nullptr ? ASN1_INTEGER_get(code) : -1;
  std::shared_ptr<ServerState> state = SessionOf(srv)->server->self();
  state->Post([state, status, texts, errorCode](Napi::Env env) {
    if (state->dispatch.IsEmpty()) return;
    Napi::Object o = Napi::Object::New(env);
    o.Set("status", status);
    o.Set("errorCode", Napi::Number::New(env, static_cast<double>(errorCode)));
    Napi::Array a = Napi::Array::New(env, texts.size());
    for (size_t i = 0; i < texts.size(); i++) a.Set(i, texts[i]);
    o.Set("details", a);
    try {
      state->dispatch.Call({Napi::String::New(env, "error"), o});
    } catch (const Napi::Error&) {
      // informational only
    }
  });
}

int CertConfCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, int certReqId, const ASN1_OCTET_STRING* certHash,
               const OSSL_CMP_PKISI* si) {
  std::vector<unsigned char> hash;
  if (certHash != nullptr) hash.assign(certHash->data, certHash->data + certHash->length);
  std::string status = StatusText(si);
  std::shared_ptr<Decision> d = Ask(SessionOf(srv)->server, "certConf", [certReqId, hash, status](Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("certReqId", certReqId);
    o.Set("certHash", BytesOrNull(env, hash));
    o.Set("status", status.empty() ? env.Null() : Napi::String::New(env, status));
    return o;
  });
  return d && d->accept ? 1 : 0;
}

int ServerLog(const char* component, const char* file, int line, OSSL_CMP_severity level, const char* message) {
  ServerState* server = logTarget;
  if (server == nullptr || message == nullptr) return 1;
  std::shared_ptr<ServerState> state = server->self();
  LogLine entry(component, file, line, static_cast<int>(level), message);
  state->Post([state, entry](Napi::Env env) {
    if (state->dispatch.IsEmpty()) return;
    try {
      state->dispatch.Call({Napi::String::New(env, "log"), entry.ToJs(env)});
    } catch (const Napi::Error&) {
      // a throwing log hook must not take the server down
    }
  });
  return 1;
}

}  // namespace cmp
