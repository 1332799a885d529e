// Each entry is written to its temporary name (or hard-linked there from a
// file already durable), then every file system involved is flushed once,
// then the temporary names are renamed to the final ones, then the file
// systems are flushed once more, together with the further paths: the data
// is on disk before any final name points at it, and the names (and a
// journal's WAL) are on disk when the promise resolves. A batch of items
// costs two flushes per file system instead of one fsync per file and
// directory. On Linux 5.8+ a flush is syncfs(2) on descriptors opened before
// the writes (so that it reports their errors); elsewhere every file and
// directory is fsync'ed (on Windows every file is committed and every rename
// written through). A file system job: it runs on libuv's pool, like
// node:fs, and never waits for JS.
//
// Batches one after the other can share a flush: a call asked to leave its
// renames unflushed resolves to a token instead, and the next call's first
// flush (after its own writes, before its renames) covers them as well; a
// call with no entries only flushes what the token left. The token keeps the
// descriptors the flushes go through, so a write-back error in between is
// reported by the flush that covers it.
#include "durable_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#ifdef _WIN32
#include <direct.h>
#include <io.h>
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN  // no wincrypt.h: its X509_NAME macros break OpenSSL's types
#endif
#include <windows.h>
#else
#include <unistd.h>
#endif

#include <openssl/crypto.h>
#ifdef __linux__
#include <sys/utsname.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "convert.h"
#include "js_args.h"
#include "ossl_error.h"

namespace cmp {

namespace {

// The few file calls that differ on Windows (the bundled build's platform).
#ifdef _WIN32
constexpr int kOpenFlags = _O_BINARY;
int MakeDir(const char* dir) { return _mkdir(dir); }
int HardLink(const char* from, const char* to) {
  if (CreateHardLinkA(to, from, nullptr)) return 0;
  errno = EPERM;
  return -1;
}
int Replace(const char* from, const char* to) {
  if (MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) return 0;
  DWORD e = GetLastError();
  errno = e == ERROR_PATH_NOT_FOUND || e == ERROR_FILE_NOT_FOUND ? ENOENT : EACCES;
  return -1;
}
int SyncFd(int fd) { return _commit(fd); }
#else
constexpr int kOpenFlags = O_CLOEXEC;
int MakeDir(const char* dir) { return mkdir(dir, 0777); }
int HardLink(const char* from, const char* to) { return link(from, to); }
int Replace(const char* from, const char* to) { return rename(from, to); }
[[maybe_unused]] int SyncFd(int fd) { return fsync(fd); }
#endif

// syncfs(2) reports write-back errors of its file system since Linux 5.8
// (those since the descriptor it is given was opened); before, it reports none.
bool SyncfsReportsErrors() {
#ifdef __linux__
  static const bool yes = [] {
    struct utsname u;
    int major = 0, minor = 0;
    if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 5 || (major == 5 && minor >= 8);
  }();
  return yes;
#else
  return false;
#endif
}

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR;
}

struct Entry {
  std::string tmp, file, link;
  std::vector<unsigned char> data;
  int mode = 0644;
};

// The descriptors flushes go through, and what a call left unflushed (the
// directories of its renames, its further paths).
struct FlushState {
  std::map<dev_t, int> anchors;        // a descriptor per file system, opened before the writes
  std::map<std::string, int> byPath;   // the directories looked up so far, and their file system's descriptor
  std::vector<std::string> unflushed;  // renamed into, or further paths, not flushed since
  // A flush that failed: its error is reported once, and the descriptors would not report it again,
  // so every later call on this state fails with it rather than flush and succeed.
  std::string flushError;
  ~FlushState() { Close(); }
  // At the end of a row of batches: its descriptors are not kept until the token is collected.
  void Close() {
    for (const auto& [dev, fd] : anchors) close(fd);
    anchors.clear();
    byPath.clear();
  }
};
using FlushToken = std::shared_ptr<FlushState>;
// Tells a token from the addon's other externals (an issuer handle, say).
constexpr napi_type_tag kFlushTokenTag = {0x6f70656e73736c2dULL, 0x636d70666c757368ULL};

std::string Dirname(const std::string& p) {
#ifdef _WIN32
  size_t slash = p.find_last_of("/\\");
  if (slash == 2 && p[1] == ':') return p.substr(0, 3);  // C:\x
#else
  size_t slash = p.find_last_of('/');
#endif
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}

bool ReadFile(const std::string& file, std::vector<unsigned char>* out) {
  int fd = open(file.c_str(), O_RDONLY | kOpenFlags);
  if (fd < 0) return false;
  unsigned char buf[16384];
  for (;;) {
    auto n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      errno = err;
      return false;
    }
    if (n == 0) break;
    out->insert(out->end(), buf, buf + n);
  }
  close(fd);
  return true;
}

bool MakeDirs(const std::string& dir) {
  if (dir.empty() || dir == "/" || dir == ".") return true;
  if (IsDir(dir)) return true;
  if (!MakeDirs(Dirname(dir))) return false;
  return MakeDir(dir.c_str()) == 0 || errno == EEXIST;
}

class DurableFiles : public Napi::AsyncWorker {
 public:
  DurableFiles(Napi::Env env, std::vector<Entry> entries, std::vector<std::string> syncPaths, FlushToken state, bool leave)
      : Napi::AsyncWorker(env, "openssl-cmp:writeFilesDurably"),
        deferred_(Napi::Promise::Deferred::New(env)),
        entries_(std::move(entries)),
        syncPaths_(std::move(syncPaths)),
        state_(state ? std::move(state) : std::make_shared<FlushState>()),
        leave_(leave) {}
  ~DurableFiles() override {
    // key files pass through here
    for (Entry& e : entries_) OPENSSL_cleanse(e.data.data(), e.data.size());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    // directories are looked up once per call (a template with a directory per item makes many)
    state_->byPath.clear();
    Run();
    if (!leave_) state_->Close();
  }
  void Run() {
    if (!state_->flushError.empty()) return SetError(state_->flushError);
    if (syncfs_) {
      // Descriptors opened before anything is written: syncfs on them reports every
      // write-back error since, even one another caller has seen already.
      for (const Entry& e : entries_) Anchor(Dirname(e.tmp)), Anchor(Dirname(e.file));
      for (const std::string& p : syncPaths_) Anchor(p);
    }
    if (entries_.empty()) {
      // what an earlier call left, and the further paths
      std::vector<std::string> dirs = state_->unflushed;
      dirs.insert(dirs.end(), syncPaths_.begin(), syncPaths_.end());
      int err = 0;
      std::string where;
      if (!Flush(dirs, &err, &where)) return FlushFailed(where, err);
      state_->unflushed.clear();
      return;
    }
    std::vector<std::string> written;
    auto fail = [&](const std::string& what, const std::string& file, int err) {
      for (const std::string& tmp : written) unlink(tmp.c_str());
      SetError("cannot write '" + file + "': " + what + ": " + std::strerror(err));
    };
    for (Entry& e : entries_) {
      if (!e.link.empty()) {
        // a temporary name is new in this process; one left by a crash is swept when the output opens
        if (HardLink(e.link.c_str(), e.tmp.c_str()) == 0) {
          written.push_back(e.tmp);
          continue;
        }
        // a file system without hard links: a copy of its own
        if (!ReadFile(e.link, &e.data)) return fail("read", e.link, errno);
      }
      int fd = open(e.tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | kOpenFlags, e.mode);
      if (fd < 0) return fail("open", e.file, errno);
      written.push_back(e.tmp);
      size_t off = 0;
      while (off < e.data.size()) {
        auto n = write(fd, e.data.data() + off, static_cast<unsigned>(std::min<size_t>(e.data.size() - off, 1u << 30)));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          int err = n < 0 ? errno : EIO;
          close(fd);
          return fail("write", e.file, err);
        }
        off += static_cast<size_t>(n);
      }
      if (!syncfs_ && SyncFd(fd) != 0) {
        int err = errno;
        close(fd);
        return fail("fsync", e.file, err);
      }
      if (close(fd) != 0) return fail("close", e.file, errno);
    }
    // this batch's data, and the renames an earlier call left unflushed
    std::vector<std::string> tmpDirs = state_->unflushed;
    for (const Entry& e : entries_) tmpDirs.push_back(Dirname(e.tmp));
    int err = 0;
    std::string where;
    if (!Flush(tmpDirs, &err, &where)) {
      fail("flush", where, err);
      state_->flushError = FlushMessage(where, err);
      return;
    }
    state_->unflushed.clear();
    std::vector<std::string> dirs;
    for (const Entry& e : entries_) {
      if (Replace(e.tmp.c_str(), e.file.c_str()) != 0) {
        // a file name template with directories of its own
        if (errno != ENOENT || !MakeDirs(Dirname(e.file)) || Replace(e.tmp.c_str(), e.file.c_str()) != 0) {
          return fail("rename", e.file, errno);
        }
      }
      dirs.push_back(Dirname(e.file));
    }
    written.clear();
    for (const std::string& p : syncPaths_) dirs.push_back(p);
    if (leave_) {
      state_->unflushed = std::move(dirs);  // the next call's first flush, or one of its own
      return;
    }
    if (!Flush(dirs, &err, &where)) FlushFailed(where, err);
  }
  static std::string FlushMessage(const std::string& where, int err) {
    return "cannot flush '" + where + "' to disk: " + std::strerror(err);
  }
  // Every later call on this state fails with it too.
  void FlushFailed(const std::string& where, int err) {
    state_->flushError = FlushMessage(where, err);
    SetError(state_->flushError);
  }
  void OnOK() override {
    if (!leave_) return deferred_.Resolve(Env().Undefined());
    auto token = Napi::External<FlushToken>::New(Env(), new FlushToken(state_), [](Napi::Env, FlushToken* t) { delete t; });
    token.TypeTag(&kFlushTokenTag);
    deferred_.Resolve(token);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  // One syncfs per file system among `paths`, or an fsync of each path.
  bool Flush(const std::vector<std::string>& paths, int* err, std::string* where) {
    if (syncfs_) {
#ifdef __linux__
      std::map<int, std::string> fds;
      for (const std::string& p : paths) {
        int fd = Anchor(p);
        if (fd < 0) return *err = errno, *where = p, false;
        fds.emplace(fd, p);
      }
      for (const auto& [fd, p] : fds) {
        if (syncfs(fd) != 0) return *err = errno, *where = p, false;
      }
      return true;
#endif
    }
    std::set<std::string> seen;
    for (const std::string& p : paths) {
      if (!seen.insert(p).second) continue;
#ifdef _WIN32
      if (IsDir(p)) continue;  // renames were written through (MOVEFILE_WRITE_THROUGH)
      int fd = open(p.c_str(), O_RDWR | kOpenFlags);  // _commit needs write access
#else
      int fd = open(p.c_str(), O_RDONLY | kOpenFlags);
#endif
      if (fd < 0) return *err = errno, *where = p, false;
      bool ok = SyncFd(fd) == 0;
      if (!ok) *err = errno, *where = p;
      close(fd);
      if (!ok) return false;
    }
    return true;
  }

  // The descriptor kept for the file system `p` is on (opened now if none is); -1 if p cannot be opened.
  // A batch's entries share a few directories: each is looked up once.
  int Anchor(const std::string& p) {
    auto known = state_->byPath.find(p);
    if (known != state_->byPath.end()) return known->second;
    struct stat st;
    if (stat(p.c_str(), &st) != 0) return -1;
    auto it = state_->anchors.find(st.st_dev);
    int fd = it != state_->anchors.end() ? it->second : open(p.c_str(), O_RDONLY | kOpenFlags);
    if (fd < 0) return -1;
    state_->anchors.emplace(st.st_dev, fd);
    state_->byPath.emplace(p, fd);
    return fd;
  }

  const bool syncfs_ = SyncfsReportsErrors();
  Napi::Promise::Deferred deferred_;
  std::vector<Entry> entries_;
  std::vector<std::string> syncPaths_;
  FlushToken state_;  // shared with the token this call or an earlier one resolved to
  bool leave_;        // the renames stay unflushed: resolves to a token for the next call
};

}  // namespace

Napi::Value WriteFilesDurably(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowType(env, "entries must be an array");
  if (!info[1].IsArray()) ThrowType(env, "syncPaths must be an array");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<Entry> entries;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsObject()) ThrowType(env, "entries[] must be objects");
    Napi::Object o = v.As<Napi::Object>();
    Entry e;
    e.tmp = StringFromJs(o.Get("tmp"), "entries[].tmp");
    e.file = StringFromJs(o.Get("file"), "entries[].file");
    Napi::Value link = o.Get("link");
    if (Nullish(link)) {
      Napi::Value data = o.Get("data");
      if (data.IsString()) {
        std::string text = data.As<Napi::String>().Utf8Value();
        e.data.assign(text.begin(), text.end());
        OPENSSL_cleanse(text.data(), text.size());
      } else {
        e.data = BytesFromJs(data, "entries[].data");
      }
    } else {
      e.link = StringFromJs(link, "entries[].link");
    }
    Napi::Value mode = o.Get("mode");
    if (!Nullish(mode)) {
      if (!mode.IsNumber()) ThrowType(env, "entries[].mode must be a number");
      e.mode = mode.As<Napi::Number>().Int32Value();
    }
    entries.push_back(std::move(e));
  }
  Napi::Array paths = info[1].As<Napi::Array>();
  std::vector<std::string> syncPaths;
  for (uint32_t i = 0; i < paths.Length(); i++) syncPaths.push_back(StringFromJs(paths.Get(i), "syncPaths[]"));
  FlushToken state;
  if (!Nullish(info[2])) {
    if (!info[2].IsExternal() || !info[2].As<Napi::External<FlushToken>>().CheckTypeTag(&kFlushTokenTag)) {
      ThrowType(env, "pending must be a token from an earlier writeFilesDurably");
    }
    state = *info[2].As<Napi::External<FlushToken>>().Data();
  }
  bool leave = info[3].ToBoolean();
  if (leave && entries.empty()) ThrowType(env, "a call without entries has nothing to leave unflushed");
  auto* worker = new DurableFiles(env, std::move(entries), std::move(syncPaths), std::move(state), leave);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace cmp
