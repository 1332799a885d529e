#include "ctx_state.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <new>

namespace cmp {

namespace {
thread_local CtxState* current = nullptr;
}  // namespace

CtxState::CtxState() : ctx_(OSSL_CMP_CTX_new(nullptr, nullptr)) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  // Without a log callback OpenSSL prints to stdout; a library must not.
  OSSL_CMP_CTX_set_log_cb(ctx_, LogCallback);
  OSSL_CMP_CTX_set_http_cb(ctx_, HttpCallback);
}

CtxState::~CtxState() { OSSL_CMP_CTX_free(ctx_); }

bool CtxState::TryBegin() {
  bool expected = false;
  if (!busy_.compare_exchange_strong(expected, true)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = false;
  return true;
}

void CtxState::End() { busy_.store(false); }

void CtxState::Abort() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = true;
  if (httpFd_ >= 0) shutdown(httpFd_, SHUT_RDWR);
  cv_.notify_all();
}

bool CtxState::aborted() {
  std::lock_guard<std::mutex> lock(mu_);
  return aborted_;
}

bool CtxState::Sleep(int seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return aborted_; });
}

int CtxState::LogCallback(const char* component, const char*, int, OSSL_CMP_severity level, const char* message) {
  if (current == nullptr || message == nullptr) return 1;
  OsslErrorEntry entry;
  if (EntryFromPrintedError(component, message, entry)) {
    if (level <= OSSL_CMP_LOG_ERR) current->printed_.push_back(std::move(entry));
    return 1;
  }
  std::string text = message;
  text.erase(0, text.find_first_not_of(' '));
  if (text.rfind("sending ", 0) == 0 || text.rfind("received ", 0) == 0) {
    current->notes_.clear();
  } else if (level <= OSSL_CMP_LOG_INFO && current->notes_.size() < 16) {
    current->notes_.push_back(std::move(text));
  }
  return 1;
}

CtxState::Running::Running(CtxState* state) {
  current = state;
  state->printed_.clear();
  state->notes_.clear();
}
CtxState::Running::~Running() { current = nullptr; }

BIO* CtxState::HttpCallback(BIO* bio, void* arg, int connect, int detail) {
  CtxState* self = current;
  if (self == nullptr) return bio;
  std::lock_guard<std::mutex> lock(self->mu_);
  if (!connect) {  // OpenSSL is about to close the socket
    self->httpFd_ = -1;
    return bio;
  }
  if (self->aborted_) return nullptr;
  int fd = -1;
  if (BIO_get_fd(bio, &fd) > 0 && fd >= 0) {
    // OpenSSL writes the HTTP header and body separately; with Nagle on, every
    // exchange after the first on a kept-alive connection stalls ~40 ms.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    self->httpFd_ = fd;
  }
  return bio;
}

}  // namespace cmp
