// What a certificate request (IR, CR, P10CR, KUR) asks for, read on the
// worker thread from OpenSSL's parsed request and, where OpenSSL 3.0 has no
// getter (template publicKey and validity, the old certificate in
// extraCerts), from the DER as received.
#pragma once

#include <openssl/cmp.h>
#include <openssl/crmf.h>

#include <memory>
#include <string>
#include <vector>

namespace cmp {

// What a certificate request asks for, gathered on the worker thread.
struct CertReqInfo {
  std::string type;
  int certReqId = 0;
  std::vector<unsigned char> subject, publicKey, extensions, csr, oldIssuer, oldSerial;
  std::string sender;
  double notBefore = 0, notAfter = 0;  // seconds since the epoch; 0: not requested
  std::vector<unsigned char> oldCert;  // KUR: the certificate being updated, when the request carries it
  bool centralKeyGen = false;          // no POPO and no (or an empty) public key: the server makes the key
  bool publicKeyUsable = false;        // publicKey decodes to a key the certificate is for (never with centralKeyGen)
  std::vector<unsigned char> message;  // the whole request as received, for what the fields above leave out
};

std::vector<unsigned char> NameDer(const X509_NAME* name);
// Big-endian magnitude; empty for null.
std::vector<unsigned char> IntegerBytes(const ASN1_INTEGER* i);

// `message`: the request's DER as received, or null.
std::shared_ptr<CertReqInfo> ReadCertReq(const OSSL_CMP_MSG* req, int certReqId, const OSSL_CRMF_MSG* crm,
                                         const X509_REQ* p10cr, const std::vector<unsigned char>* message);

}  // namespace cmp
