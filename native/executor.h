// Runs blocking CMP transactions on threads of the addon's own, never on the
// libuv pool: a transaction parked on a JS transport that itself needs the
// pool (fs, dns.lookup, an in-process server) can then never starve it, and
// any number of transactions can be in flight at once.
#pragma once

#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <set>
#include <thread>

namespace cmp {

class Job {
 public:
  virtual ~Job() = default;
  // On a worker thread; must not call Node-API.
  virtual void Execute() = 0;
  // On the main thread, after Execute; settles the promise.
  virtual void Complete(Napi::Env env) = 0;
  // From any thread: make a blocked Execute return soon.
  virtual void Abort() = 0;
};

class Executor {
 public:
  explicit Executor(Napi::Env env);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Main thread. Takes ownership of the job.
  void Submit(Napi::Env env, Job* job);
  // Any thread: runs `fn` on the main thread soon. False once shut down (the
  // caller must then not wait for it).
  bool Post(std::function<void(Napi::Env)> fn);
  // Environment teardown: aborts running jobs, joins every thread; pending
  // promises are left unsettled since no JS can observe them any more.
  void Shutdown();

 private:
  using Task = std::function<void(Napi::Env)>;
  static void CallJs(Napi::Env env, Napi::Function, Executor* self, Task* task);
  void WorkerLoop();
  void DrainDone(Napi::Env env);
  void JoinExited();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job*> queue_;
  std::set<Job*> running_;
  std::deque<Job*> done_;
  std::list<std::thread> threads_;
  std::deque<std::thread::id> exited_;
  size_t idle_ = 0;
  bool stopping_ = false;
  size_t inFlight_ = 0;  // main thread only: submitted, not yet completed
  Napi::TypedThreadSafeFunction<Executor, Task, CallJs> tsfn_;
};

}  // namespace cmp
