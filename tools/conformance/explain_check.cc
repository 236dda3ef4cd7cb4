#include "tools/conformance/explain_check.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tools/echo/http_io.h"

namespace xgate::conformance {

absl::StatusOr<api::RequestProbe> ProbeFor(const std::string& raw, const std::string& address,
                                           int port, const std::string& sni) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return absl::InvalidArgumentError("request head without its end");
  std::vector<std::string> lines = absl::StrSplit(raw.substr(0, end), "\r\n");
  std::vector<std::string> start = absl::StrSplit(lines[0], ' ');
  if (start.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat("bad request line \"", lines[0], "\""));
  }
  api::RequestProbe probe;
  probe.set_listener_address(address);
  probe.set_listener_port(static_cast<uint32_t>(port));
  probe.set_sni(sni);
  probe.set_method(start[0]);
  probe.set_path(start[1]);
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad header line \"", lines[i], "\""));
    }
    std::string name = lines[i].substr(0, colon);
    std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    if (absl::EqualsIgnoreCase(name, "host")) {
      probe.set_host(value);
      continue;
    }
    api::Header* h = probe.add_headers();
    h->set_name(name);
    h->set_value(value);
  }
  return probe;
}

std::string DescribeExplanation(const api::RequestExplanation& e) {
  if (e.outcome() != "routed") {
    std::string s = absl::StrCat(e.outcome(), " (", e.status(), ")");
    if (!e.route().empty()) absl::StrAppend(&s, " at ", e.route(), " rule ", e.rule_index());
    return s;
  }
  std::string s = absl::StrCat("routed to ", e.route(), " rule ", e.rule_index());
  if (e.redirect()) return s + " (RequestRedirect)";
  std::vector<std::string> backends;
  for (const api::ExplainBackend& b : e.backends()) {
    backends.push_back(absl::StrCat(b.service(), b.cluster().empty() ? " (invalid)" : "", " ",
                                    static_cast<int>(b.share_percent() + 0.5), "%"));
  }
  return absl::StrCat(s, " (", absl::StrJoin(backends, ", "), ")");
}

namespace {

// A weighted, valid backend of `e` for Service `service` ("ns/name"), or nullptr.
const api::ExplainBackend* BackendFor(const api::RequestExplanation& e,
                                      const std::string& service) {
  for (const api::ExplainBackend& b : e.backends()) {
    if (b.service() == service && !b.cluster().empty() && b.weight() > 0) return &b;
  }
  return nullptr;
}

bool HasInvalidBackend(const api::RequestExplanation& e) {
  for (const api::ExplainBackend& b : e.backends()) {
    if (b.cluster().empty() && b.weight() > 0) return true;
  }
  return false;
}

}  // namespace

std::string CompareExplanation(const api::RequestExplanation& e, const Response& resp,
                               const EchoSeen* seen, const std::string& pod_ip,
                               std::string* compared) {
  auto note = [&](const char* what) {
    if (compared != nullptr) *compared = what;
  };
  note("");
  std::string said = absl::StrCat("explain said ", DescribeExplanation(e));
  auto differ = [&](const std::string& did) { return absl::StrCat(said, ", the proxy ", did); };
  bool routed = e.outcome() == "routed";
  if (seen != nullptr && !seen->pod.empty()) {
    std::string service = absl::StrCat(seen->ns, "/", seen->service);
    note("backend");
    std::string did = absl::StrCat("sent it to ", service, " (pod ", seen->pod, ")");
    if (!routed || e.redirect()) return differ(did);
    const api::ExplainBackend* b = BackendFor(e, service);
    if (b == nullptr) return differ(did);
    if (!pod_ip.empty() && b->endpoints_size() > 0) {
      bool listed = false;
      for (const api::Endpoint& ep : b->endpoints()) listed = listed || ep.address() == pod_ip;
      if (!listed) {
        std::vector<std::string> eps;
        for (const api::Endpoint& ep : b->endpoints())
          eps.push_back(absl::StrCat(ep.address(), ":", ep.port()));
        return absl::StrCat("explain said ", service, " has endpoints ", absl::StrJoin(eps, ", "),
                            ", the proxy sent it to pod ", seen->pod, " at ", pod_ip);
      }
    }
    return "";
  }
  // An echo pod failing on request (FORMAT.md X3) answers without an echo body, but with
  // X-Echo-Attempt: the proxy passed a backend's answer on.
  bool attempt_seen = false;
  echo::JoinedHeader(resp.headers, "X-Echo-Attempt", &attempt_seen);
  if (attempt_seen) {
    note("backend");
    return routed && !e.redirect() ? "" : differ("passed on a backend's failing answer");
  }
  std::string did = absl::StrCat("answered ", resp.status, " itself");
  if (resp.status == 404) {
    note("404");
    return e.outcome() == "not_found" || e.outcome() == "no_listener" ? "" : differ(did);
  }
  if (resp.status >= 300 && resp.status < 400) {
    note("redirect");
    return routed && e.redirect() ? "" : differ(did + " (a redirect)");
  }
  if (resp.status == 500) {
    note("500");
    bool invalid = e.outcome() == "no_backend" || (routed && !e.redirect() && HasInvalidBackend(e));
    return invalid ? "" : differ(did + " (no valid backend)");
  }
  if (resp.status > 500) {
    note("5xx");
    return routed && !e.redirect() ? "" : differ(did + " (upstream error)");
  }
  return "";
}

ExplainClient::ExplainClient(const std::string& socket)
    : stub_(api::Admin::NewStub(
          grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()))) {}

absl::StatusOr<api::RequestExplanation> ExplainClient::Explain(const api::RequestProbe& probe,
                                                               absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  api::ExplainRequest request;
  *request.mutable_request() = probe;
  api::ExplainResponse response;
  grpc::Status s = stub_->Explain(&context, request, &response);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("the agent's Explain failed: ", s.error_message(),
                                               " (code ", static_cast<int>(s.error_code()), ")"));
  }
  if (!response.has_request()) return absl::UnavailableError("Explain answered without a request");
  return response.request();
}

}  // namespace xgate::conformance
