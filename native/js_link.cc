#include "js_link.h"

#include <chrono>

#include "executor.h"
#include "ossl_error.h"

namespace cmp {

LogLine::LogLine(const char* c, const char* f, int l, int lvl, const char* msg)
    : level(lvl), line(l), component(c != nullptr ? c : ""), file(f != nullptr ? f : ""), message(msg != nullptr ? msg : "") {}

Napi::Object LogLine::ToJs(Napi::Env env) const {
  Napi::Object entry = Napi::Object::New(env);
  entry.Set("level", level);
  entry.Set("component", component);
  entry.Set("message", message);
  if (!file.empty()) {
    entry.Set("file", file);
    entry.Set("line", line);
  }
  return entry;
}

void JsLink::Abort() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = true;
  OnAbortLocked();
  cv_.notify_all();
}

bool JsLink::aborted() {
  std::lock_guard<std::mutex> lock(mu_);
  return aborted_;
}

void JsLink::SuspendAbort(bool suspended) {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = !suspended;
}

bool JsLink::Sleep(int seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return aborted_; });
}

JsLink::Wait JsLink::RoundTrip(Invoke invoke, int timeoutSeconds, std::shared_ptr<JsReply>& reply) {
  auto r = std::make_shared<JsReply>();
  std::shared_ptr<JsLink> self = shared_from_this();
  bool posted = executor_ != nullptr && executor_->Post([self, r, invoke](Napi::Env env) {
    if (self->aborted()) return self->Settle(r, false, "aborted");
    invoke(env, r);
  });
  if (!posted) return Wait::Aborted;  // the environment is going away
  std::unique_lock<std::mutex> lock(mu_);
  auto done = [&] { return r->settled || aborted_; };
  bool timedOut = false;
  if (timeoutSeconds > 0) {
    timedOut = !cv_.wait_for(lock, std::chrono::seconds(timeoutSeconds), done);
  } else {
    cv_.wait(lock, done);
  }
  if (!r->settled) {
    r->settled = true;  // abandoned: whatever the callback does later is ignored
    return timedOut ? Wait::TimedOut : Wait::Aborted;
  }
  reply = r;
  return Wait::Settled;
}

void JsLink::Settle(const std::shared_ptr<JsReply>& reply, bool ok, std::string problem) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reply->settled) return;
  reply->settled = true;
  reply->ok = ok;
  reply->problem = std::move(problem);
  cv_.notify_all();
}

bool JsLink::IsSettled(const std::shared_ptr<JsReply>& reply) {
  std::lock_guard<std::mutex> lock(mu_);
  return reply->settled;
}

void JsLink::Post(std::function<void(Napi::Env)> fn) {
  if (executor_ != nullptr) executor_->Post(std::move(fn));
}

void CauseSlot::Keep(Napi::Value value) {
  Napi::Object holder = Napi::Object::New(value.Env());
  holder.Set("value", value);
  cause = Napi::Persistent(holder.As<Napi::Value>());
}

Napi::Value CauseSlot::Get() { return cause.Value().As<Napi::Object>().Get("value"); }

void JsLink::CallAsync(Napi::Env env, Napi::FunctionReference& fn, std::vector<napi_value> args,
                       const std::shared_ptr<JsReply>& reply, Convert convert, std::weak_ptr<CauseSlot> causeTo) {
  std::shared_ptr<JsLink> self = shared_from_this();
  auto fail = [self, reply, causeTo](Napi::Value cause, std::string problem) {
    // Settled already (timed out, aborted): the transaction has moved on and
    // this cause belongs to no error any more.
    std::shared_ptr<CauseSlot> slot = causeTo.lock();
    if (slot && !self->IsSettled(reply)) {
      try {
        slot->Keep(cause);
      } catch (const Napi::Error&) {
        // the cause is lost, the failure is not
      }
    }
    self->Settle(reply, false, std::move(problem));
  };
  try {
    Napi::Value result = fn.Call(args);
    if (!result.IsPromise()) return fail(result, "the callback did not return a promise");
    Napi::Object promise = result.As<Napi::Object>();
    Napi::Function onOk = Napi::Function::New(env, [self, reply, convert, fail](const Napi::CallbackInfo& info) {
      ErrorQueueMark mark;
      try {
        std::string problem;
        if (!convert(info[0], *reply, problem)) return fail(info[0], problem);
        self->Settle(reply, true);
      } catch (const Napi::Error& e) {
        fail(e.Value(), e.Message());
      }
    });
    Napi::Function onErr = Napi::Function::New(env, [fail](const Napi::CallbackInfo& info) {
      fail(info[0], "the callback failed");
    });
    promise.Get("then").As<Napi::Function>().Call(promise, {onOk, onErr});
  } catch (const Napi::Error& e) {
    fail(e.Value(), "the callback threw");
  }
}

}  // namespace cmp
