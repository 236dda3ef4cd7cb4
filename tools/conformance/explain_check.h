// Cross-checks the agent's Explain (api/admin.proto) against what the proxy really did: for
// each HTTP request the runner sends, the same request is explained and the answer compared
// with the response and the echo pod that gave it.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/admin.grpc.pb.h"
#include "tools/conformance/checks.h"
#include "tools/conformance/client.h"

namespace xgate::conformance {

// The probe for the request bytes `raw` (as BuildHttpRequest made them) sent to `address`:
// `port`, with `sni` ("" for plain HTTP, or when the client sent none).
absl::StatusOr<api::RequestProbe> ProbeFor(const std::string& raw, const std::string& address,
                                           int port, const std::string& sni);

// One line: "routed to HTTPRoute ns/r rule 1 (ns/a 70%, ns/b 30%)", "not_found (404)"...
std::string DescribeExplanation(const api::RequestExplanation& e);

// Whether `e` agrees with what happened: `resp`, and `seen` when an echo pod answered
// (`pod_ip` its address, "" when unknown). The difference as "explain said X, the proxy did
// Y", or "". `compared` gets what was compared ("backend", "404", "redirect", "500",
// "5xx"), or "" when the answer says nothing explain predicts (a 4xx other than 404).
std::string CompareExplanation(const api::RequestExplanation& e, const Response& resp,
                               const EchoSeen* seen, const std::string& pod_ip,
                               std::string* compared = nullptr);

// The agent's Admin service on its unix socket.
class ExplainClient {
 public:
  explicit ExplainClient(const std::string& socket);
  absl::StatusOr<api::RequestExplanation> Explain(const api::RequestProbe& probe,
                                                  absl::Duration timeout = absl::Seconds(5));

 private:
  std::unique_ptr<api::Admin::Stub> stub_;
};

}  // namespace xgate::conformance
