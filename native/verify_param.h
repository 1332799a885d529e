// setVerifyParam's options as an X509_VERIFY_PARAM: the certificate
// verification options of the openssl apps (-verify_depth, -attime, -purpose,
// -partial_chain, ...), which the context applies to every trust store in use.
#pragma once

#include <napi.h>
#include <openssl/x509_vfy.h>

#include <memory>

#include "convert.h"

namespace cmp {

using VerifyParamPtr = std::unique_ptr<X509_VERIFY_PARAM, Freer<X509_VERIFY_PARAM, X509_VERIFY_PARAM_free>>;

VerifyParamPtr VerifyParamFromJs(Napi::Env env, Napi::Object o);

}  // namespace cmp
