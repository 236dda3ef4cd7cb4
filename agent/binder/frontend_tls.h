// A Gateway's spec.tls.frontend: which client certificate validation each HTTPS listener
// gets (the perPort entry for its port, else the default), whether its CA references
// resolve, and the conditions that follow (GEP-91).
#pragma once

#include <optional>
#include <string>

#include "agent/binder/binder.h"

namespace xgate::binder {

struct FrontendValidationOutcome {
  std::optional<ClientValidation> validation;  // unset: no client certificate asked for
  // ResolvedRefs False reason (InvalidCACertificateRef, InvalidCACertificateKind,
  // RefNotPermitted) and message; "" when every reference resolves.
  std::string refs_reason;
  std::string refs_message;
  bool no_valid_ca = false;  // every reference is invalid: the listener is not accepted
};

FrontendValidationOutcome ResolveFrontendValidation(const Store& store, const model::Gateway& gw,
                                                    const model::Listener& listener);

// Whether the default or a perPort entry is AllowInsecureFallback (the Gateway's
// InsecureFrontendValidationMode condition).
bool UsesInsecureFallback(const model::Gateway& gw);

}  // namespace xgate::binder
