// JS values <-> OpenSSL objects. The TypeScript facade normalises every
// accepted input kind (PEM, DER, X509Certificate, KeyObject) to DER buffers,
// so this side only ever decodes DER, names and general names.
#pragma once

#include <napi.h>
#include <openssl/cmp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

namespace cmp {

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
void FreeX509Stack(STACK_OF(X509)* sk);
void FreeItavStack(STACK_OF(OSSL_CMP_ITAV)* sk);

using X509Ptr = std::unique_ptr<X509, Freer<X509, X509_free>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Freer<STACK_OF(X509), FreeX509Stack>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Freer<X509_STORE, X509_STORE_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Freer<X509_NAME, X509_NAME_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Freer<X509_REQ, X509_REQ_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;
using GenNamePtr = std::unique_ptr<GENERAL_NAME, Freer<GENERAL_NAME, GENERAL_NAME_free>>;
using ItavPtr = std::unique_ptr<OSSL_CMP_ITAV, Freer<OSSL_CMP_ITAV, OSSL_CMP_ITAV_free>>;
using ItavStackPtr = std::unique_ptr<STACK_OF(OSSL_CMP_ITAV), Freer<STACK_OF(OSSL_CMP_ITAV), FreeItavStack>>;
using CrmfMsgPtr = std::unique_ptr<OSSL_CRMF_MSG, Freer<OSSL_CRMF_MSG, OSSL_CRMF_MSG_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, Freer<X509_CRL, X509_CRL_free>>;

// Runs an i2d function and keeps its output (empty on failure).
template <typename I2d>
std::vector<unsigned char> Der(I2d i2d) {
  unsigned char* der = nullptr;
  int len = i2d(&der);
  std::vector<unsigned char> out;
  if (len > 0 && der != nullptr) out.assign(der, der + len);
  OPENSSL_free(der);
  return out;
}
// A Buffer of i2d output, freeing it; throws when the encoding failed.
Napi::Value DerToJs(Napi::Env env, int len, unsigned char* der);
// A Buffer copy of `v`, or null when it is empty.
Napi::Value BytesOrNull(Napi::Env env, const std::vector<unsigned char>& v);
// The same as a plain Uint8Array, for bytes the facade only parses: Node
// makes a Buffer by swapping the prototype of a fresh Uint8Array, which costs
// several times the copy.
Napi::Value ViewOrNull(Napi::Env env, const std::vector<unsigned char>& v);

// A non-negative INTEGER from big-endian bytes; nullptr on failure. Caller frees.
ASN1_INTEGER* IntegerFromBytes(const std::vector<unsigned char>& bytes);

// Bytes of a Buffer/Uint8Array argument; TypeError naming `param` otherwise.
std::vector<unsigned char> BytesFromJs(const Napi::Value& v, const char* param);
// A string argument; TypeError naming `param` otherwise.
std::string StringFromJs(const Napi::Value& v, const char* param);

X509Ptr CertFromJs(const Napi::Value& v, const char* param);
// Any thread: the certificate, or null (with OpenSSL's reason queued) when `der` is not exactly one.
X509Ptr CertFromDer(const std::vector<unsigned char>& der);
X509StackPtr CertsFromJs(const Napi::Value& v, const char* param);
X509StorePtr StoreFromJs(const Napi::Value& v, const char* param);
X509ReqPtr CsrFromJs(const Napi::Value& v, const char* param);
// DER PKCS#8 (private) or SubjectPublicKeyInfo (public).
PkeyPtr KeyFromJs(const Napi::Value& v, bool isPrivate, const char* param);
X509NamePtr NameFromJs(const Napi::Value& v, const char* param);
GenNamePtr GeneralNameFromJs(const Napi::Value& v, const char* param);
ItavPtr ItavFromJs(const Napi::Value& v, const char* param);
CrmfMsgPtr CrmFromJs(const Napi::Value& v, const char* param);
ASN1_OBJECT* OidFromText(const std::string& text);

Napi::Value CertToJs(Napi::Env env, const X509* cert);
Napi::Value CertsToJs(Napi::Env env, const STACK_OF(X509)* certs);
Napi::Value StoreToJs(Napi::Env env, X509_STORE* store);
Napi::Value KeyToJs(Napi::Env env, const EVP_PKEY* key, bool isPrivate);
Napi::Value NameToJs(Napi::Env env, const X509_NAME* name);
std::string NameToString(const X509_NAME* name);

// Bytes as hex digits, lower or upper case, with `sep` between bytes when not '\0'.
std::string HexOf(const unsigned char* p, size_t n, bool upper = false, char sep = '\0');
Napi::Value ItavToJs(Napi::Env env, const OSSL_CMP_ITAV* itav);
Napi::Value ItavsToJs(Napi::Env env, const STACK_OF(OSSL_CMP_ITAV)* itavs);
std::vector<std::string> FreeTextToStrings(const OSSL_CMP_PKIFREETEXT* text);

// DER helpers for the genp payloads OpenSSL 3.0 has no decoder for.
X509StackPtr CertSequenceFromDer(const unsigned char* der, long len);

}  // namespace cmp
