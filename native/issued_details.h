// What the bulk engine keeps of an issued certificate and its new key, made
// on the transaction's thread from the objects OpenSSL already holds, so that
// the main thread parses nothing: Node's X509Certificate and KeyObject
// decode again what libcrypto decoded once (on OpenSSL 3.0 the public key
// decoder alone costs about as much as the rest of a parse).
#pragma once

#include <napi.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>

namespace cmp {

struct IssuedDetails {
  std::string pem;       // the certificate, PEM
  std::string serial;    // as X509Certificate.serialNumber prints it
  std::string subject;   // as X509Certificate.subject prints it
  std::string issuer;    // likewise
  std::string akid;      // the authority key identifier, hex; empty without one
  std::string notAfter;  // ISO 8601, as Date.prototype.toISOString
  std::string sha256;    // as X509Certificate.fingerprint256 prints it
  std::string keyPem;    // the new private key, PKCS#8 PEM (encrypted under a pass phrase); empty without one
  bool ok = false;

  IssuedDetails() = default;
  IssuedDetails(IssuedDetails&&) = default;
  IssuedDetails& operator=(IssuedDetails&&) = default;
  ~IssuedDetails();

  // keyPass: null for a key in clear.
  static IssuedDetails Of(X509* cert, EVP_PKEY* key, const std::string* keyPass);
  Napi::Object ToJs(Napi::Env env) const;
};

// "EC:P-256", "EC:P-384", "RSA:2048", "ED25519": a new key, or null (OpenSSL's error queue says why).
EVP_PKEY* GenerateKey(const std::string& spec);

}  // namespace cmp
