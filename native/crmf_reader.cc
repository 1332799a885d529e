#include "crmf_reader.h"

#include <openssl/err.h>
#include <openssl/bn.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>

#include "convert.h"
#include "features.h"
#include "platform.h"

namespace cmp {

std::vector<unsigned char> NameDer(const X509_NAME* name) {
  return name == nullptr ? std::vector<unsigned char>() : Der([&](unsigned char** out) { return i2d_X509_NAME(name, out); });
}

std::vector<unsigned char> IntegerBytes(const ASN1_INTEGER* i) {
  std::vector<unsigned char> out;
  BIGNUM* bn = i == nullptr ? nullptr : ASN1_INTEGER_to_BN(i, nullptr);
  if (bn != nullptr) {
    out.resize(static_cast<size_t>(BN_num_bytes(bn)));
    BN_bn2bin(bn, out.data());
    BN_free(bn);
  }
  return out;
}

namespace {

// The content of the template's field [tag]; OpenSSL 3.0 has no getters for
// publicKey and validity, so they are taken from the template's DER.
bool TemplateField(const std::vector<unsigned char>& t, int want, const unsigned char*& content, long& length) {
  const unsigned char* p = t.data();
  long len = 0;
  int tag = 0, cls = 0;
  if (t.empty() || (ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(t.size())) & 0x80) != 0) return false;
  const unsigned char* end = p + len;
  while (p < end) {
    if ((ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) != 0) return false;
    if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == want) {
      content = p;
      length = len;
      return true;
    }
    p += len;
  }
  return false;
}

// publicKey [6] IMPLICIT SubjectPublicKeyInfo: the SPKI with its own tag back.
std::vector<unsigned char> TemplatePublicKey(const std::vector<unsigned char>& t) {
  const unsigned char* p = nullptr;
  long len = 0;
  if (!TemplateField(t, 6, p, len)) return {};
  std::vector<unsigned char> spki(static_cast<size_t>(ASN1_object_size(1, static_cast<int>(len), V_ASN1_SEQUENCE)));
  unsigned char* q = spki.data();
  ASN1_put_object(&q, 1, static_cast<int>(len), V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
  std::copy(p, p + len, q);
  return spki;
}

// validity [4] IMPLICIT OptionalValidity { notBefore [0] Time OPT, notAfter [1] Time OPT }
void TemplateValidity(const std::vector<unsigned char>& t, double& notBefore, double& notAfter) {
  const unsigned char* p = nullptr;
  long len = 0;
  if (!TemplateField(t, 4, p, len)) return;
  const unsigned char* end = p + len;
  while (p < end) {
    long inner = 0;
    int tag = 0, cls = 0;
    if ((ASN1_get_object(&p, &inner, &tag, &cls, end - p) & 0x80) != 0) return;
    const unsigned char* q = p;
    ASN1_TIME* time = d2i_ASN1_TIME(nullptr, &q, inner);  // the CHOICE inside an explicit tag
    struct tm tm {};
    if (time != nullptr && ASN1_TIME_to_tm(time, &tm) == 1) {
      double secs = static_cast<double>(timegm(&tm));
      if (tag == 0) notBefore = secs;
      if (tag == 1) notAfter = secs;
    }
    ASN1_TIME_free(time);
    p += inner;
  }
}

// The certificate that oldCertId names, from the request's extraCerts
// (PKIMessage ::= SEQUENCE { header, body, [0] protection, [1] extraCerts }),
// where a KUR signed with it carries it; 3.0 has no getter for them.
std::vector<unsigned char> FindOldCert(const std::vector<unsigned char>& msg, const std::vector<unsigned char>& issuer,
                                       const std::vector<unsigned char>& serial) {
  const unsigned char* p = nullptr;
  long len = 0;
  if (!TemplateField(msg, 1, p, len)) return {};
  long seqLen = 0;
  int tag = 0, cls = 0;
  if ((ASN1_get_object(&p, &seqLen, &tag, &cls, len) & 0x80) != 0) return {};
  const unsigned char* end = p + seqLen;
  while (p < end) {
    const unsigned char* start = p;
    X509Ptr cert(d2i_X509(nullptr, &p, end - p));
    if (!cert) return {};
    if (NameDer(X509_get_issuer_name(cert.get())) == issuer && IntegerBytes(X509_get0_serialNumber(cert.get())) == serial) {
      return std::vector<unsigned char>(start, p);
    }
  }
  return {};
}

// CertReqMsg ::= SEQUENCE { certReq CertRequest, popo ProofOfPossession OPTIONAL, ... }, where
// ProofOfPossession ::= CHOICE { raVerified [0], signature [1], keyEncipherment [2], keyAgreement [3] }
bool SignaturePopo(const OSSL_CRMF_MSG* crm) {
  std::vector<unsigned char> der = Der([&](unsigned char** out) { return i2d_OSSL_CRMF_MSG(const_cast<OSSL_CRMF_MSG*>(crm), out); });
  const unsigned char* p = der.data();
  long len = 0;
  int tag = 0, cls = 0;
  if ((ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(der.size())) & 0x80) != 0) return false;
  const unsigned char* end = p + len;
  if ((ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) != 0) return false;  // certReq
  p += len;
  if (p >= end || (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) != 0) return false;
  return cls == V_ASN1_CONTEXT_SPECIFIC && tag == 1;
}

const char* BodyName(int type) {
  switch (type) {
    case OSSL_CMP_IR: return "ir";
    case OSSL_CMP_CR: return "cr";
    case OSSL_CMP_P10CR: return "p10cr";
    case OSSL_CMP_KUR: return "kur";
    default: return "unknown";
  }
}

}  // namespace

std::shared_ptr<CertReqInfo> ReadCertReq(const OSSL_CMP_MSG* req, int certReqId, const OSSL_CRMF_MSG* crm,
                                         const X509_REQ* p10cr, const std::vector<unsigned char>* message) {
  // what cannot be read stays unset; its parse errors must not become the reason of an error answer
  ERR_set_mark();
  auto in = std::make_shared<CertReqInfo>();
  in->type = BodyName(OSSL_CMP_MSG_get_bodytype(req));
  in->certReqId = certReqId;
  if (message != nullptr) in->message = *message;
  const Features& f = GetFeatures();
  if (f.centralkeygen_requested != nullptr) in->centralKeyGen = f.centralkeygen_requested(crm, p10cr) == 1;
  if (p10cr != nullptr) {
    in->csr = Der([&](unsigned char** out) { return i2d_X509_REQ(const_cast<X509_REQ*>(p10cr), out); });
    in->subject = NameDer(X509_REQ_get_subject_name(p10cr));
    EVP_PKEY* key = X509_REQ_get0_pubkey(const_cast<X509_REQ*>(p10cr));
    in->publicKeyUsable = key != nullptr && !in->centralKeyGen;
    in->publicKey = Der([&](unsigned char** out) { return i2d_PUBKEY(key, out); });
    STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(const_cast<X509_REQ*>(p10cr));
    if (exts != nullptr) {
      in->extensions = Der([&](unsigned char** out) { return i2d_X509_EXTENSIONS(exts, out); });
      sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
  } else if (crm != nullptr) {
    const OSSL_CRMF_CERTTEMPLATE* tmpl = OSSL_CRMF_MSG_get0_tmpl(crm);
    in->subject = NameDer(OSSL_CRMF_CERTTEMPLATE_get0_subject(tmpl));
    std::vector<unsigned char> t =
        Der([&](unsigned char** out) { return i2d_OSSL_CRMF_CERTTEMPLATE(const_cast<OSSL_CRMF_CERTTEMPLATE*>(tmpl), out); });
    in->publicKey = TemplatePublicKey(t);
    // checked here, on the worker, so that the main thread can take the key over as it is
    if (!in->publicKey.empty() && !in->centralKeyGen) {
      if (f.tmpl_get0_publicKey != nullptr) {
        // 3.2+: the key OpenSSL decoded when it read the request
        in->publicKeyUsable = X509_PUBKEY_get0(f.tmpl_get0_publicKey(tmpl)) != nullptr;
      } else if (SignaturePopo(crm)) {
        // older: OpenSSL verified the POPO signature with this very key before asking (ossl_cmp_verify_popo)
        in->publicKeyUsable = true;
      } else {
        const unsigned char* p = in->publicKey.data();
        EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(in->publicKey.size()));
        in->publicKeyUsable = key != nullptr && !in->centralKeyGen;
        EVP_PKEY_free(key);
      }
    }
    TemplateValidity(t, in->notBefore, in->notAfter);
    X509_EXTENSIONS* exts = OSSL_CRMF_CERTTEMPLATE_get0_extensions(tmpl);
    if (exts != nullptr) {
      in->extensions = Der([&](unsigned char** out) { return i2d_X509_EXTENSIONS(exts, out); });
    }
    OSSL_CRMF_CERTID* old = OSSL_CRMF_MSG_get0_regCtrl_oldCertID(crm);
    if (old != nullptr) {
      in->oldIssuer = NameDer(OSSL_CRMF_CERTID_get0_issuer(old));
      in->oldSerial = IntegerBytes(OSSL_CRMF_CERTID_get0_serialNumber(old));
      if (message != nullptr) in->oldCert = FindOldCert(*message, in->oldIssuer, in->oldSerial);
    }
  }
  ERR_pop_to_mark();
  return in;
}

}  // namespace cmp
