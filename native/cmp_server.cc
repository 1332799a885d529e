#include "cmp_server.h"

#include <openssl/err.h>

#include <ctime>

#include "addon.h"
#include "features.h"
#include "js_args.h"
#include "convert.h"
#include "message_check.h"
#include "ossl_error.h"
#include "platform.h"
#include "promise_job.h"
#include "server_callbacks.h"

namespace cmp {

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
  const ASN1_OCTET_STRING* tidOs = OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req));
  std::string tid = tidOs == nullptr ? std::string() : HexOf(tidOs->data, static_cast<size_t>(tidOs->length));
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

class ServerJob : public PromiseJob<ServerState> {
 public:
  ServerJob(Napi::Env env, std::shared_ptr<ServerState> state, Napi::Object owner, std::vector<unsigned char> req)
      : PromiseJob(env, std::move(state), owner), request_(std::move(req)) {}
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

 private:
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
