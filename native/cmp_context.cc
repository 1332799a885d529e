#include "cmp_context.h"

#include <openssl/err.h>

#include "addon.h"
#include "cert_chain.h"
#include "features.h"
#include "js_args.h"
#include "tls_options.h"
#include "verify_param.h"

namespace cmp {

#define CMP_METHOD(js, fn) InstanceMethod<&CmpContext::Marked<&CmpContext::fn>>(js, napi_default_method)

Napi::Function CmpContext::Define(Napi::Env env) {
  std::vector<PropertyDescriptor> methods = {
      CMP_METHOD("reinit", Reinit),
      CMP_METHOD("close", Close),
      CMP_METHOD("abort", Abort),
      CMP_METHOD("isBusy", IsBusy),
      CMP_METHOD("isClosed", IsClosed),
      CMP_METHOD("setOption", SetOption),
      CMP_METHOD("getOption", GetOption),
      CMP_METHOD("printErrors", PrintErrors),
      CMP_METHOD("setServer", SetServer),
      CMP_METHOD("setServerPort", SetServerPort),
      CMP_METHOD("getTrustedStore", GetTrustedStore),
      CMP_METHOD("getUntrusted", GetUntrusted),
      CMP_METHOD("setCert", SetCert),
      CMP_METHOD("buildCertChain", BuildCertChain),
      CMP_METHOD("resetGeninfoITAVs", ResetGeninfoITAVs),
      CMP_METHOD("getGeninfoITAVs", GetGeninfoITAVs),
      CMP_METHOD("setNewPkey", SetNewPkey),
      CMP_METHOD("getNewPkey", GetNewPkey),
      CMP_METHOD("setReqExtensions", SetReqExtensions),
      CMP_METHOD("reqExtensionsHaveSAN", ReqExtensionsHaveSAN),
      CMP_METHOD("pushPolicy", PushPolicy),
      CMP_METHOD("getStatus", GetStatus),
      CMP_METHOD("getStatusString", GetStatusString),
      CMP_METHOD("getFailInfoCode", GetFailInfoCode),
      CMP_METHOD("snprintPKIStatus", SnprintPKIStatus),
      CMP_METHOD("getNewCert", GetNewCert),
      CMP_METHOD("getNewChain", GetNewChain),
      CMP_METHOD("getCaPubs", GetCaPubs),
      CMP_METHOD("getExtraCertsIn", GetExtraCertsIn),
      CMP_METHOD("getValidatedSrvCert", GetValidatedSrvCert),
      CMP_METHOD("setSerialNumber", SetSerialNumber),
      CMP_METHOD("setTransferCallback", SetTransferCallback),
      CMP_METHOD("setCertConfCallback", SetCertConfCallback),
      CMP_METHOD("setCertConfTrusted", SetCertConfTrusted),
      CMP_METHOD("setIssuedDetails", SetIssuedDetails),
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
  };
  AddTableSetters(methods);
  return DefineClass(env, "NativeCmpContext", methods);
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

OSSL_CMP_CTX* CmpContext::Use(Napi::Env env, bool flushReinit) {
  if (!state_) ThrowCode(env, "ERR_CMP_CONTEXT_CLOSED", "The CMP context is closed");
  if (state_->busy()) ThrowCode(env, "ERR_CMP_CONTEXT_BUSY", "A transaction is in progress on this CMP context");
  if (flushReinit) Check(env, state_->FlushReinit(), "OSSL_CMP_CTX_reinit failed");
  return state_->ctx();
}

Napi::Value CmpContext::Start(const Napi::CallbackInfo& info, TransactionInput input) {
  Napi::Env env = info.Env();
  UseKeepingReinit(env);  // the transaction's thread does a pending reinit
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
  UseKeepingReinit(info.Env());
  state_->RequestReinit();
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
  OSSL_CMP_CTX* ctx = UseKeepingReinit(info.Env());
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

Napi::Value CmpContext::SetServer(const Napi::CallbackInfo& info) {
  auto s = OptString(info, 0, "address");
  Check(info.Env(), OSSL_CMP_CTX_set1_server(UseKeepingReinit(info.Env()), CStr(s)), "Cannot set server address");
  state_->SetServerName(s ? *s : "");
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetServerPort(const Napi::CallbackInfo& info) {
  int port = IntArg(info, 0, "port");
  if (port < 0 || port > 65535) ThrowCode(info.Env(), "ERR_OUT_OF_RANGE", "port must be between 0 and 65535");
  Check(info.Env(), OSSL_CMP_CTX_set_serverPort(UseKeepingReinit(info.Env()), port), "Cannot set server port");
  return info.Env().Undefined();
}

Napi::Value CmpContext::GetTrustedStore(const Napi::CallbackInfo& info) {
  return StoreToJs(info.Env(), OSSL_CMP_CTX_get0_trustedStore(Use(info.Env())));
}

Napi::Value CmpContext::GetUntrusted(const Napi::CallbackInfo& info) {
  return CertsToJs(info.Env(), OSSL_CMP_CTX_get0_untrusted(Use(info.Env())));
}

Napi::Value CmpContext::SetCert(const Napi::CallbackInfo& info) {
  X509Ptr cert = Nullish(info[0]) ? nullptr : CertFromJs(info[0], "cert");
  OSSL_CMP_CTX* ctx = UseKeepingReinit(info.Env());
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

Napi::Value CmpContext::SetNewPkey(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = UseKeepingReinit(info.Env());
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

Napi::Value CmpContext::SetReqExtensions(const Napi::CallbackInfo& info) {
  OSSL_CMP_CTX* ctx = UseKeepingReinit(info.Env());
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
  OSSL_CMP_CTX* ctx = UseKeepingReinit(info.Env());
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
  UseKeepingReinit(info.Env());
  state_->transferFn = OptFunction(info, 0, "fn");
  state_->SetTransfer(!state_->transferFn.IsEmpty());
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetCertConfCallback(const Napi::CallbackInfo& info) {
  UseKeepingReinit(info.Env());
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

// The certConf callback gets a fourth argument, the issued certificate's
// details and the new key's PEM (encrypted under the pass phrase when given).
Napi::Value CmpContext::SetIssuedDetails(const Napi::CallbackInfo& info) {
  UseKeepingReinit(info.Env());
  bool on = BoolArg(info, 0, "on");
  std::unique_ptr<std::string> pass = OptString(info, 1, "passphrase");
  state_->SetIssuedDetails(on, std::move(pass));
  return info.Env().Undefined();
}

Napi::Value CmpContext::SetLogCallback(const Napi::CallbackInfo& info) {
  UseKeepingReinit(info.Env());
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
  TlsOptions tls = TlsOptionsFromJs(env, info[0].As<Napi::Object>());
  state_->SetTls(tls.ctx.release(), tls.host);
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

// The certificate verification options of the openssl apps, for every trust store in use.
Napi::Value CmpContext::SetVerifyParam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Use(env);
  if (!info[0].IsObject()) ThrowType(env, "options must be an object");
  VerifyParamPtr vpm = VerifyParamFromJs(env, info[0].As<Napi::Object>());
  Check(env, state_->ApplyVerifyParam(vpm.get()) ? 1 : 0, "Cannot apply verification parameters");
  return env.Undefined();
}

Napi::Value CmpContext::ExecCertReq(const Napi::CallbackInfo& info) {
  TransactionInput in;
  in.kind = Transaction::CertReq;
  in.reqType = IntArg(info, 0, "type");
  if (!Nullish(info[1])) in.crm = CrmFromJs(info[1], "crm");
  if (!Nullish(info[2])) in.keySpec = StringFromJs(info[2], "keySpec");
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
