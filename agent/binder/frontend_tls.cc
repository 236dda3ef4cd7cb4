#include "agent/binder/frontend_tls.h"

#include "agent/binder/backend_tls.h"

namespace xgate::binder {
namespace {

using model::FrontendTLSValidation;

// The validation that applies to a listener on `port`: a perPort entry overrides the
// default, even one without validation.
const std::optional<FrontendTLSValidation>* ValidationFor(const model::Gateway& gw, int port) {
  if (!gw.tls.frontend) return nullptr;
  const model::FrontendTLSConfig& f = *gw.tls.frontend;
  if (auto it = f.per_port.find(port); it != f.per_port.end()) return &it->second;
  return &f.default_validation;
}

std::string RefsReason(CaRefs::Problem p) {
  switch (p) {
    case CaRefs::Problem::kUnsupportedKind:
      return "InvalidCACertificateKind";
    case CaRefs::Problem::kNotPermitted:
      return "RefNotPermitted";
    default:
      return "InvalidCACertificateRef";
  }
}

}  // namespace

FrontendValidationOutcome ResolveFrontendValidation(const Store& store, const model::Gateway& gw,
                                                    const model::Listener& listener) {
  FrontendValidationOutcome out;
  if (listener.protocol != "HTTPS") return out;
  const std::optional<FrontendTLSValidation>* v = ValidationFor(gw, listener.port);
  if (v == nullptr || !v->has_value()) return out;
  CaRefs refs = ResolveCaConfigMaps(store, (*v)->ca_certificate_refs, "Gateway", gw.meta.ns);
  if (refs.problem != CaRefs::Problem::kNone) {
    out.refs_reason = RefsReason(refs.problem);
    out.refs_message = refs.message;
  }
  out.no_valid_ca = refs.valid == 0;
  out.validation = ClientValidation{
      std::move(refs.pem),
      (*v)->mode == FrontendTLSValidation::Mode::kAllowInsecureFallback,
  };
  return out;
}

bool UsesInsecureFallback(const model::Gateway& gw) {
  if (!gw.tls.frontend) return false;
  auto insecure = [](const std::optional<FrontendTLSValidation>& v) {
    return v && v->mode == FrontendTLSValidation::Mode::kAllowInsecureFallback;
  };
  if (insecure(gw.tls.frontend->default_validation)) return true;
  for (const auto& [port, v] : gw.tls.frontend->per_port) {
    if (insecure(v)) return true;
  }
  return false;
}

}  // namespace xgate::binder
