#include "ossl_error.h"

#include <openssl/err.h>

#include <cctype>
#include <cstdio>
#include <cstring>

#include "addon.h"

namespace cmp {

namespace {

// Short library names as Node uses them in its ERR_OSSL_<LIB>_<REASON> codes.
const char* LibShortName(int lib) {
  switch (lib) {
    case ERR_LIB_SYS: return "SYS";
    case ERR_LIB_BN: return "BN";
    case ERR_LIB_RSA: return "RSA";
    case ERR_LIB_DH: return "DH";
    case ERR_LIB_EVP: return "EVP";
    case ERR_LIB_BUF: return "BUF";
    case ERR_LIB_OBJ: return "OBJ";
    case ERR_LIB_PEM: return "PEM";
    case ERR_LIB_DSA: return "DSA";
    case ERR_LIB_X509: return "X509";
    case ERR_LIB_ASN1: return "ASN1";
    case ERR_LIB_CONF: return "CONF";
    case ERR_LIB_CRYPTO: return "CRYPTO";
    case ERR_LIB_EC: return "EC";
    case ERR_LIB_SSL: return "SSL";
    case ERR_LIB_BIO: return "BIO";
    case ERR_LIB_PKCS7: return "PKCS7";
    case ERR_LIB_X509V3: return "X509V3";
    case ERR_LIB_PKCS12: return "PKCS12";
    case ERR_LIB_RAND: return "RAND";
    case ERR_LIB_DSO: return "DSO";
    case ERR_LIB_OCSP: return "OCSP";
    case ERR_LIB_UI: return "UI";
    case ERR_LIB_OSSL_STORE: return "OSSL_STORE";
    case ERR_LIB_CMS: return "CMS";
    case ERR_LIB_CT: return "CT";
    case ERR_LIB_ASYNC: return "ASYNC";
    case ERR_LIB_KDF: return "KDF";
    case ERR_LIB_CRMF: return "CRMF";
    case ERR_LIB_CMP: return "CMP";
    case ERR_LIB_HTTP: return "HTTP";
    case ERR_LIB_PROV: return "PROV";
    case ERR_LIB_OSSL_DECODER: return "OSSL_DECODER";
    case ERR_LIB_OSSL_ENCODER: return "OSSL_ENCODER";
    case ERR_LIB_ESS: return "ESS";
    case ERR_LIB_USER: return "USER";
    default: return nullptr;
  }
}

std::string CodeToken(const std::string& text) {
  std::string out;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    out += std::isalnum(u) ? static_cast<char>(std::toupper(u)) : '_';
  }
  return out;
}

OsslErrorEntry MakeEntry(unsigned long e, const char* data, int flags) {
  OsslErrorEntry entry;
  entry.packed = e;
  const char* lib = ERR_lib_error_string(e);
  const char* reason = ERR_reason_error_string(e);
  entry.library = lib != nullptr ? lib : "";
  if (reason != nullptr) {
    entry.reason = reason;
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "reason(%d)", ERR_GET_REASON(e));
    entry.reason = buf;
  }
  if (data != nullptr && (flags & ERR_TXT_STRING) != 0) entry.data = data;
  const char* shortLib = LibShortName(ERR_GET_LIB(e));
  entry.code = std::string("ERR_OSSL_") + (shortLib != nullptr ? shortLib : "UNKNOWN") + "_" +
               (reason != nullptr ? CodeToken(reason) : "UNKNOWN");
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  entry.line = buf;
  if (!entry.data.empty()) entry.line += ":" + entry.data;
  return entry;
}

// The entry that best says what went wrong: the newest one from the CMP
// library (it names the protocol step that failed), else the oldest one.
const OsslErrorEntry* MainEntry(const std::vector<OsslErrorEntry>& stack) {
  if (stack.empty()) return nullptr;
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
    if (ERR_GET_LIB(it->packed) == ERR_LIB_CMP) return &*it;
  }
  return &stack.front();
}

const char* const kStatusNames[] = {"accepted", "grantedWithMods", "rejection", "waiting",
                                    "revocationWarning", "revocationNotification",
                                    "keyUpdateWarning"};
const char* const kFailInfoNames[] = {
    "badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId", "badDataFormat",
    "wrongAuthority", "incorrectData", "missingTimeStamp", "badPOP", "certRevoked",
    "certConfirmed", "wrongIntegrity", "badRecipientNonce", "timeNotAvailable",
    "unacceptedPolicy", "unacceptedExtension", "addInfoNotAvailable", "badSenderNonce",
    "badCertTemplate", "signerNotTrusted", "transactionIdInUse", "unsupportedVersion",
    "notAuthorized", "systemUnavail", "systemFailure", "duplicateCertReq"};

}  // namespace

void ErrorInfo::DrainQueue() {
  const char* data = nullptr;
  int flags = 0;
  unsigned long e;
  while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    stack.push_back(MakeEntry(e, data, flags));
  }
}

bool EntryFromPrintedError(const char* component, const char* message, OsslErrorEntry& out) {
  static const char kPrefix[] = "OpenSSL:";
  if (component == nullptr || message == nullptr || std::strncmp(component, kPrefix, sizeof kPrefix - 1) != 0) {
    return false;
  }
  std::string rest = component + sizeof kPrefix - 1;
  out.library = rest.substr(0, rest.find(':'));
  std::string text = message;
  size_t sep = text.find(" : ");
  out.reason = text.substr(0, sep);
  if (sep != std::string::npos) out.data = text.substr(sep + 3);
  const char* shortLib = nullptr;
  for (int lib = 1; lib < 64 && shortLib == nullptr; lib++) {
    const char* name = ERR_lib_error_string(ERR_PACK(lib, 0, 0));
    if (name != nullptr && out.library == name) {
      shortLib = LibShortName(lib);
      out.packed = ERR_PACK(lib, 0, 0);
    }
  }
  out.code = std::string("ERR_OSSL_") + (shortLib != nullptr ? shortLib : "UNKNOWN") + "_" + CodeToken(out.reason);
  out.line = "error:" + out.library + "::" + out.reason + (out.data.empty() ? "" : ":" + out.data);
  return true;
}

ErrorQueueMark::ErrorQueueMark() { ERR_set_mark(); }
ErrorQueueMark::~ErrorQueueMark() { ERR_pop_to_mark(); }

Napi::Error MakeCmpError(Napi::Env env, const ErrorInfo& info) {
  const OsslErrorEntry* main = MainEntry(info.stack);
  std::string message = info.message;
  if (message.empty()) {
    if (main != nullptr) {
      message = main->reason;
      if (!main->data.empty()) message += ": " + main->data;
      // The oldest entry is the root cause when the main one only says which step failed.
      const OsslErrorEntry& root = info.stack.front();
      if (&root != main) {
        message += " (" + root.reason + (root.data.empty() ? "" : ": " + root.data) + ")";
      }
    } else {
      message = "CMP operation failed";
    }
  }
  std::string code = info.code;
  if (code.empty()) code = main != nullptr ? main->code : "ERR_CMP_UNKNOWN";

  Napi::Object err;
  Addon* addon = env.GetInstanceData<Addon>();
  if (addon != nullptr && !addon->errorClass.IsEmpty()) {
    err = addon->errorClass.New({Napi::String::New(env, message)});
  } else {
    err = Napi::Error::New(env, message).Value();
  }
  err.Set("code", code);
  if (main != nullptr) {
    err.Set("library", main->library);
    err.Set("reason", main->reason);
  }
  Napi::Array stack = Napi::Array::New(env, info.stack.size());
  for (size_t i = 0; i < info.stack.size(); i++) stack.Set(i, info.stack[i].line);
  err.Set("opensslErrorStack", stack);
  if (info.pkiStatus >= 0) {
    err.Set("pkiStatus", info.pkiStatus);
    if (info.pkiStatus < static_cast<int>(std::size(kStatusNames))) {
      err.Set("pkiStatusName", kStatusNames[info.pkiStatus]);
    }
    int bits = info.failInfoCode < 0 ? 0 : info.failInfoCode;
    err.Set("failInfoCode", bits);
    Napi::Array names = Napi::Array::New(env);
    for (size_t bit = 0; bit < std::size(kFailInfoNames); bit++) {
      if ((bits & (1 << bit)) != 0) names.Set(names.Length(), kFailInfoNames[bit]);
    }
    err.Set("failInfo", names);
    Napi::Array texts = Napi::Array::New(env, info.statusString.size());
    for (size_t i = 0; i < info.statusString.size(); i++) texts.Set(i, info.statusString[i]);
    err.Set("statusString", texts);
  }
  return Napi::Error(env, err);
}

void ThrowOssl(Napi::Env env, const std::string& what) {
  ErrorInfo info;
  info.DrainQueue();
  if (info.stack.empty()) {
    info.code = "ERR_CMP_INVALID_ARGUMENT";
    info.message = what;
  } else {
    const OsslErrorEntry* main = MainEntry(info.stack);
    info.message = what + ": " + main->reason + (main->data.empty() ? "" : " (" + main->data + ")");
  }
  throw MakeCmpError(env, info);
}

void ThrowCode(Napi::Env env, const std::string& code, const std::string& message) {
  ErrorInfo info;
  info.code = code;
  info.message = message;
  throw MakeCmpError(env, info);
}

void ThrowType(Napi::Env env, const std::string& message) {
  Napi::Error err = Napi::TypeError::New(env, message);
  err.Set("code", "ERR_INVALID_ARG_TYPE");
  throw err;
}

}  // namespace cmp
