#include "read_ahead.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace cmp {

namespace {

struct ReadAhead {
  static constexpr int kSize = 4096;
  char buf[kSize];
  int off = 0;
  int len = 0;
};

ReadAhead* Of(BIO* b) { return static_cast<ReadAhead*>(BIO_get_data(b)); }

// What the next BIO returned, its retry flags copied up.
long Passed(BIO* b, long ret) {
  BIO_copy_next_retry(b);
  return ret;
}

int Read(BIO* b, char* out, int outl) {
  ReadAhead* r = Of(b);
  BIO_clear_retry_flags(b);
  if (out == nullptr || outl <= 0) return 0;
  if (r->len > 0) {
    int n = std::min(outl, r->len);
    std::memcpy(out, r->buf + r->off, n);
    r->off += n;
    r->len -= n;
    return n;
  }
  return static_cast<int>(Passed(b, BIO_read(BIO_next(b), out, outl)));
}

int Gets(BIO* b, char* out, int size) {
  ReadAhead* r = Of(b);
  BIO_clear_retry_flags(b);
  if (out == nullptr || size <= 0) return 0;
  int num = 0;
  while (num < size - 1) {
    if (r->len == 0) {
      int n = BIO_read(BIO_next(b), r->buf, ReadAhead::kSize);
      if (n <= 0) {
        // a partial line is returned as it is; OpenSSL's HTTP client waits for the rest
        BIO_copy_next_retry(b);
        out[num] = '\0';
        return num > 0 ? num : n;
      }
      r->off = 0;
      r->len = n;
    }
    const char* from = r->buf + r->off;
    int take = std::min(r->len, size - 1 - num);
    const void* nl = std::memchr(from, '\n', take);
    if (nl != nullptr) take = static_cast<int>(static_cast<const char*>(nl) - from) + 1;
    std::memcpy(out + num, from, take);
    num += take;
    r->off += take;
    r->len -= take;
    if (nl != nullptr) break;
  }
  out[num] = '\0';
  return num;
}

int Write(BIO* b, const char* in, int inl) {
  BIO_clear_retry_flags(b);
  return static_cast<int>(Passed(b, BIO_write(BIO_next(b), in, inl)));
}

int Puts(BIO* b, const char* str) {
  BIO_clear_retry_flags(b);
  return static_cast<int>(Passed(b, BIO_puts(BIO_next(b), str)));
}

long Ctrl(BIO* b, int cmd, long num, void* ptr) {
  ReadAhead* r = Of(b);
  BIO* next = BIO_next(b);
  if (next == nullptr) return 0;
  switch (cmd) {
    case BIO_CTRL_PENDING:
      return r->len + BIO_ctrl(next, cmd, num, ptr);
    case BIO_CTRL_EOF:
      if (r->len > 0) return 0;
      break;
    case BIO_CTRL_RESET:
      r->off = r->len = 0;
      break;
    case BIO_CTRL_DUP:
      return 0;
    default:
      break;
  }
  BIO_clear_retry_flags(b);
  return Passed(b, BIO_ctrl(next, cmd, num, ptr));
}

long CallbackCtrl(BIO* b, int cmd, BIO_info_cb* fp) {
  BIO* next = BIO_next(b);
  return next == nullptr ? 0 : BIO_callback_ctrl(next, cmd, fp);
}

int Create(BIO* b) {
  ReadAhead* r = new (std::nothrow) ReadAhead();
  if (r == nullptr) return 0;
  BIO_set_data(b, r);
  BIO_set_init(b, 1);
  return 1;
}

int Destroy(BIO* b) {
  delete Of(b);
  BIO_set_data(b, nullptr);
  BIO_set_init(b, 0);
  return 1;
}

const BIO_METHOD* Method() {
  // made once, kept for the process's life: a BIO of it may outlive any one context
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "read-ahead");
    if (m != nullptr &&
        !(BIO_meth_set_read(m, Read) && BIO_meth_set_gets(m, Gets) && BIO_meth_set_write(m, Write) && BIO_meth_set_puts(m, Puts) &&
          BIO_meth_set_ctrl(m, Ctrl) && BIO_meth_set_callback_ctrl(m, CallbackCtrl) && BIO_meth_set_create(m, Create) &&
          BIO_meth_set_destroy(m, Destroy))) {
      BIO_meth_free(m);
      m = nullptr;
    }
    return m;
  }();
  return method;
}

}  // namespace

BIO* PushReadAhead(BIO* bio) {
  const BIO_METHOD* m = Method();
  BIO* filter = m == nullptr ? nullptr : BIO_new(m);
  return filter == nullptr ? bio : BIO_push(filter, bio);
}

}  // namespace cmp
