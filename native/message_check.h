// Checks on a received PKIMessage made before OpenSSL verifies it.
#pragma once

#include <openssl/cmp.h>

#include <string>

namespace cmp {

// False, with the reason, for a message OpenSSL must not be given: one whose
// PBM protectionAlg parameters are not a SEQUENCE crashes OpenSSL 3.0.19's
// protection check (CVE-2026-63076).
// `der` is a whole PKIMessage; the parsed form is checked through its header alone.
bool ProtectionAlgIsSafe(const unsigned char* der, long len, std::string& why);
bool ProtectionAlgIsSafe(const OSSL_CMP_MSG* msg, std::string& why);

}  // namespace cmp
