#include "verify_param.h"

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "ossl_error.h"

namespace cmp {

VerifyParamPtr VerifyParamFromJs(Napi::Env env, Napi::Object o) {
  VerifyParamPtr vpm(X509_VERIFY_PARAM_new());
  if (!vpm) ThrowOssl(env, "out of memory");
  auto str = [&](const char* k) { return StringFromJs(o.Get(k), k); };
  auto num = [&](const char* k) {
    if (!o.Get(k).IsNumber()) ThrowType(env, std::string(k) + " must be a number");
    return o.Get(k).As<Napi::Number>().Int64Value();
  };
  if (o.Has("verifyName")) {
    const X509_VERIFY_PARAM* named = X509_VERIFY_PARAM_lookup(str("verifyName").c_str());
    if (named == nullptr || !X509_VERIFY_PARAM_set1(vpm.get(), named)) {
      ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "Invalid verify name " + str("verifyName"));
    }
  }
  if (o.Get("policy").IsArray()) {
    Napi::Array policies = o.Get("policy").As<Napi::Array>();
    for (uint32_t i = 0; i < policies.Length(); i++) {
      std::string text = StringFromJs(policies.Get(i), "policy");
      ASN1_OBJECT* obj = OBJ_txt2obj(text.c_str(), 0);
      if (obj == nullptr || !X509_VERIFY_PARAM_add0_policy(vpm.get(), obj)) {
        ASN1_OBJECT_free(obj);
        ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "Invalid Policy " + text);
      }
    }
  }
  if (o.Has("purpose")) {
    int i = X509_PURPOSE_get_by_sname(str("purpose").c_str());
    const X509_PURPOSE* xp = i < 0 ? nullptr : X509_PURPOSE_get0(i);
    if (xp == nullptr || !X509_VERIFY_PARAM_set_purpose(vpm.get(), X509_PURPOSE_get_id(xp))) {
      ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "Invalid purpose " + str("purpose"));
    }
  }
  if (o.Has("depth")) X509_VERIFY_PARAM_set_depth(vpm.get(), static_cast<int>(num("depth")));
  if (o.Has("authLevel")) X509_VERIFY_PARAM_set_auth_level(vpm.get(), static_cast<int>(num("authLevel")));
  if (o.Has("attime")) X509_VERIFY_PARAM_set_time(vpm.get(), static_cast<time_t>(num("attime")));
  if (o.Has("host") && !X509_VERIFY_PARAM_set1_host(vpm.get(), str("host").c_str(), 0)) ThrowOssl(env, "Invalid verify_hostname");
  if (o.Has("email") && !X509_VERIFY_PARAM_set1_email(vpm.get(), str("email").c_str(), 0)) ThrowOssl(env, "Invalid verify_email");
  if (o.Has("ip") && !X509_VERIFY_PARAM_set1_ip_asc(vpm.get(), str("ip").c_str())) {
    ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "Invalid verify_ip " + str("ip"));
  }
  static const struct { const char* name; unsigned long flags; } kFlags[] = {
      {"ignore_critical", X509_V_FLAG_IGNORE_CRITICAL}, {"issuer_checks", 0},
      {"crl_check", X509_V_FLAG_CRL_CHECK}, {"crl_check_all", X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL},
      {"policy_check", X509_V_FLAG_POLICY_CHECK}, {"explicit_policy", X509_V_FLAG_EXPLICIT_POLICY},
      {"inhibit_any", X509_V_FLAG_INHIBIT_ANY}, {"inhibit_map", X509_V_FLAG_INHIBIT_MAP},
      {"x509_strict", X509_V_FLAG_X509_STRICT}, {"extended_crl", X509_V_FLAG_EXTENDED_CRL_SUPPORT},
      {"use_deltas", X509_V_FLAG_USE_DELTAS}, {"policy_print", X509_V_FLAG_NOTIFY_POLICY},
      {"check_ss_sig", X509_V_FLAG_CHECK_SS_SIGNATURE}, {"trusted_first", X509_V_FLAG_TRUSTED_FIRST},
      {"suiteB_128_only", X509_V_FLAG_SUITEB_128_LOS_ONLY}, {"suiteB_128", X509_V_FLAG_SUITEB_128_LOS},
      {"suiteB_192", X509_V_FLAG_SUITEB_192_LOS}, {"partial_chain", X509_V_FLAG_PARTIAL_CHAIN},
      {"no_alt_chains", X509_V_FLAG_NO_ALT_CHAINS}, {"no_check_time", X509_V_FLAG_NO_CHECK_TIME},
      {"allow_proxy_certs", X509_V_FLAG_ALLOW_PROXY_CERTS}};
  if (o.Get("flags").IsArray()) {
    Napi::Array flags = o.Get("flags").As<Napi::Array>();
    for (uint32_t i = 0; i < flags.Length(); i++) {
      std::string name = StringFromJs(flags.Get(i), "flags[]");
      bool known = false;
      for (const auto& f : kFlags) {
        if (name == f.name) {
          known = true;
          if (f.flags != 0) X509_VERIFY_PARAM_set_flags(vpm.get(), f.flags);
        }
      }
      if (!known) ThrowCode(env, "ERR_CMP_INVALID_ARGUMENT", "Unknown verification flag " + name);
    }
  }
  return vpm;
}

}  // namespace cmp
