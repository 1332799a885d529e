// OpenSSL's object names (digest, MAC, OID short and long names) as the
// facade needs them resolved.
#pragma once

#include <napi.h>

namespace cmp {

Napi::Value ObjectNid(const Napi::CallbackInfo& info);
Napi::Value ObjectOid(const Napi::CallbackInfo& info);

}  // namespace cmp
