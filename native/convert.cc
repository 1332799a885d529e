#include "convert.h"

#include <openssl/asn1.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <cstring>

#include "ossl_error.h"

// Exported by libcrypto 3.0+ but not declared in its public headers.
extern "C" const ASN1_ITEM* OSSL_CMP_ITAV_it(void);

namespace cmp {

void FreeX509Stack(STACK_OF(X509)* sk) { sk_X509_pop_free(sk, X509_free); }
void FreeItavStack(STACK_OF(OSSL_CMP_ITAV)* sk) { sk_OSSL_CMP_ITAV_pop_free(sk, OSSL_CMP_ITAV_free); }

namespace {

std::string Param(const char* param, const char* what) { return std::string(param) + " " + what; }

template <typename T, T* (*D2i)(T**, const unsigned char**, long)>
T* DecodeWhole(const std::vector<unsigned char>& der) {
  const unsigned char* p = der.data();
  T* obj = D2i(nullptr, &p, static_cast<long>(der.size()));
  if (obj != nullptr && p != der.data() + der.size()) {
    ERR_raise_data(ERR_LIB_ASN1, ASN1_R_TOO_LONG, "trailing data after the DER value");
    return nullptr;
  }
  return obj;
}

// Undoes the backslash escapes of the one-line name form.
bool AppendUnescaped(const std::string& in, size_t& i, std::string& out, bool stopAtPlus) {
  for (; i < in.size(); i++) {
    char c = in[i];
    if (c == '/' || (stopAtPlus && c == '+')) return true;
    if (c == '\\') {
      if (++i == in.size()) return false;
      c = in[i];
    }
    out += c;
  }
  return true;
}

std::string EscapeNameValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '/' || c == '+' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::vector<unsigned char> BytesFromJs(const Napi::Value& v, const char* param) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowType(v.Env(), Param(param, "must be a Buffer or Uint8Array"));
  }
  Napi::Uint8Array arr = v.As<Napi::Uint8Array>();
  return std::vector<unsigned char>(arr.Data(), arr.Data() + arr.ByteLength());
}

std::string StringFromJs(const Napi::Value& v, const char* param) {
  if (!v.IsString()) ThrowType(v.Env(), Param(param, "must be a string"));
  return v.As<Napi::String>().Utf8Value();
}

X509Ptr CertFromDer(const std::vector<unsigned char>& der) { return X509Ptr(DecodeWhole<X509, d2i_X509>(der)); }

X509Ptr CertFromJs(const Napi::Value& v, const char* param) {
  X509Ptr cert = CertFromDer(BytesFromJs(v, param));
  if (!cert) ThrowOssl(v.Env(), Param(param, "is not a valid certificate"));
  return cert;
}

X509StackPtr CertsFromJs(const Napi::Value& v, const char* param) {
  if (!v.IsArray()) ThrowType(v.Env(), Param(param, "must be an array of certificates"));
  Napi::Array arr = v.As<Napi::Array>();
  X509StackPtr sk(sk_X509_new_null());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    std::string name = std::string(param) + "[" + std::to_string(i) + "]";
    X509Ptr cert = CertFromJs(arr.Get(i), name.c_str());
    if (!sk_X509_push(sk.get(), cert.get())) ThrowOssl(v.Env(), "out of memory");
    cert.release();
  }
  return sk;
}

X509StorePtr StoreFromJs(const Napi::Value& v, const char* param) {
  X509StackPtr certs = CertsFromJs(v, param);
  X509StorePtr store(X509_STORE_new());
  if (!store) ThrowOssl(v.Env(), "out of memory");
  for (int i = 0; i < sk_X509_num(certs.get()); i++) {
    if (!X509_STORE_add_cert(store.get(), sk_X509_value(certs.get(), i))) {
      ThrowOssl(v.Env(), Param(param, "could not be added to the trust store"));
    }
  }
  return store;
}

X509ReqPtr CsrFromJs(const Napi::Value& v, const char* param) {
  std::vector<unsigned char> der = BytesFromJs(v, param);
  X509ReqPtr csr(DecodeWhole<X509_REQ, d2i_X509_REQ>(der));
  if (!csr) ThrowOssl(v.Env(), Param(param, "is not a valid PKCS#10 CSR"));
  return csr;
}

PkeyPtr KeyFromJs(const Napi::Value& v, bool isPrivate, const char* param) {
  std::vector<unsigned char> der = BytesFromJs(v, param);
  const unsigned char* p = der.data();
  PkeyPtr key(isPrivate ? d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()))
                        : d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key) ThrowOssl(v.Env(), Param(param, isPrivate ? "is not a valid private key" : "is not a valid public key"));
  return key;
}

X509NamePtr NameFromJs(const Napi::Value& v, const char* param) {
  Napi::Env env = v.Env();
  std::string text = StringFromJs(v, param);
  if (text.empty() || text[0] != '/') {
    ThrowCode(env, "ERR_CMP_INVALID_NAME",
              Param(param, "must be in the form /type0=value0/type1=value1... "
                           "(characters may be escaped by \\)"));
  }
  X509NamePtr name(X509_NAME_new());
  size_t i = 1;
  bool multi = false;
  while (i < text.size()) {
    size_t eq = text.find('=', i);
    if (eq == std::string::npos) {
      ThrowCode(env, "ERR_CMP_INVALID_NAME", Param(param, ("is missing '=' after '" + text.substr(i) + "'").c_str()));
    }
    std::string type = text.substr(i, eq - i);
    std::string value;
    i = eq + 1;
    if (!AppendUnescaped(text, i, value, true)) {
      ThrowCode(env, "ERR_CMP_INVALID_NAME", Param(param, "ends with an escape character"));
    }
    bool nextMulti = i < text.size() && text[i] == '+';
    if (i < text.size()) i++;
    int nid = OBJ_txt2nid(type.c_str());
    if (nid == NID_undef) {
      ThrowCode(env, "ERR_CMP_INVALID_NAME", Param(param, ("has an unknown attribute type '" + type + "'").c_str()));
    }
    if (!value.empty()) {  // empty values are skipped, as openssl does
      if (!X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), -1, multi ? -1 : 0)) {
        ThrowOssl(env, Param(param, ("has a bad value for " + type).c_str()));
      }
    }
    multi = nextMulti;
  }
  return name;
}

std::string HexOf(const unsigned char* p, size_t n, bool upper, char sep) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; i++) {
    if (sep != '\0' && i > 0) out += sep;
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

std::string NameToString(const X509_NAME* name) {
  std::string out;
  int prevSet = -1;
  for (int i = 0; i < X509_NAME_entry_count(name); i++) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    int set = X509_NAME_ENTRY_set(e);
    out += (i > 0 && set == prevSet) ? '+' : '/';
    prevSet = set;
    const ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(e);
    int nid = OBJ_obj2nid(obj);
    if (nid != NID_undef) {
      out += OBJ_nid2sn(nid);
    } else {
      char oid[128];
      OBJ_obj2txt(oid, sizeof oid, obj, 1);
      out += oid;
    }
    out += '=';
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len >= 0) {
      out += EscapeNameValue(std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(len)));
      OPENSSL_free(utf8);
    }
  }
  return out.empty() ? "/" : out;
}

Napi::Value NameToJs(Napi::Env env, const X509_NAME* name) {
  if (name == nullptr) return env.Null();
  return Napi::String::New(env, NameToString(name));
}

GenNamePtr GeneralNameFromJs(const Napi::Value& v, const char* param) {
  std::string text = StringFromJs(v, param);
  static const struct { const char* prefix; int type; } kPrefixes[] = {
      {"DNS:", GEN_DNS}, {"IP:", GEN_IPADD}, {"URI:", GEN_URI}, {"email:", GEN_EMAIL}, {"RID:", GEN_RID}};
  GENERAL_NAME* gn = nullptr;
  bool prefixed = false;
  for (const auto& p : kPrefixes) {
    size_t n = std::strlen(p.prefix);
    if (text.compare(0, n, p.prefix) == 0) {
      prefixed = true;
      gn = a2i_GENERAL_NAME(nullptr, nullptr, nullptr, p.type, text.c_str() + n, 0);
      break;
    }
  }
  if (!prefixed) {
    // As openssl cmp -sans: an IP address if it parses as one, else a URI
    // when it has a colon, else a DNS name.
    ERR_set_mark();
    gn = a2i_GENERAL_NAME(nullptr, nullptr, nullptr, GEN_IPADD, text.c_str(), 0);
    if (gn == nullptr) {
      gn = a2i_GENERAL_NAME(nullptr, nullptr, nullptr, text.find(':') != std::string::npos ? GEN_URI : GEN_DNS,
                            text.c_str(), 0);
    }
    ERR_pop_to_mark();
  }
  if (gn == nullptr) ThrowOssl(v.Env(), Param(param, ("has bad syntax: '" + text + "'").c_str()));
  return GenNamePtr(gn);
}

ASN1_OBJECT* OidFromText(const std::string& text) {
  ASN1_OBJECT* obj = OBJ_txt2obj(text.c_str(), 0);
  if (obj == nullptr && text.find('.') == std::string::npos) {
    // openssl cmp -infotype takes the bare InfoType name
    ERR_set_mark();
    obj = OBJ_txt2obj(("id-it-" + text).c_str(), 0);
    if (obj != nullptr) ERR_pop_to_mark(); else ERR_clear_last_mark();
  }
  return obj;
}

// ITAVs travel as DER both ways: for info types OpenSSL knows, the value is a
// typed member of a union, so OSSL_CMP_ITAV_create with an ASN1_TYPE (or
// get0_value on a decoded one) would confuse types. d2i/i2d pick the member.
ItavPtr ItavFromJs(const Napi::Value& v, const char* param) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) ThrowType(env, Param(param, "must be an object { type, value? }"));
  Napi::Object o = v.As<Napi::Object>();
  std::string type = StringFromJs(o.Get("type"), (std::string(param) + ".type").c_str());
  ASN1_OBJECT* obj = OidFromText(type);
  if (obj == nullptr) ThrowOssl(env, Param(param, ("has an unknown type '" + type + "'").c_str()));
  unsigned char* oidDer = nullptr;
  int oidLen = i2d_ASN1_OBJECT(obj, &oidDer);
  ASN1_OBJECT_free(obj);
  if (oidLen <= 0) ThrowOssl(env, Param(param, "type could not be encoded"));
  std::vector<unsigned char> content(oidDer, oidDer + oidLen);
  OPENSSL_free(oidDer);
  Napi::Value jsValue = o.Get("value");
  if (!jsValue.IsUndefined() && !jsValue.IsNull()) {
    std::vector<unsigned char> value = BytesFromJs(jsValue, (std::string(param) + ".value").c_str());
    content.insert(content.end(), value.begin(), value.end());
  }
  std::vector<unsigned char> der(static_cast<size_t>(ASN1_object_size(1, static_cast<int>(content.size()), V_ASN1_SEQUENCE)));
  unsigned char* p = der.data();
  ASN1_put_object(&p, 1, static_cast<int>(content.size()), V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
  std::copy(content.begin(), content.end(), p);
  const unsigned char* in = der.data();
  ItavPtr itav(static_cast<OSSL_CMP_ITAV*>(
      static_cast<void*>(ASN1_item_d2i(nullptr, &in, static_cast<long>(der.size()), OSSL_CMP_ITAV_it()))));
  if (itav && in != der.data() + der.size()) itav.reset();
  if (!itav) ThrowOssl(env, Param(param, "value is not a valid DER value for its type"));
  return itav;
}

CrmfMsgPtr CrmFromJs(const Napi::Value& v, const char* param) {
  std::vector<unsigned char> der = BytesFromJs(v, param);
  CrmfMsgPtr crm(DecodeWhole<OSSL_CRMF_MSG, d2i_OSSL_CRMF_MSG>(der));
  if (!crm) ThrowOssl(v.Env(), Param(param, "is not a valid DER CertReqMsg"));
  return crm;
}

Napi::Value CertToJs(Napi::Env env, const X509* cert) {
  if (cert == nullptr) return env.Null();
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  return DerToJs(env, len, der);
}

Napi::Value CertsToJs(Napi::Env env, const STACK_OF(X509)* certs) {
  Napi::Array arr = Napi::Array::New(env);
  for (int i = 0; i < sk_X509_num(certs); i++) arr.Set(i, CertToJs(env, sk_X509_value(certs, i)));
  return arr;
}

Napi::Value StoreToJs(Napi::Env env, X509_STORE* store) {
  if (store == nullptr) return Napi::Array::New(env);
  X509StackPtr certs(X509_STORE_get1_all_certs(store));
  return CertsToJs(env, certs.get());
}

Napi::Value KeyToJs(Napi::Env env, const EVP_PKEY* key, bool isPrivate) {
  if (key == nullptr) return env.Null();
  unsigned char* der = nullptr;
  int len;
  if (isPrivate) {
    PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(key);
    if (p8 == nullptr) ThrowOssl(env, "private key could not be exported");
    len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    PKCS8_PRIV_KEY_INFO_free(p8);
  } else {
    len = i2d_PUBKEY(key, &der);
  }
  return DerToJs(env, len, der);
}

Napi::Value ItavToJs(Napi::Env env, const OSSL_CMP_ITAV* itav) {
  Napi::Object o = Napi::Object::New(env);
  const ASN1_OBJECT* type = OSSL_CMP_ITAV_get0_type(itav);
  char oid[128];
  OBJ_obj2txt(oid, sizeof oid, type, 1);
  o.Set("type", oid);
  int nid = OBJ_obj2nid(type);
  if (nid != NID_undef) o.Set("name", OBJ_nid2sn(nid));
  unsigned char* der = nullptr;
  int len = ASN1_item_i2d(reinterpret_cast<const ASN1_VALUE*>(itav), &der, OSSL_CMP_ITAV_it());
  if (len <= 0) ThrowOssl(env, "ITAV could not be encoded");
  // SEQUENCE { infoType, infoValue OPTIONAL }: what follows the OID is the value.
  const unsigned char* p = der;
  long inner = 0, oidLen = 0;
  int tag = 0, cls = 0;
  ASN1_get_object(&p, &inner, &tag, &cls, len);
  const unsigned char* end = p + inner;
  ASN1_get_object(&p, &oidLen, &tag, &cls, end - p);
  p += oidLen;
  if (p < end) o.Set("value", Napi::Buffer<unsigned char>::Copy(env, p, static_cast<size_t>(end - p)));
  OPENSSL_free(der);
  return o;
}

Napi::Value ItavsToJs(Napi::Env env, const STACK_OF(OSSL_CMP_ITAV)* itavs) {
  Napi::Array arr = Napi::Array::New(env);
  for (int i = 0; i < sk_OSSL_CMP_ITAV_num(itavs); i++) arr.Set(i, ItavToJs(env, sk_OSSL_CMP_ITAV_value(itavs, i)));
  return arr;
}

std::vector<std::string> FreeTextToStrings(const OSSL_CMP_PKIFREETEXT* text) {
  std::vector<std::string> out;
  for (int i = 0; i < sk_ASN1_UTF8STRING_num(text); i++) {
    const ASN1_UTF8STRING* s = sk_ASN1_UTF8STRING_value(text, i);
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

X509StackPtr CertSequenceFromDer(const unsigned char* der, long len) {
  const unsigned char* p = der;
  long innerLen = 0;
  int tag = 0, cls = 0;
  int ret = ASN1_get_object(&p, &innerLen, &tag, &cls, len);
  if ((ret & 0x80) != 0 || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL) return nullptr;
  const unsigned char* end = p + innerLen;
  X509StackPtr sk(sk_X509_new_null());
  while (p < end) {
    X509* cert = d2i_X509(nullptr, &p, end - p);
    if (cert == nullptr || !sk_X509_push(sk.get(), cert)) {
      X509_free(cert);
      return nullptr;
    }
  }
  return sk;
}

Napi::Value DerToJs(Napi::Env env, int len, unsigned char* der) {
  if (len < 0 || der == nullptr) ThrowOssl(env, "DER encoding failed");
  Napi::Buffer<unsigned char> buf = Napi::Buffer<unsigned char>::Copy(env, der, static_cast<size_t>(len));
  OPENSSL_free(der);
  return buf;
}

ASN1_INTEGER* IntegerFromBytes(const std::vector<unsigned char>& bytes) {
  BIGNUM* bn = BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr);
  ASN1_INTEGER* out = bn == nullptr ? nullptr : BN_to_ASN1_INTEGER(bn, nullptr);
  BN_free(bn);
  return out;
}

Napi::Value BytesOrNull(Napi::Env env, const std::vector<unsigned char>& v) {
  if (v.empty()) return env.Null();
  return Napi::Buffer<unsigned char>::Copy(env, v.data(), v.size());
}

Napi::Value ViewOrNull(Napi::Env env, const std::vector<unsigned char>& v) {
  if (v.empty()) return env.Null();
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, v.size());
  std::memcpy(ab.Data(), v.data(), v.size());
  return Napi::Uint8Array::New(env, v.size(), ab, 0);
}

}  // namespace cmp
