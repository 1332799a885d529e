// A worker thread's line to JS: post work to the main thread, wait for a JS
// function's (promise) result with a timeout, and be woken by an abort or by
// environment teardown. Shared by client contexts and server sessions.
#pragma once

#include <napi.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cmp {

class Executor;

// The answer of a JS callback, filled on the main thread, read by the worker.
struct JsReply {
  bool settled = false;
  bool ok = false;
  std::vector<unsigned char> bytes;  // transfer: the DER response
  int number = 0;                    // certConf: the failure bits
  std::shared_ptr<void> payload;     // anything else, converted on the main thread
  std::string problem;               // why it failed, for the error message
};

// One line of OpenSSL's CMP log, copied off the worker thread, as the JS log
// callbacks take it: { level, component, message, file?, line? }.
struct LogLine {
  LogLine(const char* component, const char* file, int line, int level, const char* message);
  Napi::Object ToJs(Napi::Env env) const;
  int level;
  int line;
  std::string component, file, message;
};

// Where a failing callback leaves what it produced (held in a wrapper object
// so primitives can be kept too). Main thread only.
struct CauseSlot {
  virtual ~CauseSlot() = default;
  Napi::Reference<Napi::Value> cause;
  void Keep(Napi::Value value);
  Napi::Value Get();
};

// Per environment: what JsLink::CallAsync follows a JS promise with, made once.
struct AsyncRelay {
  explicit AsyncRelay(Napi::Env env);
  Napi::FunctionReference relay;   // (promise, token, settle): calls settle(token, ok, value) when it settles
  Napi::FunctionReference settle;  // native, takes the token CallAsync made
};

class JsLink : public std::enable_shared_from_this<JsLink> {
 public:
  explicit JsLink(Executor* executor) : executor_(executor) {}
  virtual ~JsLink() = default;
  JsLink(const JsLink&) = delete;
  JsLink& operator=(const JsLink&) = delete;

  // Any thread: ends the running work as soon as it can notice.
  void Abort();
  bool aborted();
  // Worker thread: lets one last exchange through after an abort.
  void SuspendAbort(bool suspended);
  // Worker thread: waits `seconds` unless aborted first; false when aborted.
  bool Sleep(int seconds);

  enum class Wait { Settled, TimedOut, Aborted };
  using Invoke = std::function<void(Napi::Env, const std::shared_ptr<JsReply>&)>;
  // Worker thread: runs `invoke` on the main thread and waits for it to settle
  // the reply, for at most `timeoutSeconds` (0: no limit), never past an abort.
  Wait RoundTrip(Invoke invoke, int timeoutSeconds, std::shared_ptr<JsReply>& reply);
  // Any thread.
  void Settle(const std::shared_ptr<JsReply>& reply, bool ok, std::string problem = "");
  bool IsSettled(const std::shared_ptr<JsReply>& reply);
  // Any thread: posts without waiting.
  void Post(std::function<void(Napi::Env)> fn);

  // Converts a JS result into the reply (main thread); false with `problem` set
  // when the value is unusable.
  using Convert = std::function<bool(Napi::Value, JsReply&, std::string& problem)>;
  // Main thread: calls `fn` (a facade wrapper that returns a Promise) and
  // settles `reply` with what the promise settles with, whatever happens; a
  // failure's cause goes to `causeTo` if that still exists by then.
  void CallAsync(Napi::Env env, Napi::FunctionReference& fn, std::vector<napi_value> args,
                 const std::shared_ptr<JsReply>& reply, Convert convert, std::weak_ptr<CauseSlot> causeTo = {});

 protected:
  // Called with mu_ held when Abort() runs.
  virtual void OnAbortLocked() {}

  Executor* executor_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool aborted_ = false;  // guarded by mu_
};

}  // namespace cmp
