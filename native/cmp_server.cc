#include "cmp_server.h"

#include <openssl/crmf.h>
#include <openssl/err.h>

#include <ctime>

#include "addon.h"
#include "features.h"
#include "js_args.h"
#include "message_check.h"
#include "ossl_error.h"
#include "platform.h"

namespace cmp {

namespace {

constexpr int kHandlerTimeout = 120;  // seconds a JS handler may take

// What a JS handler decided, converted on the main thread.
struct Decision {
  int status = OSSL_CMP_PKISTATUS_accepted;
  int failInfo = 0;
  std::string text;
  X509Ptr cert;
  X509StackPtr chain, caPubs;
  PkeyPtr key;  // central key generation: the private key to return, encrypted
  int checkAfter = -1;  // >= 0: "waiting"
  ItavStackPtr itavs;
  bool accept = true;
};

// What a certificate request asks for, gathered on the worker thread.
struct CertReqInfo {
  std::string type;
  int certReqId = 0;
  std::vector<unsigned char> subject, publicKey, extensions, csr, oldIssuer, oldSerial;
  std::string sender;
  double notBefore = 0, notAfter = 0;  // seconds since the epoch; 0: not requested
  std::vector<unsigned char> oldCert;  // KUR: the certificate being updated, when the request carries it
  bool centralKeyGen = false;          // no POPO and no (or an empty) public key: the server makes the key
  std::vector<unsigned char> message;  // the whole request as received, for what the fields above leave out
};


std::vector<unsigned char> NameDer(const X509_NAME* name) {
  return name == nullptr ? std::vector<unsigned char>() : Der([&](unsigned char** out) { return i2d_X509_NAME(name, out); });
}

std::vector<unsigned char> IntegerBytes(const ASN1_INTEGER* i) {
  std::vector<unsigned char> out;
  BIGNUM* bn = i == nullptr ? nullptr : ASN1_INTEGER_to_BN(i, nullptr);
  if (bn != nullptr) {
    out.resize(static_cast<size_t>(BN_num_bytes(bn)));
    BN_bn2bin(bn, out.data());
    BN_free(bn);
  }
  return out;
}

// The content of the template's field [tag]; OpenSSL 3.0 has no getters for
// publicKey and validity, so they are taken from the template's DER.
bool TemplateField(const std::vector<unsigned char>& t, int want, const unsigned char*& content, long& length) {
  const unsigned char* p = t.data();
  long len = 0;
  int tag = 0, cls = 0;
  if (t.empty() || (ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(t.size())) & 0x80) != 0) return false;
  const unsigned char* end = p + len;
  while (p < end) {
    if ((ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) != 0) return false;
    if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == want) {
      content = p;
      length = len;
      return true;
    }
    p += len;
  }
  return false;
}

// publicKey [6] IMPLICIT SubjectPublicKeyInfo: the SPKI with its own tag back.
std::vector<unsigned char> TemplatePublicKey(const std::vector<unsigned char>& t) {
  const unsigned char* p = nullptr;
  long len = 0;
  if (!TemplateField(t, 6, p, len)) return {};
  std::vector<unsigned char> spki(static_cast<size_t>(ASN1_object_size(1, static_cast<int>(len), V_ASN1_SEQUENCE)));
  unsigned char* q = spki.data();
  ASN1_put_object(&q, 1, static_cast<int>(len), V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
  std::copy(p, p + len, q);
  return spki;
}

// validity [4] IMPLICIT OptionalValidity { notBefore [0] Time OPT, notAfter [1] Time OPT }
void TemplateValidity(const std::vector<unsigned char>& t, double& notBefore, double& notAfter) {
  const unsigned char* p = nullptr;
  long len = 0;
  if (!TemplateField(t, 4, p, len)) return;
  const unsigned char* end = p + len;
  while (p < end) {
    long inner = 0;
    int tag = 0, cls = 0;
    if ((ASN1_get_object(&p, &inner, &tag, &cls, end - p) & 0x80) != 0) return;
    const unsigned char* q = p;
    ASN1_TIME* time = d2i_ASN1_TIME(nullptr, &q, inner);  // the CHOICE inside an explicit tag
    struct tm tm {};
    if (time != nullptr && ASN1_TIME_to_tm(time, &tm) == 1) {
      double secs = static_cast<double>(timegm(&tm));
      if (tag == 0) notBefore = secs;
      if (tag == 1) notAfter = secs;
    }
    ASN1_TIME_free(time);
    p += inner;
  }
}

// The certificate that oldCertId names, from the request's extraCerts
// (PKIMessage ::= SEQUENCE { header, body, [0] protection, [1] extraCerts }),
// where a KUR signed with it carries it; 3.0 has no getter for them.
std::vector<unsigned char> FindOldCert(const std::vector<unsigned char>& msg, const std::vector<unsigned char>& issuer,
                                       const std::vector<unsigned char>& serial) {
  const unsigned char* p = nullptr;
  long len = 0;
  if (!TemplateField(msg, 1, p, len)) return {};
  long seqLen = 0;
  int tag = 0, cls = 0;
  if ((ASN1_get_object(&p, &seqLen, &tag, &cls, len) & 0x80) != 0) return {};
  const unsigned char* end = p + seqLen;
  while (p < end) {
    const unsigned char* start = p;
    X509Ptr cert(d2i_X509(nullptr, &p, end - p));
    if (!cert) return {};
    if (NameDer(X509_get_issuer_name(cert.get())) == issuer && IntegerBytes(X509_get0_serialNumber(cert.get())) == serial) {
      return std::vector<unsigned char>(start, p);
    }
  }
  return {};
}

const char* BodyName(int type) {
  switch (type) {
    case OSSL_CMP_IR: return "ir";
    case OSSL_CMP_CR: return "cr";
    case OSSL_CMP_P10CR: return "p10cr";
    case OSSL_CMP_KUR: return "kur";
    default: return "unknown";
  }
}

Napi::Object CertReqToJs(Napi::Env env, const CertReqInfo& in) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", in.type);
  o.Set("certReqId", in.certReqId);
  o.Set("subject", BytesOrNull(env, in.subject));
  o.Set("publicKey", BytesOrNull(env, in.publicKey));
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
  if (!cert.IsUndefined() && !cert.IsNull()) d->cert = CertFromJs(cert, "cert");
  Napi::Value chain = o.Get("chain");
  if (chain.IsArray()) d->chain = CertsFromJs(chain, "chain");
  Napi::Value caPubs = o.Get("caPubs");
  if (caPubs.IsArray()) d->caPubs = CertsFromJs(caPubs, "caPubs");
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

Session* SessionOf(OSSL_CMP_SRV_CTX* srv) { return static_cast<Session*>(OSSL_CMP_SRV_CTX_get0_custom_ctx(srv)); }

OSSL_CMP_PKISI* StatusOf(const Decision& d) {
  return OSSL_CMP_STATUSINFO_new(d.status, d.failInfo, d.text.empty() ? nullptr : d.text.c_str());
}

std::shared_ptr<CertReqInfo> Gather(const Session& session, const OSSL_CMP_MSG* req, int certReqId,
                                    const OSSL_CRMF_MSG* crm, const X509_REQ* p10cr) {
  auto in = std::make_shared<CertReqInfo>();
  in->type = BodyName(OSSL_CMP_MSG_get_bodytype(req));
  in->certReqId = certReqId;
  if (session.requestDer != nullptr) in->message = *session.requestDer;
  const Features& f = GetFeatures();
  if (f.centralkeygen_requested != nullptr) in->centralKeyGen = f.centralkeygen_requested(crm, p10cr) == 1;
  if (p10cr != nullptr) {
    in->csr = Der([&](unsigned char** out) { return i2d_X509_REQ(const_cast<X509_REQ*>(p10cr), out); });
    in->subject = NameDer(X509_REQ_get_subject_name(p10cr));
    in->publicKey = Der([&](unsigned char** out) { return i2d_PUBKEY(X509_REQ_get0_pubkey(const_cast<X509_REQ*>(p10cr)), out); });
    STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(const_cast<X509_REQ*>(p10cr));
    if (exts != nullptr) {
      in->extensions = Der([&](unsigned char** out) { return i2d_X509_EXTENSIONS(exts, out); });
      sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
  } else if (crm != nullptr) {
    const OSSL_CRMF_CERTTEMPLATE* tmpl = OSSL_CRMF_MSG_get0_tmpl(crm);
    in->subject = NameDer(OSSL_CRMF_CERTTEMPLATE_get0_subject(tmpl));
    std::vector<unsigned char> t =
        Der([&](unsigned char** out) { return i2d_OSSL_CRMF_CERTTEMPLATE(const_cast<OSSL_CRMF_CERTTEMPLATE*>(tmpl), out); });
    in->publicKey = TemplatePublicKey(t);
    TemplateValidity(t, in->notBefore, in->notAfter);
    X509_EXTENSIONS* exts = OSSL_CRMF_CERTTEMPLATE_get0_extensions(tmpl);
    if (exts != nullptr) {
      in->extensions = Der([&](unsigned char** out) { return i2d_X509_EXTENSIONS(exts, out); });
    }
    OSSL_CRMF_CERTID* old = OSSL_CRMF_MSG_get0_regCtrl_oldCertID(crm);
    if (old != nullptr) {
      in->oldIssuer = NameDer(OSSL_CRMF_CERTID_get0_issuer(old));
      in->oldSerial = IntegerBytes(OSSL_CRMF_CERTID_get0_serialNumber(old));
      if (session.requestDer != nullptr) in->oldCert = FindOldCert(*session.requestDer, in->oldIssuer, in->oldSerial);
    }
  }
  return in;
}

OSSL_CMP_PKISI* CertReqCb(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, int certReqId, const OSSL_CRMF_MSG* crm,
                          const X509_REQ* p10cr, X509** certOut, STACK_OF(X509)** chainOut,
                          STACK_OF(X509)** caPubs) {
  Session* s = SessionOf(srv);
  std::shared_ptr<Decision> d;
  if (s->decided) {  // polling finished: the answer is already known
    d = std::static_pointer_cast<Decision>(s->decided);
    s->decided.reset();
  } else {
    std::shared_ptr<CertReqInfo> in = Gather(*s, req, certReqId, crm, p10cr);
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
  if (d->cert) *certOut = X509_dup(d->cert.get());
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

std::string StatusText(const OSSL_CMP_PKISI* si) {
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

// The server whose request this thread is processing: OpenSSL's log callback
// has no argument that could carry it.
thread_local ServerState* logTarget = nullptr;

struct LogTo {
  explicit LogTo(ServerState* s) { logTarget = s; }
  ~LogTo() { logTarget = nullptr; }
};

// Never to stdout/stderr: lines go to the server's JS log hook, in order,
// through the same queue as the handler calls, or nowhere.
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

std::string Hex(const ASN1_OCTET_STRING* s) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  if (s == nullptr) return out;
  for (int i = 0; i < s->length; i++) {
    out += digits[s->data[i] >> 4];
    out += digits[s->data[i] & 15];
  }
  return out;
}

}  // namespace

Session::~Session() {
  if (srv != nullptr) server->liveSessions--;
  OSSL_CMP_SRV_CTX_free(srv);
  OSSL_CMP_MSG_free(pendingRequest);
}

ServerState::ServerState(Executor* executor, ServerConfig config) : JsLink(executor), config_(std::move(config)) {}

ServerState::~ServerState() = default;

OSSL_CMP_SRV_CTX* ServerState::NewServerContext(Session* session) {
  OSSL_CMP_SRV_CTX* srv = OSSL_CMP_SRV_CTX_new(nullptr, nullptr);
  if (srv == nullptr) return nullptr;
  OSSL_CMP_CTX* ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
  bool ok = OSSL_CMP_SRV_CTX_init(srv, session, CertReqCb, RrCb, GenmCb, ErrorCb, CertConfCb, PollReqCb) &&
            OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(srv, config_.grantImplicitConfirm) &&
            OSSL_CMP_SRV_CTX_set_accept_unprotected(srv, config_.acceptUnprotected) &&
            OSSL_CMP_SRV_CTX_set_accept_raverified(srv, config_.acceptRaVerified) &&
            OSSL_CMP_SRV_CTX_set_send_unprotected_errors(srv, config_.sendUnprotectedErrors) &&
            OSSL_CMP_CTX_set_log_cb(ctx, ServerLog) &&
            OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, config_.sendUnprotected) &&
            OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_ERRORS, config_.acceptUnprotectedErrors);
  if (ok && config_.logVerbosity >= 0) OSSL_CMP_CTX_set_log_verbosity(ctx, config_.logVerbosity);
  if (ok && config_.hasRef) {
    ok = OSSL_CMP_CTX_set1_referenceValue(ctx, config_.ref.data(), static_cast<int>(config_.ref.size()));
  }
  if (ok && config_.hasSecret) {
    ok = OSSL_CMP_CTX_set1_secretValue(ctx, config_.secret.data(), static_cast<int>(config_.secret.size()));
  }
  if (ok && config_.cert) ok = OSSL_CMP_CTX_set1_cert(ctx, config_.cert.get());
  if (ok && config_.key) ok = OSSL_CMP_CTX_set1_pkey(ctx, config_.key.get());
  X509StackPtr untrusted = intermediates_.With(config_.untrusted.get());
  if (ok && untrusted) ok = OSSL_CMP_CTX_set1_untrusted(ctx, untrusted.get());
  if (ok && config_.trusted) {
    X509_STORE* store = X509_STORE_new();
    for (int i = 0; store != nullptr && i < sk_X509_num(config_.trusted.get()); i++) {
      X509_STORE_add_cert(store, sk_X509_value(config_.trusted.get(), i));
    }
    ok = store != nullptr && OSSL_CMP_CTX_set0_trustedStore(ctx, store);
    if (!ok) X509_STORE_free(store);
  }
  // CVE-2026-63074: OpenSSL 3.1+ can be told not to cache extraCerts at all;
  // on 3.0 the cache lives only as long as this one transaction's context.
  if (ok && GetFeatures().noCacheExtraCerts) (void)OSSL_CMP_CTX_set_option(ctx, 37 /* NO_CACHE_EXTRACERTS */, 1);
  if (!ok) {
    OSSL_CMP_SRV_CTX_free(srv);
    return nullptr;
  }
  return srv;
}

std::shared_ptr<Session> ServerState::Acquire(const std::string& tid, std::string& error) {
  std::lock_guard<std::mutex> lock(sessionsMu_);
  time_t now = time(nullptr);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (!it->second->busy && now - it->second->lastUsed > config_.transactionTimeout) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  auto found = tid.empty() ? sessions_.end() : sessions_.find(tid);
  if (found != sessions_.end()) {
    if (found->second->busy) {
      error = "another message of this transaction is being processed";
      return nullptr;
    }
    found->second->busy = true;
    return found->second;
  }
  if (sessions_.size() >= config_.maxTransactions) {
    error = "too many open transactions";
    return nullptr;
  }
  auto s = std::make_shared<Session>();
  s->server = this;
  s->srv = NewServerContext(s.get());
  if (s->srv == nullptr) {
    error = "cannot create a server context";
    return nullptr;
  }
  liveSessions++;
  s->busy = true;
  if (!tid.empty()) sessions_[tid] = s;
  return s;
}

void ServerState::Release(const std::string& tid, const std::shared_ptr<Session>& s) {
  bool closed = OSSL_CMP_CTX_get_status(OSSL_CMP_SRV_CTX_get0_cmp_ctx(s->srv)) == OSSL_CMP_PKISTATUS_unspecified;
  std::lock_guard<std::mutex> lock(sessionsMu_);
  s->busy = false;
  s->lastUsed = time(nullptr);
  if (closed && !tid.empty()) {
    auto it = sessions_.find(tid);
    if (it != sessions_.end() && it->second == s) sessions_.erase(it);
  }
}

ServerState::Retained ServerState::Holding() {
  std::lock_guard<std::mutex> lock(sessionsMu_);
  Retained r;
  r.sessions = liveSessions.load();
  for (const auto& [tid, s] : sessions_) r.certs += sk_X509_num(OSSL_CMP_CTX_get0_untrusted(OSSL_CMP_SRV_CTX_get0_cmp_ctx(s->srv)));
  return r;
}

size_t ServerState::OpenTransactions() {
  std::lock_guard<std::mutex> lock(sessionsMu_);
  return sessions_.size();
}

bool ServerState::Process(const std::vector<unsigned char>& request, std::vector<unsigned char>& response,
                          std::string& error) {
  std::string why;
  if (!ProtectionAlgIsSafe(request.data(), static_cast<long>(request.size()), why)) {
    error = "request refused: " + why;
    return false;
  }
  const unsigned char* p = request.data();
  OSSL_CMP_MSG* req = d2i_OSSL_CMP_MSG(nullptr, &p, static_cast<long>(request.size()));
  if (req == nullptr || p != request.data() + request.size()) {
    OSSL_CMP_MSG_free(req);
    error = "the request is not a DER PKIMessage";
    return false;
  }
  std::string tid = Hex(OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req)));
  std::shared_ptr<Session> s = Acquire(tid, error);
  if (!s) {
    OSSL_CMP_MSG_free(req);
    return false;
  }
  s->requestDer = &request;
  OSSL_CMP_MSG* rsp = nullptr;
  {
    LogTo log(config_.logVerbosity >= 0 ? this : nullptr);
    rsp = OSSL_CMP_SRV_process_request(s->srv, req);
  }
  s->requestDer = nullptr;
  // an answer other than an error message (body type 23) means the request passed validation
  if (rsp != nullptr && OSSL_CMP_MSG_get_bodytype(rsp) != 23) {
    intermediates_.Learn(request, config_.trusted.get(), config_.untrusted.get());
  }
  OSSL_CMP_MSG_free(req);
  Release(tid, s);
  if (rsp == nullptr) {
    error = "no response could be produced";
    return false;
  }
  response = Der([&](unsigned char** out) { return i2d_OSSL_CMP_MSG(rsp, out); });
  OSSL_CMP_MSG_free(rsp);
  if (response.empty()) {
    error = "the response could not be encoded";
    return false;
  }
  return true;
}

namespace {

class ServerJob : public Job {
 public:
  ServerJob(Napi::Env env, std::shared_ptr<ServerState> state, Napi::Object owner, std::vector<unsigned char> req)
      : state_(std::move(state)),
        owner_(Napi::Persistent(owner)),
        deferred_(Napi::Promise::Deferred::New(env)),
        request_(std::move(req)) {
    state_->pending++;
  }
  ~ServerJob() override { state_->pending--; }
  Napi::Promise promise() const { return deferred_.Promise(); }
  Lane lane() const override { return Lane::Server; }
  void Execute() override {
    ERR_clear_error();
    ok_ = state_->Process(request_, response_, error_.message);
    if (!ok_) error_.DrainQueue();
    ERR_clear_error();
  }
  void Complete(Napi::Env env) override {
    if (ok_) {
      deferred_.Resolve(Napi::Buffer<unsigned char>::Copy(env, response_.data(), response_.size()));
    } else {
      error_.code = "ERR_CMP_BAD_REQUEST";
      deferred_.Reject(MakeCmpError(env, error_).Value());
    }
  }
  void Abort() override { state_->Abort(); }

 private:
  std::shared_ptr<ServerState> state_;
  Napi::ObjectReference owner_;
  Napi::Promise::Deferred deferred_;
  std::vector<unsigned char> request_, response_;
  bool ok_ = false;
  ErrorInfo error_;
};

}  // namespace

Napi::Function CmpServer::Define(Napi::Env env) {
  return DefineClass(env, "NativeCmpServer",
                     {InstanceMethod<&CmpServer::Marked<&CmpServer::Handle>>("handle"),
                      InstanceMethod<&CmpServer::Marked<&CmpServer::Close>>("close"),
                      InstanceMethod<&CmpServer::Marked<&CmpServer::OpenTransactions>>("openTransactions"),
                      InstanceMethod<&CmpServer::Marked<&CmpServer::Retained>>("retained"),
                      InstanceMethod<&CmpServer::Marked<&CmpServer::CachedIntermediates>>("cachedIntermediates")});
}

CmpServer::CmpServer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CmpServer>(info) {
  Napi::Env env = info.Env();
  ErrorQueueMark mark;
  if (!info[0].IsObject()) ThrowType(env, "options must be an object");
  if (!info[1].IsFunction()) ThrowType(env, "dispatch must be a function");
  Napi::Object o = info[0].As<Napi::Object>();
  ServerConfig c;
  if (!Nullish(o.Get("ref"))) {
    c.ref = BytesFromJs(o.Get("ref"), "ref");
    c.hasRef = true;
  }
  if (!Nullish(o.Get("secret"))) {
    c.secret = BytesFromJs(o.Get("secret"), "secret");
    c.hasSecret = true;
  }
  if (!Nullish(o.Get("cert"))) c.cert = CertFromJs(o.Get("cert"), "cert");
  if (!Nullish(o.Get("key"))) c.key = KeyFromJs(o.Get("key"), true, "key");
  if (!Nullish(o.Get("trusted"))) c.trusted = CertsFromJs(o.Get("trusted"), "trusted");
  if (!Nullish(o.Get("untrusted"))) c.untrusted = CertsFromJs(o.Get("untrusted"), "untrusted");
  c.grantImplicitConfirm = o.Get("grantImplicitConfirm").ToBoolean();
  c.acceptUnprotected = o.Get("acceptUnprotected").ToBoolean();
  c.acceptRaVerified = o.Get("acceptRaVerified").ToBoolean();
  c.sendUnprotectedErrors = o.Get("sendUnprotectedErrors").ToBoolean();
  c.sendUnprotected = o.Get("sendUnprotected").ToBoolean();
  c.acceptUnprotectedErrors = o.Get("acceptUnprotectedErrors").ToBoolean();
  if (o.Get("transactionTimeout").IsNumber()) c.transactionTimeout = o.Get("transactionTimeout").As<Napi::Number>().Int32Value();
  if (o.Get("logVerbosity").IsNumber()) c.logVerbosity = o.Get("logVerbosity").As<Napi::Number>().Int32Value();
  if (o.Get("maxPending").IsNumber()) {
    int64_t n = o.Get("maxPending").As<Napi::Number>().Int64Value();
    if (n < 1) ThrowType(env, "maxPending must be a positive number");
    c.maxPending = static_cast<size_t>(n);
  }
  if (o.Get("maxTransactions").IsNumber()) {
    c.maxTransactions = static_cast<size_t>(o.Get("maxTransactions").As<Napi::Number>().Int64Value());
  }
  if (!c.hasSecret && !c.key) ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "a CmpServer needs a secret or a key to protect its responses");
  state_ = std::make_shared<ServerState>(env.GetInstanceData<Addon>()->executor.get(), std::move(c));
  state_->dispatch = Napi::Persistent(info[1].As<Napi::Function>());
}

Napi::Value CmpServer::Handle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<unsigned char> req = BytesFromJs(info[0], "request");
  if (state_->dispatch.IsEmpty()) ThrowCode(env, "ERR_CMP_SERVER_CLOSED", "The CMP server is closed");
  if (state_->pending >= state_->maxPending()) {
    ErrorInfo busy;
    busy.code = "ERR_CMP_SERVER_BUSY";
    busy.message = "The CMP server has " + std::to_string(state_->pending) + " requests queued or running (maxPending); try again later";
    Napi::Promise::Deferred refused = Napi::Promise::Deferred::New(env);
    refused.Reject(MakeCmpError(env, busy).Value());
    return refused.Promise();
  }
  auto* job = new ServerJob(env, state_, Value(), std::move(req));
  Napi::Promise promise = job->promise();
  env.GetInstanceData<Addon>()->executor->Submit(env, job);
  return promise;
}

Napi::Value CmpServer::OpenTransactions(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(state_->OpenTransactions()));
}

Napi::Value CmpServer::CachedIntermediates(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(state_->CachedIntermediates()));
}

Napi::Value CmpServer::Retained(const Napi::CallbackInfo& info) {
  ServerState::Retained r = state_->Holding();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("sessions", static_cast<double>(r.sessions));
  o.Set("untrustedCerts", static_cast<double>(r.certs));
  return o;
}

Napi::Value CmpServer::Close(const Napi::CallbackInfo& info) {
  state_->Abort();
  state_->dispatch.Reset();
  return info.Env().Undefined();
}

}  // namespace cmp
