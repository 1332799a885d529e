// Runs blocking CMP transactions on threads of the addon's own, never on the
// libuv pool: a transaction parked on a JS transport that itself needs the
// pool (fs, dns.lookup, an in-process server) can then never starve it.
//
// The threads are bounded: each lane (client transactions, server requests)
// runs at most maxThreads jobs at once and queues the rest in order. The
// lanes are separate so that clients parked on an in-process server's
// transfer callback can never hold every thread the server needs to answer.
#pragma once

#include <napi.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>

namespace cmp {

class Job {
 public:
  enum class Lane { Client = 0, Server = 1 };
  virtual ~Job() = default;
  // On a worker thread; must not call Node-API.
  virtual void Execute() = 0;
  // On the main thread, after Execute; settles the promise.
  virtual void Complete(Napi::Env env) = 0;
  // From any thread: make a blocked Execute return soon.
  virtual void Abort() = 0;
  virtual Lane lane() const { return Lane::Client; }

 private:
  friend class Executor;
  bool released_ = false;  // main thread: settled early, no longer keeps the process alive
};

class Executor : public std::enable_shared_from_this<Executor> {
 public:
  static constexpr size_t kDefaultMaxThreads = 64;
  // How long environment teardown waits for running jobs before it leaves
  // those still stuck (in connect or DNS, which nothing can interrupt) behind.
  static constexpr std::chrono::milliseconds kTeardownWait{1000};

  static std::shared_ptr<Executor> Create(Napi::Env env);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Main thread. Takes ownership of the job.
  void Submit(Napi::Env env, Job* job);
  // Main thread: a job that settled its promise before Execute returned no
  // longer holds the process open; it still completes (and is freed) later.
  void Release(Napi::Env env, Job* job);
  // Any thread: runs `fn` on the main thread soon. False once shut down (the
  // caller must then not wait for it).
  bool Post(std::function<void(Napi::Env)> fn);
  // Environment teardown: aborts running jobs and waits for them at most
  // kTeardownWait; pending promises are left unsettled since no JS can
  // observe them any more. A job still running after that is abandoned: its
  // thread exits when the job returns, and leaks the job rather than touch
  // the environment that is gone.
  void Shutdown();

  // Main thread: the per-lane cap (at least 1).
  void SetMaxThreads(size_t n);
  size_t maxThreads();

 private:
  explicit Executor(Napi::Env env);
  using Task = std::function<void(Napi::Env)>;
  static void CallJs(Napi::Env env, Napi::Function, Executor* self, Task* task);
  void WorkerLoop();
  // With mu_ held: the next job a thread may start, or null.
  Job* NextLocked();
  size_t RunnableLocked() const;
  void SpawnLocked();
  void DrainDone(Napi::Env env);

  struct LaneState {
    std::deque<Job*> queue;
    size_t running = 0;
  };

  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable exited_;
  LaneState lanes_[2];
  std::set<Job*> running_;
  // Completions have a lock of their own: the main thread drains them the
  // moment a worker posts, while that worker still needs mu_ to go idle.
  std::mutex doneMu_;  // taken inside mu_, never the other way round
  std::deque<Job*> done_;
  size_t maxThreads_ = kDefaultMaxThreads;
  size_t threads_ = 0;
  size_t idle_ = 0;
  size_t notifying_ = 0;  // threads inside tsfn_.NonBlockingCall
  bool stopping_ = false;
  bool abandoned_ = false;  // teardown gave up waiting
  size_t inFlight_ = 0;     // main thread only: submitted, not yet completed
  Napi::TypedThreadSafeFunction<Executor, Task, CallJs> tsfn_;
};

}  // namespace cmp
