// OpenSSL's per-thread error queue, captured where it was filled and turned
// into the package's CmpError on the main thread.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

namespace cmp {

struct OsslErrorEntry {
  unsigned long packed = 0;
  std::string library;  // "CMP routines"
  std::string reason;   // "wrong algorithm oid"
  std::string code;     // "ERR_OSSL_CMP_WRONG_ALGORITHM_OID"
  std::string data;     // ERR_add_error_data text, may be empty
  std::string line;     // full one-line form, as ERR_print_errors shows it
};

// Everything needed to build a CmpError later, on another thread if need be.
struct ErrorInfo {
  std::string code;     // overrides the code derived from the queue
  std::string message;  // overrides the message derived from the queue
  std::vector<OsslErrorEntry> stack;
  // What the server said, when it said something (status < 0: nothing).
  int pkiStatus = -1;
  int failInfoCode = -1;
  std::vector<std::string> statusString;

  bool empty() const { return code.empty() && message.empty() && stack.empty(); }
  // Drains this thread's OpenSSL error queue into `stack`.
  void DrainQueue();
};

// An error OpenSSL already took off the queue and handed to the CMP log
// callback (OSSL_CMP_CTX_print_errors runs before every message sent):
// component "OpenSSL:<library>:<function>", message "<reason>[ : <data>]".
bool EntryFromPrintedError(const char* component, const char* message, OsslErrorEntry& out);

// Node's MarkPopErrorOnReturn: every native entry point on the main thread
// (the registered functions and methods, constructors, completions and
// callbacks the executor runs) marks OpenSSL's error queue on the way in and
// pops back to the mark on the way out, so no call leaves its errors behind
// for Node's own crypto or for the next call to trip on.
class ErrorQueueMark {
 public:
  ErrorQueueMark();
  ~ErrorQueueMark();
  ErrorQueueMark(const ErrorQueueMark&) = delete;
  ErrorQueueMark& operator=(const ErrorQueueMark&) = delete;
};

// A module function under an ErrorQueueMark, for Napi::Function::New.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Marked(const Napi::CallbackInfo& info) {
  ErrorQueueMark mark;
  return F(info);
}

// The same for instance methods: InstanceMethod<&Class::Marked<&Class::Fn>>.
#define CMP_MARKED_METHODS(Class)                                  \
  template <Napi::Value (Class::*M)(const Napi::CallbackInfo&)>   \
  Napi::Value Marked(const Napi::CallbackInfo& info) {             \
    ErrorQueueMark mark;                                           \
    return (this->*M)(info);                                       \
  }

// Instance of the JS CmpError class registered at load.
Napi::Error MakeCmpError(Napi::Env env, const ErrorInfo& info);

// Throws a CmpError from the current queue, with a fallback message naming
// what failed when OpenSSL left no error behind.
[[noreturn]] void ThrowOssl(Napi::Env env, const std::string& what);
[[noreturn]] void ThrowCode(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);

}  // namespace cmp
