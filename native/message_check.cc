#include "message_check.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>

#include <cstring>

namespace cmp {

namespace {

struct Tlv {
  int tag = 0;
  int cls = 0;
  bool constructed = false;
  const unsigned char* content = nullptr;
  long length = 0;
  const unsigned char* end = nullptr;  // just past the whole TLV
};

bool Read(const unsigned char* p, const unsigned char* limit, Tlv& t) {
  if (p >= limit) return false;
  const unsigned char* q = p;
  int ret = ASN1_get_object(&q, &t.length, &t.tag, &t.cls, limit - p);
  if ((ret & 0x80) != 0) return false;
  t.constructed = (ret & V_ASN1_CONSTRUCTED) != 0;
  t.content = q;
  t.end = q + t.length;
  return t.end <= limit;
}

// id-PasswordBasedMac, 1.2.840.113533.7.66.13
const unsigned char kPbmOid[] = {0x2a, 0x86, 0x48, 0x86, 0xf6, 0x7d, 0x07, 0x42, 0x0d};

// PKIHeader ::= SEQUENCE { pvno, sender, recipient, messageTime [0] OPTIONAL,
//                          protectionAlg [1] AlgorithmIdentifier OPTIONAL, ... }
bool HeaderIsSafe(const unsigned char* der, long len, std::string& why) {
  Tlv header, field;
  if (!Read(der, der + len, header) || header.tag != V_ASN1_SEQUENCE) return true;  // OpenSSL's decoder will refuse it
  const unsigned char* p = header.content;
  for (int skip = 0; skip < 3; skip++) {  // pvno, sender, recipient
    if (!Read(p, header.end, field)) return true;
    p = field.end;
  }
  while (Read(p, header.end, field)) {
    p = field.end;
    if (field.cls != V_ASN1_CONTEXT_SPECIFIC || field.tag != 1) continue;
    Tlv alg, oid, params;
    if (!Read(field.content, field.end, alg) || !Read(alg.content, alg.end, oid) || oid.tag != V_ASN1_OBJECT) {
      return true;
    }
    if (oid.length != static_cast<long>(sizeof kPbmOid) || std::memcmp(oid.content, kPbmOid, sizeof kPbmOid) != 0) {
      return true;
    }
    if (!Read(oid.end, alg.end, params) || params.cls != V_ASN1_UNIVERSAL || params.tag != V_ASN1_SEQUENCE ||
        !params.constructed) {
      why = "PBM protectionAlg parameters are not a SEQUENCE (CVE-2026-63076)";
      return false;
    }
    return true;
  }
  return true;
}

}  // namespace

// PKIMessage ::= SEQUENCE { header PKIHeader, ... }
bool ProtectionAlgIsSafe(const unsigned char* der, long len, std::string& why) {
  Tlv msg;
  if (!Read(der, der + len, msg) || msg.tag != V_ASN1_SEQUENCE) return true;
  return HeaderIsSafe(msg.content, msg.end - msg.content, why);
}

// The parsed message: only its header is encoded again, not the whole message.
bool ProtectionAlgIsSafe(const OSSL_CMP_MSG* msg, std::string& why) {
  unsigned char* der = nullptr;
  int len = i2d_OSSL_CMP_PKIHEADER(OSSL_CMP_MSG_get0_header(msg), &der);
  if (len <= 0) return true;
  bool ok = HeaderIsSafe(der, len, why);
  OPENSSL_free(der);
  return ok;
}

}  // namespace cmp
