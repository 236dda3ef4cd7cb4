// The conformance case format (../shared/conformance/FORMAT.md, E1 to E11) as types, and
// its parsing with yaml-cpp. Errors name the file, the line and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::conformance {

// Name/value pairs in the order written (header names keep their case).
using Pairs = std::vector<std::pair<std::string, std::string>>;

struct CertificateSpec {
  std::string name;
  std::string ns;
  std::vector<std::string> hosts;  // DNS names; IP literals become IP SANs
  std::string ca;                  // X11: signed by this extra CA of the run ("": the run's CA)
};

struct TlsBackend {
  std::string service;
  std::string ns;
  std::string secret;
  // X12 (tests/conformance/FORMAT.md): the echo requires a client certificate that chains to
  // the run's CA, or to the extra CA `client_ca` (X11) when it is set.
  bool require_client_certificate = false;
  std::string client_ca;
};

// X6 (tests/conformance/FORMAT.md): a ConfigMap whose ca.crt is the run's CA certificate.
struct CaConfigMap {
  std::string name;
  std::string ns;
  std::string ca;  // X11: this extra CA's certificate instead ("": the run's CA)
};

struct RedirectExpect {
  std::optional<std::string> scheme;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<std::string> path;
};

struct RequestExpect {  // what the backend must have received
  std::optional<std::string> path;
  std::optional<std::string> host;
  std::optional<std::string> method;
  std::optional<std::string> proto;  // X5: "HTTP/2.0" for an h2c backend
  std::optional<std::string> sni;    // X7: the SNI a TLS backend received ("" for none)
  // X12: the runner-made certificate ("ns/name" of a `certificates` entry) the TLS backend
  // received as the client's.
  std::optional<std::string> client_certificate;
  Pairs headers;
  std::vector<std::string> absent_headers;
};

struct Expect {
  std::optional<int> status;
  // X6 (tests/conformance/FORMAT.md): the gRPC status code of a `grpc` request (0: OK).
  std::optional<int> grpc_status;
  std::optional<std::string> backend;
  std::optional<std::string> ns;
  RequestExpect request;
  Pairs headers;
  std::vector<std::string> absent_headers;
  // X2 (tests/conformance/FORMAT.md): response headers that must equal one of the values,
  // whitespace ignored.
  std::vector<std::pair<std::string, std::vector<std::string>>> header_values;
  // X1: the gateway answers itself (a CORS preflight): no echo backend's answer.
  bool from_gateway = false;
  // X11: no HTTP response comes: the connection or the TLS handshake fails, or the
  // connection ends (a TLS alert) before any response.
  bool tls_failure = false;
  std::optional<RedirectExpect> redirect;
  std::vector<std::string> mirror;
  std::vector<std::pair<std::string, double>> weights;
  std::vector<std::pair<std::string, double>> mirror_shares;
  double tolerance = 0.05;
};

struct Request {
  int line = 0;  // where it is written, for messages
  std::string gateway_ns;
  std::string gateway_name;
  std::string scheme = "http";  // http | https | udp
  std::string host;             // empty: the Gateway's address
  std::string method = "GET";
  std::string path = "/";
  std::optional<int> port;
  Pairs headers;
  Pairs backend_response_headers;
  // X3 (tests/conformance/FORMAT.md): the echo answers the first `count` sends of this
  // request with `status` (0 count: not asked).
  int backend_failures = 0;
  int backend_failure_status = 500;
  // X4: upgrade to WebSocket, then send these bytes and expect them back.
  std::optional<std::string> websocket;
  // X4 over HTTP/2 (`websocketHttp2`): the WebSocket by an extended CONNECT (RFC 8441).
  bool websocket_h2 = false;
  // X6: a unary call of the conformance GrpcEcho service (Echo, EchoTwo, EchoThree) over
  // HTTP/2 with prior knowledge; `headers` are its metadata, `host` its authority.
  std::optional<std::string> grpc_method;
  // X10: the session a sampled request carries from the first answer to the later samples:
  // the cookie (Set-Cookie / Cookie) or the header of this name.
  std::optional<std::string> session_cookie;
  std::optional<std::string> session_header;
  // X11: present this runner-made certificate ("ns/name" of a `certificates` entry) to the
  // gateway in the TLS handshake.
  std::optional<std::string> client_certificate;
  int samples = 0;  // 0: a single request
  int attempts = 1;
  Expect expect;

  int Port() const { return port.value_or(scheme == "https" ? 443 : 80); }
  // The namespace Services in `expect` are named in.
  std::string ExpectNamespace() const { return expect.ns.value_or(gateway_ns); }
};

struct StatusCheck {
  int line = 0;
  std::string kind;
  std::string ns;  // empty for GatewayClass
  std::string name;
  std::string parent_ns;  // routes; for a BackendTLSPolicy the ancestor Gateway (X8)
  std::string parent_name;
  std::optional<std::string> section_name;
  std::optional<std::string> listener;
  std::optional<std::string> type;
  std::optional<std::string> status;
  std::optional<std::string> reason;
  std::optional<int64_t> observed_generation;
  std::optional<int64_t> attached_routes;
  std::optional<std::vector<std::string>> supported_kinds;
  std::optional<std::vector<std::string>> listeners;
  std::optional<int64_t> attached_listener_sets;  // Gateway: status.attachedListenerSets (X13)
  std::optional<int64_t> parent_count;            // routes: how many parents xgate reports (X13)
  std::string parent_kind = "Gateway";            // routes: Gateway or ListenerSet (X13)

  std::string Describe() const;  // "HTTPRoute ns/name" and what is checked, for messages
};

struct ObjectRef {
  std::string kind;
  std::string ns;
  std::string name;
};

struct Step {
  int line = 0;
  std::string apply;  // manifests, may be empty
  int apply_line = 0;
  std::vector<ObjectRef> deletes;
  std::vector<StatusCheck> status;
  std::vector<Request> requests;
};

// What base.yaml and a case have in common.
struct Manifested {
  std::string file;
  std::string manifests;
  int manifests_line = 0;  // line of the first manifest line in the file
  std::vector<CertificateSpec> certificates;
  std::vector<TlsBackend> tls_backends;
  std::vector<CaConfigMap> ca_config_maps;  // X6
};

struct Base : Manifested {};

struct Case : Manifested {
  std::string name;
  std::string feature;
  std::string support;  // core | extended
  std::string description;
  std::string upstream;
  std::vector<std::string> features;
  std::vector<StatusCheck> status;
  std::vector<Request> requests;
  std::vector<Step> steps;
};

absl::StatusOr<Base> ParseBase(const std::string& text, const std::string& file);
absl::StatusOr<Case> ParseCase(const std::string& text, const std::string& file);
absl::StatusOr<Base> LoadBase(const std::string& path);
absl::StatusOr<Case> LoadCase(const std::string& path);

// The case files of a folder (every *.yaml directly in it except base.yaml), sorted.
absl::StatusOr<std::vector<std::string>> CaseFiles(const std::string& dir);
// The base for a cases folder (E1): `given`, else DIR/base.yaml, else DIR/../base.yaml.
absl::StatusOr<std::string> FindBase(const std::string& dir, const std::string& given);

}  // namespace xgate::conformance
