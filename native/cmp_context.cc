#include "cmp_context.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "addon.h"
#include "cert_chain.h"
#include "features.h"

namespace cmp {

namespace {

bool Nullish(const Napi::Value& v) { return v.IsNull() || v.IsUndefined(); }

// OpenSSL returns 1 on success, 0 or -1 on failure; the push0/push1
// functions pass on sk_push's count of elements.
void Check(Napi::Env env, int ok, const char* what) {
  if (ok <= 0) ThrowOssl(env, what);
}

int IntArg(const Napi::CallbackInfo& info, size_t i, const char* param) {
  if (!info[i].IsNumber()) ThrowType(info.Env(), std::string(param) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int>(d))) {
    ThrowCode(info.Env(), "ERR_OUT_OF_RANGE", std::string(param) + " must be a 32-bit integer");
  }
  return static_cast<int>(d);
}

bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* param) {
  if (!info[i].IsBoolean()) ThrowType(info.Env(), std::string(param) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

// A nullable string argument: empty optional for null/undefined.
std::unique_ptr<std::string> OptString(const Napi::CallbackInfo& info, size_t i, const char* param) {
  if (Nullish(info[i])) return nullptr;
  return std::make_unique<std::string>(StringFromJs(info[i], param));
}

const char* CStr(const std::unique_ptr<std::string>& s) { return s ? s->c_str() : nullptr; }

// A function argument or null/undefined (an empty reference).
Napi::FunctionReference OptFunction(const Napi::CallbackInfo& info, size_t i, const char* param) {
  if (Nullish(info[i])) return Napi::FunctionReference();
  if (!info[i].IsFunction()) ThrowType(info.Env(), std::string(param) + " must be a function or null");
  return Napi::Persistent(info[i].As<Napi::Function>());
}

ASN1_OCTET_STRING* OctetsFromJs(const Napi::Value& v, const char* param) {
  std::vector<unsigned char> bytes = BytesFromJs(v, param);
  ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
  if (os == nullptr || !ASN1_OCTET_STRING_set(os, bytes.data(), static_cast<int>(bytes.size()))) {
    ASN1_OCTET_STRING_free(os);
    ThrowOssl(v.Env(), "out of memory");
  }
  return os;
}

}  // namespace

#define CMP_METHOD(js, fn) InstanceMethod<&CmpContext::Marked<&CmpContext::fn>>(js, napi_default_method)

Napi::Function CmpContext::Define(Napi::Env env) {
  return DefineClass(
      env, "NativeCmpContext",
      {
          CMP_METHOD("reinit", Reinit),
          CMP_METHOD("close", Close),
          CMP_METHOD("abort", Abort),
          CMP_METHOD("isBusy", IsBusy),
          CMP_METHOD("isClosed", IsClosed),
          CMP_METHOD("setOption", SetOption),
          CMP_METHOD("getOption", GetOption),
          CMP_METHOD("printErrors", PrintErrors),
          CMP_METHOD("setServerPath", SetServerPath),
          CMP_METHOD("setServer", SetServer),
          CMP_METHOD("setServerPort", SetServerPort),
          CMP_METHOD("setProxy", SetProxy),
          CMP_METHOD("setNoProxy", SetNoProxy),
          CMP_METHOD("setSrvCert", SetSrvCert),
          CMP_METHOD("setExpectedSender", SetExpectedSender),
          CMP_METHOD("setTrustedStore", SetTrustedStore),
          CMP_METHOD("getTrustedStore", GetTrustedStore),
          CMP_METHOD("setUntrusted", SetUntrusted),
          CMP_METHOD("getUntrusted", GetUntrusted),
          CMP_METHOD("setCert", SetCert),
          CMP_METHOD("buildCertChain", BuildCertChain),
          CMP_METHOD("setPkey", SetPkey),
          CMP_METHOD("setReferenceValue", SetReferenceValue),
          CMP_METHOD("setSecretValue", SetSecretValue),
          CMP_METHOD("setRecipient", SetRecipient),
          CMP_METHOD("pushGeninfoITAV", PushGeninfoITAV),
          CMP_METHOD("resetGeninfoITAVs", ResetGeninfoITAVs),
          CMP_METHOD("getGeninfoITAVs", GetGeninfoITAVs),
          CMP_METHOD("setExtraCertsOut", SetExtraCertsOut),
          CMP_METHOD("setNewPkey", SetNewPkey),
          CMP_METHOD("getNewPkey", GetNewPkey),
          CMP_METHOD("setIssuer", SetIssuer),
          CMP_METHOD("setSubjectName", SetSubjectName),
          CMP_METHOD("pushSubjectAltName", PushSubjectAltName),
          CMP_METHOD("setReqExtensions", SetReqExtensions),
          CMP_METHOD("reqExtensionsHaveSAN", ReqExtensionsHaveSAN),
          CMP_METHOD("pushPolicy", PushPolicy),
          CMP_METHOD("setOldCert", SetOldCert),
          CMP_METHOD("setP10CSR", SetP10CSR),
          CMP_METHOD("pushGenmITAV", PushGenmITAV),
          CMP_METHOD("getStatus", GetStatus),
          CMP_METHOD("getStatusString", GetStatusString),
          CMP_METHOD("getFailInfoCode", GetFailInfoCode),
          CMP_METHOD("snprintPKIStatus", SnprintPKIStatus),
          CMP_METHOD("getNewCert", GetNewCert),
          CMP_METHOD("getNewChain", GetNewChain),
          CMP_METHOD("getCaPubs", GetCaPubs),
          CMP_METHOD("getExtraCertsIn", GetExtraCertsIn),
          CMP_METHOD("getValidatedSrvCert", GetValidatedSrvCert),
          CMP_METHOD("setTransactionID", SetTransactionID),
          CMP_METHOD("setSenderNonce", SetSenderNonce),
          CMP_METHOD("setSerialNumber", SetSerialNumber),
          CMP_METHOD("setTransferCallback", SetTransferCallback),
          CMP_METHOD("setCertConfCallback", SetCertConfCallback),
          CMP_METHOD("setCertConfTrusted", SetCertConfTrusted),
          CMP_METHOD("setLogCallback", SetLogCallback),
          CMP_METHOD("setTls", SetTls),
          CMP_METHOD("setVerifyParam", SetVerifyParam),
          CMP_METHOD("setMessageFiles", SetMessageFiles),
          CMP_METHOD("execCertReq", ExecCertReq),
          CMP_METHOD("tryCertReq", TryCertReq),
          CMP_METHOD("execRR", ExecRR),
          CMP_METHOD("execGENM", ExecGENM),
          CMP_METHOD("getCaCerts", GetCaCerts),
          CMP_METHOD("getRootCaKeyUpdate", GetRootCaKeyUpdate),
          CMP_METHOD("getCertReqTemplate", GetCertReqTemplate),
          CMP_METHOD("getCrlUpdate", GetCrlUpdate),
      });
}

#undef CMP_METHOD

CmpContext::CmpContext(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CmpContext>(info) {
  ErrorQueueMark mark;
  try {
    state_ = std::make_shared<CtxState>(info.Env().GetInstanceData<Addon>()->executor.get());
  } catch (const std::bad_alloc&) {
    ThrowOssl(info.Env(), "OSSL_CMP_CTX_new failed");
  }
}

CmpContext::~CmpContext() {
  // A transaction in flight holds its own reference to the state; it cannot
  // be here (the job keeps this wrapper alive), but abort defensively.
  if (state_ && state_->busy()) state_->Abort();
}

OSSL_CMP_CTX* CmpContext::Use(Napi::Env env) {
  if (!state_) ThrowCode(env, "ERR_CMP_CONTEXT_CLOSED", "The CMP context is closed");
  if (state_->busy()) ThrowCode(env, "ERR_CMP_CONTEXT_BUSY", "A transaction is in progress on this CMP context");
  return state_->ctx();
}

Napi::Value CmpContext::Start(const Napi::CallbackInfo& info, TransactionInput input) {
  Napi::Env env = info.Env();
  Use(env);
  Addon* addon = env.GetInstanceData<Addon>();
  if (!state_->TryBegin()) ThrowCode(env, "ERR_CMP_CONTEXT_BUSY", "A transaction is in progress on this CMP context");
  auto* job = new ExecJob(env, state_, Value(), std::move(input));
  Napi::Promise promise = job->promise();
  try {
    addon->executor->Submit(env, job);
  } catch (const Napi::Error&) {
    state_->End();
    throw;
  }
  return promise;
}

Napi::Value CmpContext::Reinit(const Napi::CallbackInfo& info) {
  Use(info.Env());
  Check(info.Env(), state_->Reinit(), "OSSL_CMP_CTX_reinit failed");
  return info.Env().Undefined();
}

Napi::Value CmpContext::Close(const Napi::CallbackInfo& info) {
  if (state_) {
    // A running job keeps the state alive and frees it when it ends.
    if (state_->busy()) state_->AbortFromJs(info.Env());
    state_.reset();
  }
  return info.Env().Undefined();
}

Napi::Value CmpContext::Abort(const Napi::CallbackInfo& info) {
  if (state_ && state_->busy()) state_->AbortFromJs(info.Env());
  return info.Env().Undefined();
}

Napi::Value CmpContext::IsBusy(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), state_ && state_->busy());
}

Napi::Value CmpContext::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !state_);
}

Napi::Value CmpContext::SetOption(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  int opt = IntArg(info, 0, "option");
  int val = IntArg(info, 1, "value");
  Check(info.Env(), OSSL_CMP_CTX_set_option(ctx, opt, val), "Cannot set CMP option");
  return info.Env().Undefined();
}

Napi::Value CmpContext::GetOption(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  int opt = IntArg(info, 0, "option");
  int val = OSSL_CMP_CTX_get_option(ctx, opt);
  if (val == -1 && ERR_peek_error() != 0) ThrowOssl(info.Env(), "Cannot get CMP option");
  return Napi::Number::New(info.Env(), val);
}

Napi::Value CmpContext::PrintErrors(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  CtxState::Running running(state_.get());
  OSSL_CMP_CTX_print_errors(ctx);
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetServerPath(const Napi::CallbackInfo& info) {
  auto s = OptString(info, 0, "path");
  Check(info.Env(), OSSL_CMP_CTX_set1_serverPath(Use(info.Env()), CStr(s)), "Cannot set server path");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetServer(const Napi::CallbackInfo& info) {
  auto s = OptString(info, 0, "address");
  Check(info.Env(), OSSL_CMP_CTX_set1_server(Use(info.Env()), CStr(s)), "Cannot set server address");
  state_->SetServerName(s ? *s : "");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetServerPort(const Napi::CallbackInfo& info) {
  int port = IntArg(info, 0, "port");
  if (port < 0 || port > 65535) ThrowCode(info.Env(), "ERR_OUT_OF_RANGE", "port must be between 0 and 65535");
  Check(info.Env(), OSSL_CMP_CTX_set_serverPort(Use(info.Env()), port), "Cannot set server port");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetProxy(const Napi::CallbackInfo& info) {
  auto s = OptString(info, 0, "proxy");
  Check(info.Env(), OSSL_CMP_CTX_set1_proxy(Use(info.Env()), CStr(s)), "Cannot set proxy");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetNoProxy(const Napi::CallbackInfo& info) {
  auto s = OptString(info, 0, "names");
  Check(info.Env(), OSSL_CMP_CTX_set1_no_proxy(Use(info.Env()), CStr(s)), "Cannot set no_proxy");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetSrvCert(const Napi::CallbackInfo& info) {
  X509Ptr cert = Nullish(info[0]) ? nullptr : CertFromJs(info[0], "cert");
  Check(info.Env(), OSSL_CMP_CTX_set1_srvCert(Use(info.Env()), cert.get()), "Cannot set server certificate");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetExpectedSender(const Napi::CallbackInfo& info) {
  X509NamePtr name = Nullish(info[0]) ? nullptr : NameFromJs(info[0], "name");
  Check(info.Env(), OSSL_CMP_CTX_set1_expected_sender(Use(info.Env()), name.get()), "Cannot set expected sender");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetTrustedStore(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  X509StorePtr store = Nullish(info[0]) ? nullptr : StoreFromJs(info[0], "certs");
  Check(info.Env(), OSSL_CMP_CTX_set0_trustedStore(ctx, store.get()), "Cannot set trusted store");
  store.release();
  return info.Env().Undefined();
}

Napi::Value CmpContext::GetTrustedStore(const Napi::CallbackInfo& info) {
  return StoreToJs(info.Env(), OSSL_CMP_CTX_get0_trustedStore(Use(info.Env())));
}

Napi::Value CmpContext::SetUntrusted(const Napi::CallbackInfo& info) {
  X509StackPtr certs = Nullish(info[0]) ? nullptr : CertsFromJs(info[0], "certs");
  Check(info.Env(), OSSL_CMP_CTX_set1_untrusted(Use(info.Env()), certs.get()), "Cannot set untrusted certificates");
  return info.Env().Undefined();
}

Napi::Value CmpContext::GetUntrusted(const Napi::CallbackInfo& info) {
  return CertsToJs(info.Env(), OSSL_CMP_CTX_get0_untrusted(Use(info.Env())));
}

Napi::Value CmpContext::SetCert(const Napi::CallbackInfo& info) {
  X509Ptr cert = Nullish(info[0]) ? nullptr : CertFromJs(info[0], "cert");
  OSSL_CMP_CTX* ctx = Use(info.Env());
  Check(info.Env(), OSSL_CMP_CTX_set1_cert(ctx, cert.get()), "Cannot set client certificate");
  DropCachedChain(ctx, cert.get());  // the next message goes out with the new certificate's chain
  return info.Env().Undefined();
}

Napi::Value CmpContext::BuildCertChain(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  X509StorePtr own = Nullish(info[0]) ? nullptr : StoreFromJs(info[0], "ownTrusted");
  X509StackPtr candidates = Nullish(info[1]) ? nullptr : CertsFromJs(info[1], "candidates");
  DropCachedChain(ctx, nullptr);  // build_cert_chain would overwrite (and leak) a chain built before
  Check(info.Env(), OSSL_CMP_CTX_build_cert_chain(ctx, own.get(), candidates.get()),
        "Cannot build the chain of the client certificate");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetPkey(const Napi::CallbackInfo& info) {
  PkeyPtr key = Nullish(info[0]) ? nullptr : KeyFromJs(info[0], true, "key");
  Check(info.Env(), OSSL_CMP_CTX_set1_pkey(Use(info.Env()), key.get()), "Cannot set client private key");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetReferenceValue(const Napi::CallbackInfo& info) {
  std::vector<unsigned char> ref;
  bool clear = Nullish(info[0]);
  if (!clear) ref = BytesFromJs(info[0], "ref");
  Check(info.Env(),
        OSSL_CMP_CTX_set1_referenceValue(Use(info.Env()), clear ? nullptr : ref.data(), static_cast<int>(ref.size())),
        "Cannot set reference value");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetSecretValue(const Napi::CallbackInfo& info) {
  std::vector<unsigned char> sec;
  bool clear = Nullish(info[0]);
  if (!clear) sec = BytesFromJs(info[0], "secret");
  int ok = OSSL_CMP_CTX_set1_secretValue(Use(info.Env()), clear ? nullptr : sec.data(), static_cast<int>(sec.size()));
  OPENSSL_cleanse(sec.data(), sec.size());
  Check(info.Env(), ok, "Cannot set secret value");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetRecipient(const Napi::CallbackInfo& info) {
  X509NamePtr name = Nullish(info[0]) ? nullptr : NameFromJs(info[0], "name");
  Check(info.Env(), OSSL_CMP_CTX_set1_recipient(Use(info.Env()), name.get()), "Cannot set recipient");
  return info.Env().Undefined();
}

Napi::Value CmpContext::PushGeninfoITAV(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  ItavPtr itav = ItavFromJs(info[0], "itav");
  Check(info.Env(), OSSL_CMP_CTX_push0_geninfo_ITAV(ctx, itav.get()), "Cannot add generalInfo ITAV");
  itav.release();
  return info.Env().Undefined();
}

Napi::Value CmpContext::ResetGeninfoITAVs(const Napi::CallbackInfo& info) {
  Check(info.Env(), OSSL_CMP_CTX_reset_geninfo_ITAVs(Use(info.Env())), "Cannot reset generalInfo ITAVs");
  return info.Env().Undefined();
}

Napi::Value CmpContext::GetGeninfoITAVs(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  const Features& f = GetFeatures();
  if (f.get0_geninfo_ITAVs == nullptr) {
    ThrowCode(info.Env(), "ERR_CMP_NOT_SUPPORTED",
              "getGeninfoITAVs needs OpenSSL 3.3 or later (OSSL_CMP_CTX_get0_geninfo_ITAVs)");
  }
  return ItavsToJs(info.Env(), f.get0_geninfo_ITAVs(ctx));
}

Napi::Value CmpContext::SetExtraCertsOut(const Napi::CallbackInfo& info) {
  X509StackPtr certs = Nullish(info[0]) ? nullptr : CertsFromJs(info[0], "certs");
  Check(info.Env(), OSSL_CMP_CTX_set1_extraCertsOut(Use(info.Env()), certs.get()), "Cannot set extraCertsOut");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetNewPkey(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  bool priv = BoolArg(info, 0, "priv");
  PkeyPtr key = Nullish(info[1]) ? nullptr : KeyFromJs(info[1], priv, "key");
  Check(info.Env(), OSSL_CMP_CTX_set0_newPkey(ctx, priv ? 1 : 0, key.get()), "Cannot set new key");
  key.release();
  return info.Env().Undefined();
}

Napi::Value CmpContext::GetNewPkey(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  bool priv = BoolArg(info, 0, "priv");
  EVP_PKEY* key = OSSL_CMP_CTX_get0_newPkey(ctx, priv ? 1 : 0);
  return KeyToJs(info.Env(), key, priv);
}

Napi::Value CmpContext::SetIssuer(const Napi::CallbackInfo& info) {
  X509NamePtr name = Nullish(info[0]) ? nullptr : NameFromJs(info[0], "name");
  Check(info.Env(), OSSL_CMP_CTX_set1_issuer(Use(info.Env()), name.get()), "Cannot set issuer");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetSubjectName(const Napi::CallbackInfo& info) {
  X509NamePtr name = Nullish(info[0]) ? nullptr : NameFromJs(info[0], "name");
  Check(info.Env(), OSSL_CMP_CTX_set1_subjectName(Use(info.Env()), name.get()), "Cannot set subject name");
  return info.Env().Undefined();
}

Napi::Value CmpContext::PushSubjectAltName(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  GenNamePtr name = GeneralNameFromJs(info[0], "name");
  Check(info.Env(), OSSL_CMP_CTX_push1_subjectAltName(ctx, name.get()), "Cannot add subject alternative name");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetReqExtensions(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  X509_EXTENSIONS* exts = nullptr;
  if (!Nullish(info[0])) {
    std::vector<unsigned char> der = BytesFromJs(info[0], "extensions");
    const unsigned char* p = der.data();
    exts = d2i_X509_EXTENSIONS(nullptr, &p, static_cast<long>(der.size()));
    if (exts == nullptr || p != der.data() + der.size()) {
      sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
      ThrowOssl(info.Env(), "extensions is not a DER-encoded Extensions sequence");
    }
  }
  if (OSSL_CMP_CTX_set0_reqExtensions(ctx, exts) <= 0) {
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ThrowOssl(info.Env(), "Cannot set request extensions");
  }
  return info.Env().Undefined();
}

Napi::Value CmpContext::ReqExtensionsHaveSAN(const Napi::CallbackInfo& info) {
  int r = OSSL_CMP_CTX_reqExtensions_have_SAN(Use(info.Env()));
  if (r < 0) ThrowOssl(info.Env(), "Cannot inspect request extensions");
  return Napi::Boolean::New(info.Env(), r == 1);
}

Napi::Value CmpContext::PushPolicy(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  std::string text = StringFromJs(info[0], "policy");
  ASN1_OBJECT* oid = OBJ_txt2obj(text.c_str(), 0);
  if (oid == nullptr) ThrowOssl(info.Env(), "policy is not a known OID or object name: '" + text + "'");
  POLICYINFO* pinfo = POLICYINFO_new();
  if (pinfo == nullptr) {
    ASN1_OBJECT_free(oid);
    ThrowOssl(info.Env(), "out of memory");
  }
  pinfo->policyid = oid;
  if (OSSL_CMP_CTX_push0_policy(ctx, pinfo) <= 0) {
    POLICYINFO_free(pinfo);
    ThrowOssl(info.Env(), "Cannot add policy");
  }
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetOldCert(const Napi::CallbackInfo& info) {
  X509Ptr cert = Nullish(info[0]) ? nullptr : CertFromJs(info[0], "cert");
  Check(info.Env(), OSSL_CMP_CTX_set1_oldCert(Use(info.Env()), cert.get()), "Cannot set old certificate");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetP10CSR(const Napi::CallbackInfo& info) {
  X509ReqPtr csr = Nullish(info[0]) ? nullptr : CsrFromJs(info[0], "csr");
  Check(info.Env(), OSSL_CMP_CTX_set1_p10CSR(Use(info.Env()), csr.get()), "Cannot set PKCS#10 CSR");
  return info.Env().Undefined();
}

Napi::Value CmpContext::PushGenmITAV(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  ItavPtr itav = ItavFromJs(info[0], "itav");
  Check(info.Env(), OSSL_CMP_CTX_push0_genm_ITAV(ctx, itav.get()), "Cannot add genm ITAV");
  itav.release();
  return info.Env().Undefined();
}

Napi::Value CmpContext::GetStatus(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), OSSL_CMP_CTX_get_status(Use(info.Env())));
}

Napi::Value CmpContext::GetStatusString(const Napi::CallbackInfo& info) {
  std::vector<std::string> texts = FreeTextToStrings(OSSL_CMP_CTX_get0_statusString(Use(info.Env())));
  Napi::Array arr = Napi::Array::New(info.Env(), texts.size());
  for (size_t i = 0; i < texts.size(); i++) arr.Set(i, texts[i]);
  return arr;
}

Napi::Value CmpContext::GetFailInfoCode(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), OSSL_CMP_CTX_get_failInfoCode(Use(info.Env())));
}

Napi::Value CmpContext::SnprintPKIStatus(const Napi::CallbackInfo& info) {
  char buf[OSSL_CMP_PKISI_BUFLEN];
  const char* s = OSSL_CMP_CTX_snprint_PKIStatus(Use(info.Env()), buf, sizeof buf);
  if (s == nullptr) return info.Env().Null();
  return Napi::String::New(info.Env(), s);
}

Napi::Value CmpContext::GetNewCert(const Napi::CallbackInfo& info) {
  return CertToJs(info.Env(), OSSL_CMP_CTX_get0_newCert(Use(info.Env())));
}

Napi::Value CmpContext::GetNewChain(const Napi::CallbackInfo& info) {
  X509StackPtr certs(OSSL_CMP_CTX_get1_newChain(Use(info.Env())));
  return CertsToJs(info.Env(), certs.get());
}

Napi::Value CmpContext::GetCaPubs(const Napi::CallbackInfo& info) {
  X509StackPtr certs(OSSL_CMP_CTX_get1_caPubs(Use(info.Env())));
  return CertsToJs(info.Env(), certs.get());
}

Napi::Value CmpContext::GetExtraCertsIn(const Napi::CallbackInfo& info) {
  X509StackPtr certs(OSSL_CMP_CTX_get1_extraCertsIn(Use(info.Env())));
  return CertsToJs(info.Env(), certs.get());
}

Napi::Value CmpContext::GetValidatedSrvCert(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  const Features& f = GetFeatures();
  if (f.get0_validatedSrvCert == nullptr) {
    ThrowCode(info.Env(), "ERR_CMP_NOT_SUPPORTED",
              "getValidatedSrvCert needs OpenSSL 3.2 or later (OSSL_CMP_CTX_get0_validatedSrvCert)");
  }
  return CertToJs(info.Env(), f.get0_validatedSrvCert(ctx));
}

Napi::Value CmpContext::SetTransactionID(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  ASN1_OCTET_STRING* id = Nullish(info[0]) ? nullptr : OctetsFromJs(info[0], "id");
  int ok = OSSL_CMP_CTX_set1_transactionID(ctx, id);
  ASN1_OCTET_STRING_free(id);
  Check(info.Env(), ok, "Cannot set transactionID");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetSenderNonce(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  ASN1_OCTET_STRING* nonce = Nullish(info[0]) ? nullptr : OctetsFromJs(info[0], "nonce");
  int ok = OSSL_CMP_CTX_set1_senderNonce(ctx, nonce);
  ASN1_OCTET_STRING_free(nonce);
  Check(info.Env(), ok, "Cannot set senderNonce");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetSerialNumber(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = Use(info.Env());
  const Features& f = GetFeatures();
  if (f.set1_serialNumber == nullptr) {
    ThrowCode(info.Env(), "ERR_CMP_NOT_SUPPORTED",
              "setSerialNumber needs OpenSSL 3.2 or later (OSSL_CMP_CTX_set1_serialNumber)");
  }
  ASN1_INTEGER* sn = nullptr;
  if (!Nullish(info[0])) {
    sn = IntegerFromBytes(BytesFromJs(info[0], "serial"));
    if (sn == nullptr) ThrowOssl(info.Env(), "serial number could not be converted");
  }
  int ok = f.set1_serialNumber(ctx, sn);
  ASN1_INTEGER_free(sn);
  Check(info.Env(), ok, "Cannot set serial number");
  return info.Env().Undefined();
}

// The facade passes its own async wrappers, so these always return Promises.
Napi::Value CmpContext::SetTransferCallback(const Napi::CallbackInfo& info) {
  Use(info.Env());
  state_->transferFn = OptFunction(info, 0, "fn");
  state_->SetTransfer(!state_->transferFn.IsEmpty());
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetCertConfCallback(const Napi::CallbackInfo& info) {
  Use(info.Env());
  state_->certConfFn = OptFunction(info, 0, "fn");
  if (!state_->certConfFn.IsEmpty()) {
    state_->SetCertConfJs(true);
  } else {
    state_->SetCertConfTrusted(nullptr);
  }
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetCertConfTrusted(const Napi::CallbackInfo& info) {
  Use(info.Env());
  X509StorePtr store = Nullish(info[0]) ? nullptr : StoreFromJs(info[0], "certs");
  state_->certConfFn.Reset();
  state_->SetCertConfTrusted(store.release());
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetLogCallback(const Napi::CallbackInfo& info) {
  Use(info.Env());
  state_->logFn = OptFunction(info, 0, "fn");
  state_->logToJs.store(!state_->logFn.IsEmpty());
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetTls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Use(env);
  if (Nullish(info[0])) {
    state_->SetTls(nullptr, "");
    return env.Undefined();
  }
  if (!info[0].IsObject()) ThrowType(env, "options must be an object or null");
  Napi::Object o = info[0].As<Napi::Object>();
  std::unique_ptr<SSL_CTX, Freer<SSL_CTX, SSL_CTX_free>> tls(SSL_CTX_new(TLS_client_method()));
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
  std::string hostName = Nullish(host) ? "" : StringFromJs(host, "tls.host");
  state_->SetTls(tls.release(), hostName);
  return env.Undefined();
}

Napi::Value CmpContext::SetMessageFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Use(env);
  if (!info[0].IsObject()) ThrowType(env, "options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  CtxState::MessageFiles f;
  auto list = [&](const char* key, std::vector<std::string>& out) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return;
    if (!v.IsArray()) ThrowType(env, std::string(key) + " must be an array of file names");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(StringFromJs(a.Get(i), key));
  };
  list("reqout", f.reqout);
  list("rspout", f.rspout);
  list("reqin", f.reqin);
  list("rspin", f.rspin);
  f.reqinNewTid = o.Get("reqinNewTid").ToBoolean();
  state_->SetMessageFiles(std::move(f));
  return env.Undefined();
}

// The certificate verification options of the openssl apps (-verify_depth,
// -attime, -purpose, -partial_chain, ...), for every trust store in use.
Napi::Value CmpContext::SetVerifyParam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Use(env);
  if (!info[0].IsObject()) ThrowType(env, "options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  std::unique_ptr<X509_VERIFY_PARAM, Freer<X509_VERIFY_PARAM, X509_VERIFY_PARAM_free>> vpm(X509_VERIFY_PARAM_new());
  if (!vpm) ThrowOssl(env, "out of memory");
  auto str = [&](const char* k) { return StringFromJs(o.Get(k), k); };
  auto num = [&](const char* k) {
    if (!o.Get(k).IsNumber()) ThrowType(env, std::string(k) + " must be a number");
    return o.Get(k).As<Napi::Number>().Int64Value();
  };
  if (o.Has("verifyName")) {
    const X509_VERIFY_PARAM* named = X509_VERIFY_PARAM_lookup(str("verifyName").c_str());
    if (named == nullptr || !X509_VERIFY_PARAM_set1(vpm.get(), named)) {
      ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "Invalid verify name " + str("verifyName"));
    }
  }
  if (o.Get("policy").IsArray()) {
    Napi::Array policies = o.Get("policy").As<Napi::Array>();
    for (uint32_t i = 0; i < policies.Length(); i++) {
      std::string text = StringFromJs(policies.Get(i), "policy");
      ASN1_OBJECT* obj = OBJ_txt2obj(text.c_str(), 0);
      if (obj == nullptr || !X509_VERIFY_PARAM_add0_policy(vpm.get(), obj)) {
        ASN1_OBJECT_free(obj);
        ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "Invalid Policy " + text);
      }
    }
  }
  if (o.Has("purpose")) {
    int i = X509_PURPOSE_get_by_sname(str("purpose").c_str());
    const X509_PURPOSE* xp = i < 0 ? nullptr : X509_PURPOSE_get0(i);
    if (xp == nullptr || !X509_VERIFY_PARAM_set_purpose(vpm.get(), X509_PURPOSE_get_id(xp))) {
      ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "Invalid purpose " + str("purpose"));
    }
  }
  if (o.Has("depth")) X509_VERIFY_PARAM_set_depth(vpm.get(), static_cast<int>(num("depth")));
  if (o.Has("authLevel")) X509_VERIFY_PARAM_set_auth_level(vpm.get(), static_cast<int>(num("authLevel")));
  if (o.Has("attime")) X509_VERIFY_PARAM_set_time(vpm.get(), static_cast<time_t>(num("attime")));
  if (o.Has("host") && !X509_VERIFY_PARAM_set1_host(vpm.get(), str("host").c_str(), 0)) ThrowOssl(env, "Invalid verify_hostname");
  if (o.Has("email") && !X509_VERIFY_PARAM_set1_email(vpm.get(), str("email").c_str(), 0)) ThrowOssl(env, "Invalid verify_email");
  if (o.Has("ip") && !X509_VERIFY_PARAM_set1_ip_asc(vpm.get(), str("ip").c_str())) {
    ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "Invalid verify_ip " + str("ip"));
  }
  static const struct { const char* name; unsigned long flags; } kFlags[] = {
      {"ignore_critical", X509_V_FLAG_IGNORE_CRITICAL}, {"issuer_checks", 0},
      {"crl_check", X509_V_FLAG_CRL_CHECK}, {"crl_check_all", X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL},
      {"policy_check", X509_V_FLAG_POLICY_CHECK}, {"explicit_policy", X509_V_FLAG_EXPLICIT_POLICY},
      {"inhibit_any", X509_V_FLAG_INHIBIT_ANY}, {"inhibit_map", X509_V_FLAG_INHIBIT_MAP},
      {"x509_strict", X509_V_FLAG_X509_STRICT}, {"extended_crl", X509_V_FLAG_EXTENDED_CRL_SUPPORT},
      {"use_deltas", X509_V_FLAG_USE_DELTAS}, {"policy_print", X509_V_FLAG_NOTIFY_POLICY},
      {"check_ss_sig", X509_V_FLAG_CHECK_SS_SIGNATURE}, {"trusted_first", X509_V_FLAG_TRUSTED_FIRST},
      {"suiteB_128_only", X509_V_FLAG_SUITEB_128_LOS_ONLY}, {"suiteB_128", X509_V_FLAG_SUITEB_128_LOS},
      {"suiteB_192", X509_V_FLAG_SUITEB_192_LOS}, {"partial_chain", X509_V_FLAG_PARTIAL_CHAIN},
      {"no_alt_chains", X509_V_FLAG_NO_ALT_CHAINS}, {"no_check_time", X509_V_FLAG_NO_CHECK_TIME},
      {"allow_proxy_certs", X509_V_FLAG_ALLOW_PROXY_CERTS}};
  if (o.Get("flags").IsArray()) {
    Napi::Array flags = o.Get("flags").As<Napi::Array>();
    for (uint32_t i = 0; i < flags.Length(); i++) {
      std::string name = StringFromJs(flags.Get(i), "flags[]");
      bool known = false;
      for (const auto& f : kFlags) {
        if (name == f.name) {
          known = true;
          if (f.flags != 0) X509_VERIFY_PARAM_set_flags(vpm.get(), f.flags);
        }
      }
      if (!known) ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "Unknown verification flag " + name);
    }
  }
  Check(env, state_->ApplyVerifyParam(vpm.get()) ? 1 : 0, "Cannot apply verification parameters");
  return env.Undefined();
}

Napi::Value CmpContext::ExecCertReq(const Napi::CallbackInfo& info) {
  TransactionInput in;
  in.kind = Transaction::CertReq;
  in.reqType = IntArg(info, 0, "type");
  if (!Nullish(info[1])) in.crm = CrmFromJs(info[1], "crm");
  return Start(info, std::move(in));
}

Napi::Value CmpContext::TryCertReq(const Napi::CallbackInfo& info) {
  TransactionInput in;
  in.kind = Transaction::TryCertReq;
  in.reqType = IntArg(info, 0, "type");
  if (!Nullish(info[1])) in.crm = CrmFromJs(info[1], "crm");
  return Start(info, std::move(in));
}

Napi::Value CmpContext::ExecRR(const Napi::CallbackInfo& info) {
  TransactionInput in;
  in.kind = Transaction::RR;
  return Start(info, std::move(in));
}

Napi::Value CmpContext::ExecGENM(const Napi::CallbackInfo& info) {
  TransactionInput in;
  in.kind = Transaction::GENM;
  return Start(info, std::move(in));
}

Napi::Value CmpContext::GetCaCerts(const Napi::CallbackInfo& info) {
  TransactionInput in;
  in.kind = Transaction::CaCerts;
  return Start(info, std::move(in));
}

Napi::Value CmpContext::GetRootCaKeyUpdate(const Napi::CallbackInfo& info) {
  TransactionInput in;
  in.kind = Transaction::RootCaKeyUpdate;
  if (!Nullish(info[0])) in.cert = CertFromJs(info[0], "oldWithOld");
  return Start(info, std::move(in));
}

Napi::Value CmpContext::GetCertReqTemplate(const Napi::CallbackInfo& info) {
  if (GetFeatures().get1_certReqTemplate == nullptr) {
    ThrowCode(info.Env(), "ERR_CMP_NOT_SUPPORTED",
              "getCertReqTemplate needs OpenSSL 3.4 or later (OSSL_CMP_get1_certReqTemplate)");
  }
  TransactionInput in;
  in.kind = Transaction::CertReqTemplate;
  return Start(info, std::move(in));
}

Napi::Value CmpContext::GetCrlUpdate(const Napi::CallbackInfo& info) {
  if (GetFeatures().get1_crlUpdate == nullptr) {
    ThrowCode(info.Env(), "ERR_CMP_NOT_SUPPORTED", "getCrlUpdate needs OpenSSL 3.4 or later (OSSL_CMP_get1_crlUpdate)");
  }
  TransactionInput in;
  in.kind = Transaction::CrlUpdate;
  if (!Nullish(info[0])) in.cert = CertFromJs(info[0], "crlCert");
  if (!Nullish(info[1])) {
    std::vector<unsigned char> der = BytesFromJs(info[1], "lastCrl");
    const unsigned char* p = der.data();
    in.lastCrl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
    if (!in.lastCrl || p != der.data() + der.size()) ThrowOssl(info.Env(), "lastCrl is not a DER CRL");
  }
  if (!in.cert && !in.lastCrl) {
    ThrowCode(info.Env(), "ERR_CMP_INVALID_ARGUMENT", "getCrlUpdate needs crlCert or lastCrl");
  }
  return Start(info, std::move(in));
}

}  // namespace cmp
