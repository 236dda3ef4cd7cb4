#include "tools/conformance/case.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "tools/conformance/manifests.h"

namespace xgate::conformance {
namespace {

const std::string kShared = XGATE_SHARED_DIR "/conformance";

TEST(ConformanceCaseFiles, EveryCaseInTheSharedFolderParses) {
  absl::StatusOr<std::vector<std::string>> files = CaseFiles(kShared + "/cases");
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_GE(files->size(), 40u);
  for (const std::string& f : *files) {
    absl::StatusOr<Case> c = LoadCase(f);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->name, std::filesystem::path(f).stem().string());
    EXPECT_FALSE(c->status.empty() && c->requests.empty()) << f;
    absl::StatusOr<std::vector<Object>> objs = SplitManifests(c->manifests, f, c->manifests_line);
    ASSERT_TRUE(objs.ok()) << objs.status();
    for (const Step& s : c->steps) {
      EXPECT_TRUE(SplitManifests(s.apply, f, s.apply_line).ok()) << f;
    }
  }
}

TEST(ConformanceCaseFiles, EveryProjectCaseParses) {
  absl::StatusOr<std::vector<std::string>> files = CaseFiles(XGATE_PROJECT_CASES);
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_GE(files->size(), 3u);
  for (const std::string& f : *files) {
    absl::StatusOr<Case> c = LoadCase(f);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(SplitManifests(c->manifests, f, c->manifests_line).ok()) << f;
  }
}

TEST(ConformanceCaseFiles, BaseIsFoundBesideTheCasesFolder) {
  absl::StatusOr<std::string> base = FindBase(kShared + "/cases", "");
  ASSERT_TRUE(base.ok()) << base.status();
  EXPECT_EQ(std::filesystem::path(*base).filename(), "base.yaml");
  absl::StatusOr<Base> b = LoadBase(*base);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->certificates.size(), 4u);
  EXPECT_EQ(b->tls_backends.size(), 2u);
  EXPECT_FALSE(FindBase(kShared + "/cases", "/nonexistent/base.yaml").ok());
}

TEST(ConformanceParseCase, ReadsRequestsAndExpectations) {
  absl::StatusOr<Case> c = ParseCase(R"(name: x
feature: HTTPRoute
support: core
status:
- {kind: HTTPRoute, namespace: ns, name: r, parent: ns/gw, type: Accepted, status: "True", observedGeneration: 2}
- {kind: Gateway, namespace: ns, name: gw, listener: http, supportedKinds: [], attachedRoutes: 0}
requests:
- gateway: ns/gw
  host: example.com
  path: /a?b=c
  headers: {X-Foo: bar, x-num: 1}
  expect:
    status: 200
    backend: v1
    request: {path: /z, headers: {X-B: "${backend}"}, absentHeaders: [X-Gone]}
    mirror: [m1, m2]
- gateway: ns/gw
  scheme: udp
  port: 5300
  expect: {backend: dns}
- gateway: ns/gw
  path: /
  samples: 100
  attempts: 2
  expect:
    namespace: other
    weights: {a: 70, b: 30}
    tolerance: 0.1
)",
                                     "/dir/x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->status.size(), 2u);
  EXPECT_EQ(c->status[0].parent_ns, "ns");
  EXPECT_EQ(c->status[0].observed_generation, 2);
  ASSERT_TRUE(c->status[1].supported_kinds.has_value());
  EXPECT_TRUE(c->status[1].supported_kinds->empty());
  EXPECT_EQ(c->status[1].attached_routes, 0);
  ASSERT_EQ(c->requests.size(), 3u);
  const Request& r = c->requests[0];
  EXPECT_EQ(r.Port(), 80);
  EXPECT_EQ(r.headers[1], (std::pair<std::string, std::string>{"x-num", "1"}));
  EXPECT_EQ(r.expect.request.path, "/z");
  EXPECT_EQ(r.expect.mirror, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(r.ExpectNamespace(), "ns");
  EXPECT_EQ(c->requests[1].Port(), 5300);
  EXPECT_EQ(c->requests[2].samples, 100);
  EXPECT_EQ(c->requests[2].attempts, 2);
  EXPECT_EQ(c->requests[2].ExpectNamespace(), "other");
  EXPECT_DOUBLE_EQ(c->requests[2].expect.tolerance, 0.1);
}

TEST(ConformanceParseCase, BackendFailuresAndWebSocket) {
  absl::StatusOr<Case> c = ParseCase(R"(name: x
feature: F
support: extended
requests:
- gateway: ns/gw
  backendFailures: {count: 2, status: 503}
  expect: {status: 200}
- gateway: ns/gw
  backendFailures: {count: 1}
  websocket: hello
  expect: {status: 101, backend: b}
)",
                                     "/d/x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->requests[0].backend_failures, 2);
  EXPECT_EQ(c->requests[0].backend_failure_status, 503);
  EXPECT_FALSE(c->requests[0].websocket.has_value());
  EXPECT_EQ(c->requests[1].backend_failure_status, 500);
  EXPECT_EQ(c->requests[1].websocket, "hello");
  EXPECT_FALSE(c->requests[1].websocket_h2);
}

TEST(ConformanceParseCase, WebSocketOverHttp2) {
  absl::StatusOr<Case> c = ParseCase(R"(name: x
feature: F
support: extended
requests:
- gateway: ns/gw
  scheme: https
  websocketHttp2: hello
  expect: {status: 200, backend: b}
)",
                                     "/d/x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->requests[0].websocket, "hello");
  EXPECT_TRUE(c->requests[0].websocket_h2);
}

TEST(ConformanceParseCase, SessionRequests) {
  absl::StatusOr<Case> c = ParseCase(R"(name: x
feature: F
support: extended
requests:
- gateway: ns/gw
  samples: 3
  session: {cookie: sid}
  expect: {status: 200}
- gateway: ns/gw
  samples: 2
  session: {header: X-Session}
  expect: {status: 200}
)",
                                     "/d/x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->requests[0].session_cookie, "sid");
  EXPECT_FALSE(c->requests[0].session_header.has_value());
  EXPECT_EQ(c->requests[1].session_header, "X-Session");
}

TEST(ConformanceParseCase, GrpcRequests) {
  absl::StatusOr<Case> c = ParseCase(R"(name: x
feature: F
support: extended
requests:
- gateway: ns/gw
  grpc: {method: EchoTwo}
  host: grpc.example.com
  headers: {version: two}
  expect: {backend: b}
- gateway: ns/gw
  grpc: {method: EchoThree}
  expect: {grpcStatus: 12}
- gateway: ns/gw
  scheme: https
  grpc: {method: Echo}
  expect: {}
- gateway: ns/gw
  scheme: https
  grpc: {method: Echo}
  clientCertificate: ns/client
  expect: {}
)",
                                     "/d/x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->requests[2].scheme, "https");
  EXPECT_FALSE(c->requests[2].client_certificate.has_value());
  EXPECT_EQ(c->requests[3].client_certificate, "ns/client");
  EXPECT_EQ(c->requests[2].Port(), 443);
  EXPECT_EQ(c->requests[0].grpc_method, "EchoTwo");
  EXPECT_EQ(c->requests[0].expect.grpc_status, 0);
  EXPECT_EQ(c->requests[1].expect.grpc_status, 12);
  const std::string head = "name: x\nfeature: F\nsupport: core\nrequests:\n- gateway: ns/gw\n";
  for (const auto& [body, want] : std::vector<std::pair<std::string, std::string>>{
           {"  grpc: {method: Ping}\n  expect: {}\n", "requests[0].grpc.method: must be Echo"},
           {"  grpc: {method: Echo}\n  path: /x\n  expect: {}\n", "requests[0].grpc: goes with"},
           {"  grpc: {method: Echo}\n  clientCertificate: ns/c\n  expect: {}\n",
            "requests[0].clientCertificate: only for scheme https"},
           {"  grpc: {method: Echo}\n  expect: {status: 200}\n", "a grpc request has grpcStatus"},
           {"  path: /\n  expect: {grpcStatus: 0}\n", "only for a grpc request"},
       }) {
    absl::StatusOr<Case> bad = ParseCase(head + body, "/d/x.yaml");
    ASSERT_FALSE(bad.ok()) << body;
    EXPECT_NE(bad.status().message().find(want), std::string::npos) << bad.status().message();
  }
}

TEST(ConformanceParseCase, ClientCertificatesAndTlsFailures) {
  absl::StatusOr<Case> c = ParseCase(R"(name: x
feature: F
support: core
certificates:
- {name: client, namespace: ns, hosts: [c.example], ca: other}
caConfigMaps:
- {name: ca, namespace: ns, ca: other}
- {name: run-ca, namespace: ns}
requests:
- gateway: ns/gw
  scheme: https
  clientCertificate: ns/client
  expect: {status: 200}
- gateway: ns/gw
  scheme: https
  expect: {tlsFailure: true}
)",
                                     "/d/x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->certificates[0].ca, "other");
  EXPECT_EQ(c->ca_config_maps[0].ca, "other");
  EXPECT_EQ(c->ca_config_maps[1].ca, "");
  EXPECT_EQ(c->requests[0].client_certificate, "ns/client");
  EXPECT_FALSE(c->requests[0].expect.tls_failure);
  EXPECT_FALSE(c->requests[1].client_certificate);
  EXPECT_TRUE(c->requests[1].expect.tls_failure);
  const std::string head = "name: x\nfeature: F\nsupport: core\nrequests:\n- gateway: ns/gw\n";
  for (const auto& [body, want] : std::vector<std::pair<std::string, std::string>>{
           {"  clientCertificate: ns/c\n  expect: {status: 200}\n", "only for scheme https"},
           {"  scheme: https\n  clientCertificate: c\n  expect: {status: 200}\n",
            "requests[0].clientCertificate: must be NAMESPACE/NAME"},
           {"  expect: {tlsFailure: true}\n", "only for a single https request"},
           {"  scheme: https\n  expect: {tlsFailure: true, status: 200}\n", "goes alone"},
           {"  scheme: https\n  expect: {tlsFailure: false}\n", "true (or leave it out)"},
       }) {
    absl::StatusOr<Case> bad = ParseCase(head + body, "/d/x.yaml");
    ASSERT_FALSE(bad.ok()) << body;
    EXPECT_NE(bad.status().message().find(want), std::string::npos) << bad.status().message();
  }
}

TEST(ConformanceParseCase, BackendsThatRequireAClientCertificate) {
  absl::StatusOr<Case> c = ParseCase(R"(name: x
feature: F
support: extended
tlsBackends:
- {service: a, namespace: ns, secret: s, requireClientCertificate: true}
- {service: b, namespace: ns, secret: s, requireClientCertificate: true, clientCa: other}
- {service: c, namespace: ns, secret: s}
requests:
- gateway: ns/gw
  expect: {status: 200, request: {sni: a.example, clientCertificate: ns/client}}
- gateway: ns/gw
  expect: {status: 502}
)",
                                     "/d/x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->tls_backends.size(), 3u);
  EXPECT_TRUE(c->tls_backends[0].require_client_certificate);
  EXPECT_EQ(c->tls_backends[0].client_ca, "");
  EXPECT_EQ(c->tls_backends[1].client_ca, "other");
  EXPECT_FALSE(c->tls_backends[2].require_client_certificate);
  EXPECT_EQ(c->requests[0].expect.request.client_certificate, "ns/client");
  EXPECT_FALSE(c->requests[1].expect.request.client_certificate);
  const std::string head = "name: x\nfeature: F\nsupport: core\n";
  for (const auto& [body, want] : std::vector<std::pair<std::string, std::string>>{
           {"tlsBackends:\n- {service: a, namespace: ns, secret: s, clientCa: o}\n",
            "tlsBackends[].clientCa: needs requireClientCertificate: true"},
           {"tlsBackends:\n- {service: a, namespace: ns, secret: s, "
            "requireClientCertificate: yes}\n",
            "tlsBackends[].requireClientCertificate: true or false"},
           {"requests:\n- gateway: ns/gw\n  expect: {request: {clientCertificate: c}}\n",
            "requests[0].expect.request.clientCertificate: must be NAMESPACE/NAME"},
       }) {
    absl::StatusOr<Case> bad = ParseCase(head + body, "/d/x.yaml");
    ASSERT_FALSE(bad.ok()) << body;
    EXPECT_NE(bad.status().message().find(want), std::string::npos) << bad.status().message();
  }
}

TEST(ConformanceParseCase, ListenerSetStatusEntries) {
  const std::string head = "name: x\nfeature: ListenerSet\nsupport: core\n";
  absl::StatusOr<Case> c = ParseCase(head + R"(status:
- {kind: Gateway, namespace: ns, name: gw, attachedListenerSets: 2}
- {kind: ListenerSet, namespace: ns, name: ls, type: Accepted, status: "False", reason: NotAllowed}
- {kind: ListenerSet, namespace: ns, name: ls, listener: a, attachedRoutes: 3, supportedKinds: [HTTPRoute]}
- {kind: HTTPRoute, namespace: ns, name: r, parent: ns/ls, parentKind: ListenerSet, type: Accepted, status: "True"}
- {kind: HTTPRoute, namespace: ns, name: r, parent: ns/gw, parentCount: 0}
)",
                                     "/d/x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->status.size(), 5u);
  EXPECT_EQ(c->status[0].attached_listener_sets, 2);
  EXPECT_EQ(c->status[0].parent_count, std::nullopt);
  EXPECT_EQ(c->status[1].kind, "ListenerSet");
  EXPECT_EQ(c->status[1].reason, "NotAllowed");
  EXPECT_EQ(c->status[2].listener, "a");
  EXPECT_EQ(c->status[2].attached_routes, 3);
  EXPECT_EQ(c->status[3].parent_kind, "ListenerSet");
  EXPECT_EQ(c->status[3].Describe(), "HTTPRoute ns/r parent ListenerSet ns/ls");
  EXPECT_EQ(c->status[4].parent_kind, "Gateway");  // the default
  EXPECT_EQ(c->status[4].parent_count, 0);
  EXPECT_EQ(c->status[4].Describe(), "HTTPRoute ns/r parent ns/gw");
  for (const auto& [body, want] : std::vector<std::pair<std::string, std::string>>{
           {"- {kind: HTTPRoute, namespace: ns, name: r, parent: ns/x, parentKind: Service, "
            "parentCount: 1}",
            "x.yaml:5: status[0].parentKind: Gateway or ListenerSet"},
           {"- {kind: Gateway, namespace: ns, name: gw, parentKind: ListenerSet, "
            "attachedListenerSets: 1}",
            "status[0].parentKind: only for routes"},
           {"- {kind: BackendTLSPolicy, namespace: ns, name: p, parent: ns/gw, parentCount: 1}",
            "status[0].parentCount: a count (0 or more) of a route's parents"},
           {"- {kind: HTTPRoute, namespace: ns, name: r, parent: ns/gw, parentCount: -1}",
            "status[0].parentCount: a count (0 or more) of a route's parents"},
           {"- {kind: ListenerSet, namespace: ns, name: ls, attachedListenerSets: 1}",
            "status[0].attachedListenerSets: only for a Gateway, without listener"},
           {"- {kind: Gateway, namespace: ns, name: gw, listener: l, attachedListenerSets: 1, "
            "attachedRoutes: 0}",
            "status[0].attachedListenerSets: only for a Gateway, without listener"},
           {"- {kind: ListenerSet, namespace: ns, name: ls}", "status[0]: checks nothing"},
           {"- {kind: ListenerSets, namespace: ns, name: ls, type: Accepted, status: \"True\"}",
            "status[0].kind: unknown kind"},
       }) {
    absl::StatusOr<Case> bad = ParseCase(head + "status:\n" + body + "\n", "/d/x.yaml");
    ASSERT_FALSE(bad.ok()) << body;
    EXPECT_NE(bad.status().message().find(want), std::string::npos) << bad.status().message();
  }
}

TEST(ConformanceParseCase, ErrorsNameFileLineAndField) {
  const std::string head = "name: x\nfeature: F\nsupport: core\n";
  struct Bad {
    std::string body;
    std::string want;
  } bad[] = {
      {"requests:\n- gateway: ns/gw\n  path: /\n  expect: {status: 200, colour: red}\n",
       "x.yaml:7: requests[0].expect.colour: unknown key"},
      {"requests:\n- gateway: gw\n  path: /\n  expect: {status: 200}\n",
       "requests[0].gateway: must be NAMESPACE/NAME"},
      {"requests:\n- gateway: ns/gw\n  scheme: udp\n  expect: {backend: b}\n",
       "a udp request needs it"},
      {"requests:\n- gateway: ns/gw\n  path: /\n  expect: {weights: {a: 1}}\n",
       "weights and mirrorShares need samples"},
      {"status:\n- {kind: HTTPRoute, namespace: ns, name: r, type: Accepted, status: \"True\"}\n",
       "status[0].parent"},
      {"status:\n- {kind: Gateway, namespace: ns, name: g}\n", "checks nothing"},
      {"requests: [\n", "does not parse"},
      {"requests:\n- gateway: ns/gw\n  backendFailures: {count: 0}\n  expect: {status: 500}\n",
       "requests[0].backendFailures.count: must be 1 to 100"},
      {"requests:\n- gateway: ns/gw\n  backendFailures: {count: 1, status: 302}\n  expect: {}\n",
       "requests[0].backendFailures.status: must be 400 to 599"},
      {"requests:\n- gateway: ns/gw\n  backendFailures: {count: 1, times: 2}\n  expect: {}\n",
       "requests[0].backendFailures.times: unknown key"},
      {"requests:\n- gateway: ns/gw\n  websocket: \"\"\n  expect: {}\n",
       "requests[0].websocket: bytes to send"},
      {"requests:\n- gateway: ns/gw\n  websocketHttp2: \"\"\n  expect: {}\n",
       "requests[0].websocketHttp2: bytes to send"},
      {"requests:\n- gateway: ns/gw\n  websocket: a\n  websocketHttp2: b\n  expect: {}\n",
       "requests[0]: websocket and websocketHttp2 exclude each other"},
      {"requests:\n- gateway: ns/gw\n  samples: 5\n  session: {cookie: a, header: b}\n"
       "  expect: {status: 200}\n",
       "requests[0].session: names one cookie or one header"},
      {"requests:\n- gateway: ns/gw\n  session: {cookie: a}\n  expect: {status: 200}\n",
       "requests[0].session: goes with samples"},
      {"requests:\n- gateway: ns/gw\n  samples: 5\n  session: {cookie: a}\n"
       "  expect: {weights: {b: 100}}\n",
       "requests[0].session: goes with samples"},
  };
  for (const Bad& b : bad) {
    absl::StatusOr<Case> c = ParseCase(head + b.body, "/d/x.yaml");
    ASSERT_FALSE(c.ok()) << b.body;
    EXPECT_NE(c.status().message().find(b.want), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find("x.yaml:"), std::string::npos) << c.status().message();
  }
  EXPECT_FALSE(ParseCase(head + "status: []\nrequests: []\n", "/d/x.yaml").ok());
  absl::StatusOr<Case> renamed = ParseCase(
      head + "requests:\n- {gateway: a/b, path: /, expect: {status: 404}}\n", "/d/y.yaml");
  ASSERT_FALSE(renamed.ok());
  EXPECT_NE(renamed.status().message().find("differs from the file name"), std::string::npos);
}

}  // namespace
}  // namespace xgate::conformance
