// Issues X.509 certificates (Node's crypto has no API for it), for TestCa.
#pragma once

#include <napi.h>

#include <vector>

#include "convert.h"

namespace cmp {

// issueCertificate({ issuer | (issuerCert?, issuerKey), publicKey, keyChecked?,
//   subject, serial, notBefore, notAfter, extensions?, ca? }) -> DER certificate.
// issuerCert absent: self-signed. subject: one-line string or DER name.
// keyChecked: publicKey is a SubjectPublicKeyInfo someone decoded already,
// taken over as it is. handOver: the certificate goes into a CmpServer answer;
// it is kept for TakeIssued.
Napi::Value IssueCertificate(const Napi::CallbackInfo& info);
// Any thread: the certificate issued with handOver whose DER is `der`, once; null if none.
X509Ptr TakeIssued(const std::vector<unsigned char>& der);
// certIssuer(issuerCert | null, issuerKey) -> the pair parsed once, for `issuer`.
Napi::Value CertIssuer(const Napi::CallbackInfo& info);
// nameFromDer(der) -> the one-line form "/CN=a/O=b".
Napi::Value NameFromDer(const Napi::CallbackInfo& info);
// nameToDer("/CN=a/O=b") -> DER name.
Napi::Value NameToDer(const Napi::CallbackInfo& info);
// issueCrl({ issuer | (issuerCert, issuerKey), thisUpdate, nextUpdate, crlNumber,
//   revoked: [{ serial, date }] }) -> DER CRL (v2, with CRL number and AKI).
Napi::Value IssueCrl(const Napi::CallbackInfo& info);

}  // namespace cmp
