#include "executor.h"

#ifdef __linux__
#include <pthread.h>
#endif

#include <system_error>
#include <thread>

#include "ossl_error.h"

namespace cmp {

namespace {
// Idle threads linger this long so a bulk run reuses them between waves.
constexpr auto kIdleRetire = std::chrono::seconds(10);
}  // namespace

std::shared_ptr<Executor> Executor::Create(Napi::Env env) { return std::shared_ptr<Executor>(new Executor(env)); }

Executor::Executor(Napi::Env env) {
  tsfn_ = Napi::TypedThreadSafeFunction<Executor, Task, CallJs>::New(env, "openssl-cmp transaction", 0, 1, this);
  tsfn_.Unref(env);  // only in-flight work keeps the process alive
}

Executor::~Executor() = default;

void Executor::SetMaxThreads(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  maxThreads_ = n < 1 ? 1 : n;
  // a raised cap lets queued jobs start now
  try {
    while (!stopping_ && RunnableLocked() > idle_) SpawnLocked();
  } catch (const std::system_error&) {
    // the threads there are take the jobs in turn
  }
  wake_.notify_all();
}

size_t Executor::maxThreads() {
  std::lock_guard<std::mutex> lock(mu_);
  return maxThreads_;
}

size_t Executor::RunnableLocked() const {
  size_t n = 0;
  for (const LaneState& l : lanes_) {
    size_t room = l.running < maxThreads_ ? maxThreads_ - l.running : 0;
    n += l.queue.size() < room ? l.queue.size() : room;
  }
  return n;
}

Job* Executor::NextLocked() {
  for (LaneState& l : lanes_) {
    if (!l.queue.empty() && l.running < maxThreads_) {
      Job* job = l.queue.front();
      l.queue.pop_front();
      l.running++;
      running_.insert(job);
      return job;
    }
  }
  return nullptr;
}

// A new thread counts as idle until it takes a job: a burst of submissions
// before any thread runs must not start a thread per submission.
void Executor::SpawnLocked() {
  std::shared_ptr<Executor> self = shared_from_this();
  std::thread([self] { self->WorkerLoop(); }).detach();
  threads_++;
  idle_++;
}

void Executor::Submit(Napi::Env env, Job* job) {
  std::unique_lock<std::mutex> lock(mu_);
  lanes_[static_cast<int>(job->lane())].queue.push_back(job);
  // A notified idle thread counts as idle until it wakes, so compare the
  // jobs that may start now against the idle threads, not against zero.
  bool notify = false;
  if (RunnableLocked() > idle_) {
    try {
      SpawnLocked();
    } catch (const std::system_error&) {
      // No thread to be had: a running thread takes the job when it is free;
      // with none running, the job fails here rather than wait forever.
      if (threads_ == 0) {
        lanes_[static_cast<int>(job->lane())].queue.pop_back();
        lock.unlock();
        delete job;
        ThrowCode(env, "ERR_CMP_NO_THREAD", "No thread could be started for the CMP transaction");
      }
    }
  } else {
    notify = true;
  }
  lock.unlock();
  if (notify) wake_.notify_one();  // outside mu_, which the woken thread takes first
  if (inFlight_++ == 0) tsfn_.Ref(env);
}

void Executor::Release(Napi::Env env, Job* job) {
  if (job->released_) return;
  job->released_ = true;
  if (--inFlight_ == 0) tsfn_.Unref(env);
}

void Executor::WorkerLoop() {
#ifdef __linux__
  // what top -H, perf and /proc/PID/task show: the transactions' threads apart from libuv's
  pthread_setname_np(pthread_self(), "openssl-cmp");
#endif
  std::unique_lock<std::mutex> lock(mu_);
  idle_--;
  for (;;) {
    Job* job = stopping_ ? nullptr : NextLocked();
    if (job == nullptr) {
      if (stopping_) break;
      idle_++;
      bool woke = wake_.wait_for(lock, kIdleRetire, [this] { return stopping_ || RunnableLocked() > 0; });
      idle_--;
      if (!woke) break;
      continue;
    }
    lock.unlock();
    job->Execute();
    lock.lock();
    lanes_[static_cast<int>(job->lane())].running--;
    running_.erase(job);
    if (abandoned_) continue;  // the environment is gone: the job leaks, nothing else can free it
    bool first;
    {
      std::lock_guard<std::mutex> d(doneMu_);
      done_.push_back(job);  // deleted on the main thread, even at shutdown
      first = done_.size() == 1;
    }
    if (!stopping_ && first) {
      // The job the main thread submits in answer takes mu_: call outside
      // it; teardown waits for notifying_ so as not to release the thread-safe
      // function under this call.
      // It counts as idle meanwhile: it looks for the next job right after,
      // so a job submitted in answer to this completion needs no new thread.
      notifying_++;
      idle_++;
      lock.unlock();
      tsfn_.NonBlockingCall();
      lock.lock();
      idle_--;
      if (--notifying_ == 0 && stopping_) exited_.notify_all();
    }
  }
  threads_--;
  exited_.notify_all();
}

bool Executor::Post(Task fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  auto* task = new Task(std::move(fn));
  if (tsfn_.NonBlockingCall(task) != napi_ok) {
    delete task;
    return false;
  }
  return true;
}

// A null task means "completions are waiting".
void Executor::CallJs(Napi::Env env, Napi::Function, Executor* self, Task* task) {
  std::unique_ptr<Task> owned(task);
  if (env == nullptr) return;
  ErrorQueueMark mark;
  if (owned) {
    Napi::HandleScope scope(env);
    (*owned)(env);
  } else {
    self->DrainDone(env);
  }
}

void Executor::DrainDone(Napi::Env env) {
  std::deque<Job*> done;
  {
    std::lock_guard<std::mutex> lock(doneMu_);
    done.swap(done_);
  }
  for (Job* job : done) {
    Napi::HandleScope scope(env);
    try {
      job->Complete(env);
    } catch (const Napi::Error& e) {
      // Complete settles its own promise; anything escaping is a bug report.
      e.ThrowAsJavaScriptException();
    }
    bool released = job->released_;
    delete job;
    if (!released && --inFlight_ == 0) tsfn_.Unref(env);
  }
}

void Executor::Shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return;
  stopping_ = true;
  for (Job* job : running_) job->Abort();
  std::deque<Job*> queued;
  for (LaneState& l : lanes_) {
    queued.insert(queued.end(), l.queue.begin(), l.queue.end());
    l.queue.clear();
  }
  wake_.notify_all();
  exited_.wait_for(lock, kTeardownWait, [this] { return running_.empty() && notifying_ == 0; });
  abandoned_ = !running_.empty();
  std::deque<Job*> done;
  {
    std::lock_guard<std::mutex> d(doneMu_);
    done.swap(done_);
  }
  lock.unlock();
  for (Job* job : queued) delete job;
  for (Job* job : done) delete job;
  tsfn_.Abort();
}

}  // namespace cmp
