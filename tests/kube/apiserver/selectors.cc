#include "tests/kube/apiserver/selectors.h"

#include "tests/kube/apiserver/api_status.h"

namespace xgate::kubetest {
namespace {

absl::StatusOr<Selector> AsBadRequest(absl::StatusOr<Selector> selector) {
  if (!selector.ok()) return ApiError(400, "BadRequest", std::string(selector.status().message()));
  return selector;
}

}  // namespace

absl::StatusOr<Selector> LabelSelector(const std::string& text) {
  return AsBadRequest(Selector::Labels(text));
}

absl::StatusOr<Selector> FieldSelector(const std::string& text) {
  return AsBadRequest(Selector::Fields(text));
}

}  // namespace xgate::kubetest
