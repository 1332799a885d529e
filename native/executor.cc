#include "executor.h"

#include <chrono>

namespace cmp {

namespace {
// Idle threads linger this long so a bulk run reuses them between waves.
constexpr auto kIdleRetire = std::chrono::seconds(10);
}  // namespace

Executor::Executor(Napi::Env env) {
  tsfn_ = Napi::TypedThreadSafeFunction<Executor, Task, CallJs>::New(
      env, "openssl-cmp transaction", 0, 1, this);
  tsfn_.Unref(env);  // only in-flight work keeps the process alive
}

Executor::~Executor() { Shutdown(); }

void Executor::Submit(Napi::Env env, Job* job) {
  if (inFlight_++ == 0) tsfn_.Ref(env);
  std::lock_guard<std::mutex> lock(mu_);
  JoinExited();
  queue_.push_back(job);
  // Every queued job needs a thread of its own: a notified idle thread counts
  // as idle until it wakes, so compare against the queue, not against zero.
  if (queue_.size() > idle_) {
    threads_.emplace_back([this] { WorkerLoop(); });
  } else {
    wake_.notify_one();
  }
}

void Executor::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (queue_.empty() && !stopping_) {
      idle_++;
      bool woke = wake_.wait_for(lock, kIdleRetire, [this] { return !queue_.empty() || stopping_; });
      idle_--;
      if (!woke) break;
    }
    if (stopping_) break;
    Job* job = queue_.front();
    queue_.pop_front();
    running_.insert(job);
    lock.unlock();
    job->Execute();
    lock.lock();
    running_.erase(job);
    done_.push_back(job);  // deleted on the main thread, even at shutdown
    if (stopping_) break;
    tsfn_.NonBlockingCall();
  }
  if (!stopping_) exited_.push_back(std::this_thread::get_id());
}

void Executor::JoinExited() {
  while (!exited_.empty()) {
    std::thread::id id = exited_.front();
    exited_.pop_front();
    for (auto it = threads_.begin(); it != threads_.end(); ++it) {
      if (it->get_id() == id) {
        it->join();
        threads_.erase(it);
        break;
      }
    }
  }
}

bool Executor::Post(Task fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
  }
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
    std::lock_guard<std::mutex> lock(mu_);
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
    delete job;
    if (--inFlight_ == 0) tsfn_.Unref(env);
  }
}

void Executor::Shutdown() {
  std::list<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (Job* job : running_) job->Abort();
    for (Job* job : queue_) delete job;
    queue_.clear();
    threads.swap(threads_);
    wake_.notify_all();
  }
  for (std::thread& t : threads) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (Job* job : done_) delete job;
  done_.clear();
  tsfn_.Abort();
}

}  // namespace cmp
