// Issues X.509 certificates (Node's crypto has no API for it), for TestCa.
#pragma once

#include <napi.h>

namespace cmp {

// issueCertificate({ issuerCert?, issuerKey, publicKey, subject, serial,
//   notBefore, notAfter, extensions?, ca? }) -> DER certificate.
// issuerCert absent: self-signed. subject: one-line string or DER name.
Napi::Value IssueCertificate(const Napi::CallbackInfo& info);
// nameFromDer(der) -> the one-line form "/CN=a/O=b".
Napi::Value NameFromDer(const Napi::CallbackInfo& info);

}  // namespace cmp
