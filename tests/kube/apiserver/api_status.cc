#include "tests/kube/apiserver/api_status.h"

#include <absl/strings/str_cat.h>

namespace xgate::kubetest {
namespace {

constexpr char kCodeUrl[] = "k8s.io/code";
constexpr char kReasonUrl[] = "k8s.io/reason";
constexpr char kDetailsUrl[] = "k8s.io/details";

absl::StatusCode Canonical(int code) {
  switch (code) {
    case 400:
      return absl::StatusCode::kFailedPrecondition;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 422:
      return absl::StatusCode::kInvalidArgument;
    default:
      return code >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kUnknown;
  }
}

std::string Payload(const absl::Status& s, const char* url, std::string fallback) {
  auto p = s.GetPayload(url);
  return p ? std::string(*p) : fallback;
}

}  // namespace

absl::Status ApiError(int code, const std::string& reason, const std::string& message,
                      const nlohmann::json& details) {
  absl::Status s(Canonical(code), message);
  s.SetPayload(kCodeUrl, absl::Cord(std::to_string(code)));
  s.SetPayload(kReasonUrl, absl::Cord(reason));
  s.SetPayload(kDetailsUrl, absl::Cord(details.dump()));
  return s;
}

int HttpCode(const absl::Status& status) { return std::stoi(Payload(status, kCodeUrl, "500")); }

nlohmann::json StatusBody(const absl::Status& status) {
  nlohmann::json body = {{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"metadata", nlohmann::json::object()},
                         {"status", "Failure"},
                         {"message", std::string(status.message())},
                         {"reason", Payload(status, kReasonUrl, "InternalError")},
                         {"code", HttpCode(status)}};
  auto details = nlohmann::json::parse(Payload(status, kDetailsUrl, "{}"));
  if (!details.empty()) body["details"] = details;
  return body;
}

namespace {
nlohmann::json Details(const std::string& group_resource, const std::string& name) {
  auto dot = group_resource.find('.');
  nlohmann::json d = {{"name", name}, {"kind", group_resource.substr(0, dot)}};
  if (dot != std::string::npos) d["group"] = group_resource.substr(dot + 1);
  return d;
}
}  // namespace

absl::Status NotFound(const std::string& group_resource, const std::string& name) {
  return ApiError(404, "NotFound", absl::StrCat(group_resource, " \"", name, "\" not found"),
                  Details(group_resource, name));
}

absl::Status Conflict(const std::string& group_resource, const std::string& name) {
  return ApiError(409, "Conflict",
                  absl::StrCat("Operation cannot be fulfilled on ", group_resource, " \"", name,
                               "\": the object has been modified; please apply your changes to "
                               "the latest version and try again"),
                  Details(group_resource, name));
}

}  // namespace xgate::kubetest
