#include "proc_args.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if defined(__linux__)
#include <fcntl.h>
#include <unistd.h>
#endif

#include "convert.h"
#include "ossl_error.h"

namespace cmp {

namespace {

#if defined(__linux__)
// arg_start and arg_end, fields 48 and 49 of /proc/self/stat (Linux 3.5+);
// counted after the command name, which may itself hold spaces and ')'.
bool ArgRange(unsigned long long& start, unsigned long long& end, std::string& why) {
  FILE* f = fopen("/proc/self/stat", "re");
  if (f == nullptr) {
    why = "cannot read /proc/self/stat";
    return false;
  }
  std::string stat;
  char buf[1024];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) stat.append(buf, n);
  fclose(f);
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) {
    why = "unexpected /proc/self/stat format";
    return false;
  }
  std::vector<std::string> fields;
  size_t pos = paren + 1;
  while (pos < stat.size()) {
    while (pos < stat.size() && stat[pos] == ' ') pos++;
    size_t next = stat.find(' ', pos);
    if (next == std::string::npos) next = stat.size();
    if (next > pos) fields.push_back(stat.substr(pos, next - pos));
    pos = next;
  }
  // fields[0] is field 3 (state)
  if (fields.size() < 47) {
    why = "this kernel does not report where the arguments lie";
    return false;
  }
  start = std::strtoull(fields[45].c_str(), nullptr, 10);
  end = std::strtoull(fields[46].c_str(), nullptr, 10);
  if (start == 0 || end <= start || end - start > (1u << 24)) {
    why = "no argument area reported";
    return false;
  }
  return true;
}

// Through /proc/self/mem rather than a raw pointer: an area that moved or was
// unmapped makes the write fail instead of crashing the process.
std::string Blank(const std::vector<std::string>& tail, const std::vector<std::pair<uint32_t, uint32_t>>& blanks) {
  unsigned long long start = 0, end = 0;
  std::string why;
  if (!ArgRange(start, end, why)) return why;
  int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  if (fd < 0) return "cannot open /proc/self/mem";
  std::vector<char> area(static_cast<size_t>(end - start));
  ssize_t got = pread(fd, area.data(), area.size(), static_cast<off_t>(start));
  if (got != static_cast<ssize_t>(area.size())) {
    close(fd);
    return "cannot read the argument area";
  }
  // the original arguments, NUL-terminated one after the other
  std::vector<std::pair<size_t, size_t>> args;  // offset, length
  for (size_t i = 0; i < area.size();) {
    size_t len = strnlen(area.data() + i, area.size() - i);
    args.emplace_back(i, len);
    i += len + 1;
  }
  if (args.size() < tail.size()) {
    close(fd);
    return "the command line is shorter than the arguments given";
  }
  size_t first = args.size() - tail.size();
  for (size_t k = 0; k < tail.size(); k++) {
    const auto& a = args[first + k];
    if (a.second != tail[k].size() || std::memcmp(area.data() + a.first, tail[k].data(), a.second) != 0) {
      close(fd);
      return "the command line no longer holds the arguments given";
    }
  }
  std::string problem;
  for (const auto& b : blanks) {
    const auto& a = args[first + b.first];
    if (b.second >= a.second) continue;
    std::vector<char> zeros(a.second - b.second, 0);
    off_t at = static_cast<off_t>(start + a.first + b.second);
    if (pwrite(fd, zeros.data(), zeros.size(), at) != static_cast<ssize_t>(zeros.size())) problem = "cannot write the argument area";
  }
  close(fd);
  return problem;
}
#else
std::string Blank(const std::vector<std::string>&, const std::vector<std::pair<uint32_t, uint32_t>>&) {
  return "not supported on this platform";
}
#endif

}  // namespace

Napi::Value BlankArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsArray()) ThrowType(env, "blankArgs(tail: string[], blanks: [index, from][])");
  Napi::Array t = info[0].As<Napi::Array>();
  std::vector<std::string> tail;
  for (uint32_t i = 0; i < t.Length(); i++) tail.push_back(StringFromJs(t.Get(i), "tail[]"));
  Napi::Array b = info[1].As<Napi::Array>();
  std::vector<std::pair<uint32_t, uint32_t>> blanks;
  for (uint32_t i = 0; i < b.Length(); i++) {
    Napi::Value v = b.Get(i);
    if (!v.IsArray() || v.As<Napi::Array>().Length() != 2) ThrowType(env, "each blank must be [index, from]");
    Napi::Array pair = v.As<Napi::Array>();
    uint32_t index = pair.Get(0u).ToNumber().Uint32Value();
    uint32_t from = pair.Get(1u).ToNumber().Uint32Value();
    if (index >= tail.size()) ThrowType(env, "blank index out of range");
    blanks.emplace_back(index, from);
  }
  std::string why = Blank(tail, blanks);
  return why.empty() ? env.Null() : Napi::String::New(env, why);
}

}  // namespace cmp
