// Gateway, listener and GatewayClass status, one case per condition and reason.
#include <gtest/gtest.h>

#include "tests/binder/testing.h"

namespace xgate::testing {
namespace {

const char kClasses[] = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ours, generation: 3}
spec: {controllerName: xgate.dev/node-agent}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: theirs}
spec: {controllerName: example.com/other}
)";

// A Gateway "gw" in namespace "default" of class "ours" with the given listeners.
std::string Gateway(const std::string& listeners, const std::string& extra_spec = "") {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
         "metadata: {name: gw, namespace: default, generation: 7}\n"
         "spec:\n  gatewayClassName: ours\n" +
         extra_spec + "  listeners:\n" + listeners;
}

TEST(GatewayClassStatus, OursAcceptedOthersIgnored) {
  auto b = BindYaml({kClasses});
  ASSERT_EQ(b->result.statuses.gateway_classes.size(), 1u);
  const auto& s = b->result.statuses.gateway_classes.at({"", "ours"});
  EXPECT_EQ(Cond(s.conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(FindCondition(s.conditions, "Accepted")->observed_generation, 3);
  EXPECT_EQ(FindCondition(s.conditions, "Accepted")->last_transition_time, "2026-01-01T00:00:00Z");
}

TEST(GatewayStatus, OtherClassGetsNoStatus) {
  auto b = BindYaml({kClasses, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: other, namespace: default}
spec:
  gatewayClassName: theirs
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: missing-class, namespace: default}
spec:
  gatewayClassName: nobody
  listeners: [{name: http, port: 80, protocol: HTTP}]
)"});
  EXPECT_TRUE(b->result.statuses.gateways.empty());
  EXPECT_TRUE(b->result.listeners.empty());
}

struct ListenerCase {
  std::string name;
  std::string yaml;  // documents besides the classes
  std::string listener;
  std::string type;
  std::string want;  // "Status/Reason"
};

void PrintTo(const ListenerCase& c, std::ostream* os) { *os << c.name; }

class ListenerConditions : public ::testing::TestWithParam<ListenerCase> {};

TEST_P(ListenerConditions, Reason) {
  const auto& c = GetParam();
  auto b = BindYaml({kClasses, c.yaml});
  const auto* l = b->Listener("default", "gw", c.listener);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(Cond(l->conditions, c.type), c.want);
  const auto* cond = FindCondition(l->conditions, c.type);
  ASSERT_NE(cond, nullptr);
  EXPECT_EQ(cond->observed_generation, 7);
}

const char kHttp[] = "  - {name: http, port: 80, protocol: HTTP}\n";

std::string Https(const std::string& cert_ref) {
  return "  - name: https\n    port: 443\n    protocol: HTTPS\n    tls:\n      mode: Terminate\n"
         "      certificateRefs: [" +
         cert_ref + "]\n";
}

std::string CertSecret(const std::string& ns, const std::string& name) {
  return TlsSecretYaml(ns, name, SelfSignedCert("*.example.com"));
}

std::vector<ListenerCase> ListenerCases() {
  std::string certs_ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: certs}\n---\n";
  std::string grant = R"(
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow-gw, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: default}]
  to: [{group: "", kind: Secret}]
)";
  std::string bad_secret = R"(
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: default}
type: kubernetes.io/tls
stringData:
  tls.crt: "not a certificate"
  tls.key: "not a key"
)";
  return {
      {"Accepted", Gateway(kHttp), "http", "Accepted", "True/Accepted"},
      {"Programmed", Gateway(kHttp), "http", "Programmed", "True/Programmed"},
      {"ResolvedRefs", Gateway(kHttp), "http", "ResolvedRefs", "True/ResolvedRefs"},
      {"NoConflicts", Gateway(kHttp), "http", "Conflicted", "False/NoConflicts"},
      {"UnsupportedProtocol", Gateway("  - {name: sctp, port: 80, protocol: SCTP}\n"), "sctp",
       "Accepted", "False/UnsupportedProtocol"},
      {"UnsupportedProtocolNotProgrammed", Gateway("  - {name: sctp, port: 80, protocol: SCTP}\n"),
       "sctp", "Programmed", "False/Invalid"},
      {"TlsTerminateUnsupported",
       Gateway("  - {name: tls, port: 443, protocol: TLS, tls: {mode: Terminate, certificateRefs: "
               "[{name: cert}]}}\n"),
       "tls", "Accepted", "False/UnsupportedValue"},
      {"TlsPassthroughAccepted",
       Gateway("  - {name: tls, port: 443, protocol: TLS, tls: {mode: Passthrough}}\n"), "tls",
       "Accepted", "True/Accepted"},
      {"DistinctHostnames",
       Gateway("  - {name: a, port: 80, protocol: HTTP, hostname: a.example.com}\n"
               "  - {name: b, port: 80, protocol: HTTP, hostname: b.example.com}\n"),
       "b", "Conflicted", "False/NoConflicts"},
      {"ProtocolConflictHttpHttps",
       Gateway("  - {name: a, port: 443, protocol: HTTP}\n" + Https("{name: cert}")) + "---\n" +
           CertSecret("default", "cert"),
       "a", "Conflicted", "True/ProtocolConflict"},
      {"ProtocolConflictTcpHttp",
       Gateway("  - {name: a, port: 80, protocol: HTTP}\n  - {name: b, port: 80, protocol: TCP}\n"),
       "b", "Conflicted", "True/ProtocolConflict"},
      {"TcpAndUdpSamePortDistinct",
       Gateway("  - {name: a, port: 53, protocol: TCP}\n  - {name: b, port: 53, protocol: UDP}\n"),
       "a", "Conflicted", "False/NoConflicts"},
      {"InvalidRouteKinds",
       Gateway("  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {kinds: [{kind: "
               "TCPRoute}]}}\n"),
       "http", "ResolvedRefs", "False/InvalidRouteKinds"},
      {"CertificateResolved",
       Gateway(Https("{name: cert}")) + "---\n" + CertSecret("default", "cert"), "https",
       "ResolvedRefs", "True/ResolvedRefs"},
      {"CertificateProgrammed",
       Gateway(Https("{name: cert}")) + "---\n" + CertSecret("default", "cert"), "https",
       "Programmed", "True/Programmed"},
      {"CertificateMissing", Gateway(Https("{name: cert}")), "https", "ResolvedRefs",
       "False/InvalidCertificateRef"},
      {"CertificateMissingNotProgrammed", Gateway(Https("{name: cert}")), "https", "Programmed",
       "False/Invalid"},
      {"CertificateMalformed", Gateway(Https("{name: cert}")) + bad_secret, "https", "ResolvedRefs",
       "False/InvalidCertificateRef"},
      {"CertificateWrongKind",
       Gateway(Https("{kind: ConfigMap, name: cert}")) + "---\n" + CertSecret("default", "cert"),
       "https", "ResolvedRefs", "False/InvalidCertificateRef"},
      {"CertificateWrongGroup",
       Gateway(Https("{group: example.com, kind: Secret, name: cert}")) + "---\n" +
           CertSecret("default", "cert"),
       "https", "ResolvedRefs", "False/InvalidCertificateRef"},
      {"CertificateCrossNamespaceDenied",
       Gateway(Https("{name: cert, namespace: certs}")) + "---\n" + certs_ns +
           CertSecret("certs", "cert"),
       "https", "ResolvedRefs", "False/RefNotPermitted"},
      {"CertificateCrossNamespaceGranted",
       Gateway(Https("{name: cert, namespace: certs}")) + "---\n" + certs_ns +
           CertSecret("certs", "cert") + grant,
       "https", "ResolvedRefs", "True/ResolvedRefs"},
  };
}

INSTANTIATE_TEST_SUITE_P(All, ListenerConditions, ::testing::ValuesIn(ListenerCases()),
                         [](const auto& info) { return info.param.name; });

// The loader refuses two listeners with the same port, protocol and hostname (as the CRD
// does), so the Store is edited by hand to reach the binder's own check.
TEST(ListenerStatus, HostnameConflict) {
  auto b = BindYaml(
      {kClasses, Gateway("  - {name: a, port: 80, protocol: HTTP, hostname: x.example.com}\n"
                         "  - {name: b, port: 80, protocol: HTTP, hostname: y.example.com}\n"
                         "  - {name: c, port: 80, protocol: HTTP}\n")});
  EXPECT_EQ(Cond(b->Listener("default", "gw", "a")->conditions, "Conflicted"), "False/NoConflicts");
  b->loaded.store.gateways.Mutable({"default", "gw"}).listeners[1].hostname = "x.example.com";
  b->Rebind();
  for (const char* name : {"a", "b"}) {
    const auto* l = b->Listener("default", "gw", name);
    EXPECT_EQ(Cond(l->conditions, "Conflicted"), "True/HostnameConflict") << name;
    EXPECT_EQ(Cond(l->conditions, "Accepted"), "False/HostnameConflict") << name;
    EXPECT_EQ(Cond(l->conditions, "Programmed"), "False/Invalid") << name;
  }
  EXPECT_EQ(Cond(b->Listener("default", "gw", "c")->conditions, "Conflicted"), "False/NoConflicts");
  EXPECT_EQ(Cond(b->Gateway("default", "gw")->conditions, "Accepted"), "True/ListenersNotValid");
}

TEST(ListenerStatus, OverlappingTlsConfig) {
  // The spec's example: A foo.example.com, B foo.example.org, C *.example.com.
  auto https = [](const std::string& name, const std::string& host) {
    return "  - {name: " + name + ", port: 443, protocol: HTTPS, hostname: \"" + host +
           "\", tls: {certificateRefs: [{name: cert}]}}\n";
  };
  auto b =
      BindYaml({kClasses, Gateway(https("a", "foo.example.com") + https("b", "foo.example.org") +
                                  https("c", "*.example.com")) +
                              "---\n" + CertSecret("default", "cert")});
  EXPECT_EQ(Cond(b->Listener("default", "gw", "a")->conditions, "OverlappingTLSConfig"),
            "True/OverlappingHostnames");
  EXPECT_EQ(Cond(b->Listener("default", "gw", "c")->conditions, "OverlappingTLSConfig"),
            "True/OverlappingHostnames");
  EXPECT_EQ(Cond(b->Listener("default", "gw", "b")->conditions, "OverlappingTLSConfig"), "missing");
  // A warning, not a refusal.
  EXPECT_EQ(Cond(b->Listener("default", "gw", "a")->conditions, "Programmed"), "True/Programmed");
}

TEST(ListenerStatus, SupportedKindsPerProtocol) {
  auto b = BindYaml({kClasses, Gateway("  - {name: http, port: 80, protocol: HTTP}\n"
                                       "  - {name: tcp, port: 5432, protocol: TCP}\n"
                                       "  - {name: udp, port: 53, protocol: UDP}\n"
                                       "  - {name: tls, port: 443, protocol: TLS, tls: {mode: "
                                       "Passthrough}}\n")});
  auto kinds = [&](const std::string& l) {
    std::string out;
    for (const auto& k : b->Listener("default", "gw", l)->supported_kinds) out += k.kind + " ";
    return out;
  };
  EXPECT_EQ(kinds("http"), "HTTPRoute GRPCRoute ");
  EXPECT_EQ(kinds("tcp"), "TCPRoute ");
  EXPECT_EQ(kinds("udp"), "UDPRoute ");
  EXPECT_EQ(kinds("tls"), "TLSRoute ");
}

TEST(ListenerStatus, InvalidKindsKeepTheValidOnes) {
  auto b = BindYaml({kClasses, Gateway("  - {name: http, port: 80, protocol: HTTP, allowedRoutes: "
                                       "{kinds: [{kind: HTTPRoute}, {kind: UDPRoute}]}}\n")});
  const auto* l = b->Listener("default", "gw", "http");
  ASSERT_EQ(l->supported_kinds.size(), 1u);
  EXPECT_EQ(l->supported_kinds[0].kind, "HTTPRoute");
  EXPECT_EQ(Cond(l->conditions, "ResolvedRefs"), "False/InvalidRouteKinds");

  auto only_invalid =
      BindYaml({kClasses, Gateway("  - {name: http, port: 80, protocol: HTTP, "
                                  "allowedRoutes: {kinds: [{kind: TCPRoute}]}}\n")});
  EXPECT_TRUE(only_invalid->Listener("default", "gw", "http")->supported_kinds.empty());
}

TEST(GatewayStatus, AcceptedAndProgrammedWithNodeAddresses) {
  auto b = BindYaml({kClasses, Gateway(kHttp)});
  const auto* g = b->Gateway("default", "gw");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(Cond(g->conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(Cond(g->conditions, "Programmed"), "True/Programmed");
  ASSERT_EQ(g->addresses.size(), 1u);
  EXPECT_EQ(g->addresses[0].value, "198.18.0.1");
  EXPECT_EQ(FindCondition(g->conditions, "Programmed")->observed_generation, 7);
}

TEST(GatewayStatus, SpecAddresses) {
  auto b =
      BindYaml({kClasses, Gateway(kHttp,
                                  "  addresses: [{type: IPAddress, value: 198.18.100.1}, {value: "
                                  "fd00::1}]\n")});
  const auto* g = b->Gateway("default", "gw");
  ASSERT_EQ(g->addresses.size(), 2u);
  EXPECT_EQ(g->addresses[0].value, "198.18.100.1");
  EXPECT_EQ(g->addresses[1].value, "fd00::1");
  EXPECT_EQ(b->BoundListener("default", "gw", "http")->addresses,
            (std::vector<std::string>{"198.18.100.1", "fd00::1"}));
}

TEST(GatewayStatus, AddressWithoutValueGetsTheNodes) {
  // Gateway API v1.3 lets IPAddress omit its value; the loader does not (yet), so the
  // Store is edited by hand.
  auto b =
      BindYaml({kClasses, Gateway(kHttp, "  addresses: [{type: IPAddress, value: 198.18.9.9}]\n")});
  b->loaded.store.gateways.Mutable({"default", "gw"}).addresses[0].value = "";
  b->Rebind();
  const auto* g = b->Gateway("default", "gw");
  EXPECT_EQ(Cond(g->conditions, "Programmed"), "True/Programmed");
  ASSERT_EQ(g->addresses.size(), 1u);
  EXPECT_EQ(g->addresses[0].value, "198.18.0.1");
}

TEST(GatewayStatus, AddressNotUsable) {
  auto b =
      BindYaml({kClasses, Gateway(kHttp, "  addresses: [{type: IPAddress, value: 198.18.0.1}]\n")});
  b->loaded.store.gateways.Mutable({"default", "gw"}).addresses[0].value = "not-an-ip";
  b->Rebind();
  EXPECT_EQ(Cond(b->Gateway("default", "gw")->conditions, "Programmed"), "False/AddressNotUsable");
}

TEST(GatewayStatus, UnsupportedAddressType) {
  auto b = BindYaml(
      {kClasses, Gateway(kHttp, "  addresses: [{type: Hostname, value: gw.example.com}]\n")});
  const auto* g = b->Gateway("default", "gw");
  EXPECT_EQ(Cond(g->conditions, "Accepted"), "False/UnsupportedAddress");
  EXPECT_EQ(Cond(g->conditions, "Programmed"), "False/Invalid");
  EXPECT_FALSE(b->BoundListener("default", "gw", "http")->programmed);
}

TEST(GatewayStatus, AddressNotAssignedWithoutNodeAddresses) {
  binder::BindOptions o = DefaultOptions();
  o.node_addresses.clear();
  auto b = BindYaml({kClasses, Gateway(kHttp)}, o);
  const auto* g = b->Gateway("default", "gw");
  EXPECT_EQ(Cond(g->conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(Cond(g->conditions, "Programmed"), "False/AddressNotAssigned");
  EXPECT_EQ(Cond(b->Listener("default", "gw", "http")->conditions, "Programmed"), "False/Invalid");
}

TEST(GatewayStatus, ListenersNotValidWhenSomeInvalid) {
  auto some = BindYaml(
      {kClasses, Gateway(std::string(kHttp) + "  - {name: sctp, port: 81, protocol: SCTP}\n")});
  EXPECT_EQ(Cond(some->Gateway("default", "gw")->conditions, "Accepted"), "True/ListenersNotValid");
  EXPECT_TRUE(some->BoundListener("default", "gw", "http")->programmed);
  EXPECT_FALSE(binder::AllAccepted(some->result));

  auto none = BindYaml({kClasses, Gateway("  - {name: sctp, port: 81, protocol: SCTP}\n")});
  EXPECT_EQ(Cond(none->Gateway("default", "gw")->conditions, "Accepted"),
            "False/ListenersNotValid");
  EXPECT_EQ(Cond(none->Gateway("default", "gw")->conditions, "Programmed"), "False/Invalid");
}

TEST(GatewayStatus, OlderGatewayKeepsASharedPort) {
  auto b = BindYaml({kClasses, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: young, namespace: default, creationTimestamp: "2025-02-01T00:00:00Z"}
spec:
  gatewayClassName: ours
  addresses: [{value: 198.18.100.1}]
  listeners: [{name: tcp, port: 5432, protocol: TCP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: old, namespace: default, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  gatewayClassName: ours
  addresses: [{value: 198.18.100.1}]
  listeners: [{name: tcp, port: 5432, protocol: TCP}]
)"});
  EXPECT_EQ(Cond(b->Listener("default", "old", "tcp")->conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(Cond(b->Listener("default", "young", "tcp")->conditions, "Accepted"),
            "False/PortUnavailable");
}

// The proxy reported it cannot listen on 198.18.0.1:80 (another process holds it).
binder::BindOptions PortTaken() {
  binder::BindOptions o = DefaultOptions();
  o.unavailable_ports[{"198.18.0.1", 80}] = "bind 198.18.0.1:80: Address already in use";
  return o;
}

TEST(GatewayStatus, PortTheProxyCannotListenOnIsPortUnavailableAndStaysInTheDataPlane) {
  std::string listeners = std::string(kHttp) + "  - {name: alt, port: 8080, protocol: HTTP}\n";
  auto b = BindYaml({kClasses, Gateway(listeners)}, PortTaken());
  const auto* http = b->Listener("default", "gw", "http");
  EXPECT_EQ(Cond(http->conditions, "Accepted"), "False/PortUnavailable");
  EXPECT_EQ(FindCondition(http->conditions, "Accepted")->message,
            "cannot listen on 198.18.0.1:80: bind 198.18.0.1:80: Address already in use "
            "(retrying)");
  EXPECT_EQ(Cond(http->conditions, "Programmed"), "False/Pending");
  // The proxy keeps trying: the listener stays in what is compiled for it.
  EXPECT_TRUE(b->BoundListener("default", "gw", "http")->programmed);
  EXPECT_EQ(Cond(b->Listener("default", "gw", "alt")->conditions, "Accepted"), "True/Accepted");
  const auto* g = b->Gateway("default", "gw");
  EXPECT_EQ(Cond(g->conditions, "Accepted"), "True/ListenersNotValid");
  EXPECT_EQ(Cond(g->conditions, "Programmed"), "True/Programmed");
  EXPECT_FALSE(binder::AllAccepted(b->result));

  // Once the port is free the same manifests are accepted again.
  b->options.unavailable_ports.clear();
  b->Rebind();
  EXPECT_EQ(Cond(b->Listener("default", "gw", "http")->conditions, "Accepted"), "True/Accepted");
  EXPECT_TRUE(binder::AllAccepted(b->result));
}

TEST(GatewayStatus, GatewayWhoseOnlyPortIsTakenIsPendingNotDropped) {
  auto b = BindYaml({kClasses, Gateway(kHttp)}, PortTaken());
  const auto* g = b->Gateway("default", "gw");
  EXPECT_EQ(Cond(g->conditions, "Accepted"), "False/ListenersNotValid");
  EXPECT_EQ(Cond(g->conditions, "Programmed"), "False/Pending");
  EXPECT_EQ(Cond(b->Listener("default", "gw", "http")->conditions, "Programmed"), "False/Pending");
  EXPECT_TRUE(b->BoundListener("default", "gw", "http")->programmed);
}

TEST(GatewayStatus, TakenPortOfAnotherAddressOrAnL4ListenerIsNoConcern) {
  binder::BindOptions o = PortTaken();
  o.unavailable_ports[{"198.18.0.1", 5432}] = "taken";
  std::string other_address = "  addresses: [{type: IPAddress, value: 198.18.0.9}]\n";
  auto b = BindYaml({kClasses, Gateway(kHttp, other_address), R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: l4, namespace: default}
spec:
  gatewayClassName: ours
  listeners: [{name: pg, port: 5432, protocol: TCP}]
)"},
                    o);
  EXPECT_EQ(Cond(b->Listener("default", "gw", "http")->conditions, "Accepted"), "True/Accepted");
  // The kernel fast path forwards TCP listeners: the proxy's sockets do not matter to them.
  EXPECT_EQ(Cond(b->Listener("default", "l4", "pg")->conditions, "Accepted"), "True/Accepted");
}

TEST(GatewayStatus, AllAcceptedForAValidSetup) {
  auto b = BindYaml({kClasses, Gateway(kHttp)});
  EXPECT_TRUE(binder::AllAccepted(b->result));
}

}  // namespace
}  // namespace xgate::testing
