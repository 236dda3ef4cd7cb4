// Expectation checks on answers (FORMAT.md, "A case", E6, E7), pure functions over what
// came back. Each returns the first difference in words, or an empty string when the
// expectation holds.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tools/conformance/case.h"
#include "tools/conformance/client.h"
#include "tools/conformance/grpc_client.h"

namespace xgate::conformance {

// What an echo pod said it received (FORMAT.md, "The echo backend").
struct EchoSeen {
  std::string path;
  std::string host;
  std::string method;
  std::string proto;  // "HTTP/1.1", "HTTP/2.0": what the backend was spoken
  std::string sni;    // tls.serverName: the SNI a TLS backend received (X7)
  // tls.peerCertificates (PEM, leaf first) and the leaf's subject: the client certificate a
  // TLS backend received (X12).
  std::vector<std::string> peer_certificates;
  std::string peer_subject;
  std::string ns;
  std::string pod;
  std::string service;  // pod without its "-N"
  echo::Headers headers;
};

// Parses an echo's JSON answer (or log line); nullopt when it is not one.
std::optional<EchoSeen> ParseEcho(const std::string& body);
// "infra-backend-v1-0" -> "infra-backend-v1".
std::string ServiceOfPod(const std::string& pod);

// Everything about one HTTP answer that is checked per sample: status, backend and
// namespace, the request the backend saw (path and method default to what was sent,
// `${backend}` in header values), response headers, redirect. `answered` gets the
// Service that answered, if an echo did.
std::string CheckHttpAnswer(const Request& req, const Response& resp, EchoSeen* answered = nullptr);
// X6: a gRPC answer: the status code; with OK, backend and namespace, the method the
// backend served, the authority and metadata it saw (request.host, request.headers).
std::string CheckGrpcAnswer(const Request& req, const GrpcAnswer& got);
// X12: that the backend received `want_leaf_pem` (the leaf of the runner-made certificate
// `want`, "ns/name") as the client's certificate.
std::string CheckClientCertificate(const EchoSeen& seen, const std::string& want,
                                   const std::string& want_leaf_pem);
// A UDP answer: backend and namespace.
std::string CheckUdpAnswer(const Request& req, const std::string& payload);
// A redirect's Location against E7's rules.
std::string CheckRedirect(const Request& req, const RedirectExpect& want,
                          const std::string& location);

// Shares out of `total`: each Service's share of `counts` within `tolerance` of its weight's
// share of the sum of weights (`percent`: the numbers are percents of total instead). A
// weight of 0 must get nothing. With `exclusive`, a Service outside `want` must get nothing.
std::string CheckShares(const std::vector<std::pair<std::string, double>>& want,
                        const std::map<std::string, int>& counts, int total, double tolerance,
                        bool percent, bool exclusive);

// The path the backend should have seen for `req` (request.path, else the path sent).
std::string ExpectedBackendPath(const Request& req);

}  // namespace xgate::conformance
