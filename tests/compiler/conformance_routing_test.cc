// The compiled L7 config of every shared conformance case, run through the proxy's own
// route table: each HTTP request a case sends must land on a route whose backends are the
// ones the case expects (or get the 404/500/redirect it expects). Catches disagreements
// between what the compiler emits and what the proxy matches, without a network.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <map>
#include <set>

#include "agent/compiler/compiler.h"
#include "tests/binder/testing.h"
#include "userspace-proxy/routing/router.h"

namespace xgate::testing {
namespace {

struct Env {
  const model::Store* store = nullptr;
  std::shared_ptr<const compiler::Snapshot> snapshot;
  std::shared_ptr<const routing::RouteTable> table;
};

std::string GatewayAddress(const model::Store& store, const std::string& gateway) {
  size_t slash = gateway.find('/');
  auto it = store.gateways.find({gateway.substr(0, slash), gateway.substr(slash + 1)});
  if (it == store.gateways.end() || it->second.addresses.empty()) return "";
  return it->second.addresses[0].value;
}

// Services (namespace/name) the route sends to with a non-zero weight.
std::set<std::string> RoutedServices(const api::Route& route) {
  std::set<std::string> out;
  for (const auto& b : route.backends()) {
    if (b.weight() > 0 && !b.cluster().empty()) out.insert(b.service());
  }
  return out;
}

void CheckRequest(const Env& env, const YAML::Node& req) {
  const std::string what = [&] {
    YAML::Emitter e;
    e << YAML::Flow << req;
    return std::string(e.c_str());
  }();
  std::string scheme = req["scheme"].as<std::string>("http");
  if (scheme == "udp") return;  // the kernel's business
  std::string gateway = req["gateway"].as<std::string>();
  std::string gw_ns = gateway.substr(0, gateway.find('/'));
  std::string address = GatewayAddress(*env.store, gateway);
  ASSERT_FALSE(address.empty()) << what;
  int port = req["port"].as<int>(scheme == "https" ? 443 : 80);
  const YAML::Node& expect = req["expect"];
  std::string ns = expect["namespace"].as<std::string>(gw_ns);
  const auto* cport = env.table->FindPort(address, static_cast<uint16_t>(port));
  if (cport == nullptr) {
    // Not an L7 port: a TCPRoute forwarded by the kernel. Its backends must be the
    // Services the case expects traffic on.
    const compiler::L4Listener* l4 = nullptr;
    for (const auto& l : env.snapshot->l4) {
      if (l.address == address && l.port == port && l.protocol == IPPROTO_TCP) l4 = &l;
    }
    ASSERT_NE(l4, nullptr) << what << ": neither an L7 port nor an L4 listener";
    std::map<std::string, uint32_t> got;
    for (const auto& b : l4->backends) got[b.service] += b.weight;
    for (const auto& w : expect["weights"]) {
      std::string svc = ns + "/" + w.first.as<std::string>();
      EXPECT_NEAR(got[svc] / 10000.0, w.second.as<double>(), 0.5) << what << " " << svc;
    }
    if (expect["backend"]) {
      EXPECT_TRUE(got.count(ns + "/" + expect["backend"].as<std::string>())) << what;
    }
    return;
  }
  if (cport->port->protocol() == api::Port::TLS_PASSTHROUGH) return;  // SNI splice, no HTTP

  http::RequestHead head;
  head.method = req["method"].as<std::string>("GET");
  head.path = req["path"].as<std::string>("/");
  head.host = req["host"].as<std::string>("");
  if (head.host.empty()) {
    head.host = address;
    if (port != (scheme == "https" ? 443 : 80)) head.host += ":" + std::to_string(port);
  }
  for (const auto& h : req["headers"]) {
    head.headers.Add(h.first.as<std::string>(), h.second.as<std::string>());
  }
  routing::MatchInput in;
  in.local_address = address;
  in.local_port = static_cast<uint16_t>(port);
  std::string sni = scheme == "https" ? req["host"].as<std::string>("") : "";
  in.sni = sni;
  in.request = &head;
  routing::MatchTrace trace;
  routing::RouteDecision d = env.table->Match(in, &trace);

  int status = expect["status"].as<int>(200);
  if (status == 404 || status == 500) {
    EXPECT_EQ(d.status, status) << what << "\n" << trace.ToString();
    return;
  }
  ASSERT_EQ(d.outcome, routing::RouteDecision::Outcome::kRouted) << what << "\n"
                                                                 << trace.ToString();
  if (status >= 300 && status < 400) {
    EXPECT_TRUE(d.route->has_redirect) << what << "\n" << trace.ToString();
    return;
  }
  std::set<std::string> services = RoutedServices(*d.route->route);
  if (expect["backend"]) {
    std::string want = ns + "/" + expect["backend"].as<std::string>();
    EXPECT_TRUE(services.count(want)) << what << ": routed to " << d.route->Describe() << "\n"
                                      << trace.ToString();
  }
  if (expect["weights"]) {
    std::set<std::string> want;
    for (const auto& w : expect["weights"]) {
      if (w.second.as<double>() > 0) want.insert(ns + "/" + w.first.as<std::string>());
    }
    EXPECT_EQ(services, want) << what << "\n" << trace.ToString();
  }
}

Env Compile(const Bound& b) {
  auto snapshot = compiler::Compile(b.result, 1);
  auto table = routing::RouteTable::Build(snapshot->l7);
  EXPECT_TRUE(table.ok()) << table.status();
  return {&b.loaded.store, snapshot, table.ok() ? *table : nullptr};
}

// What the runner writes (FORMAT.md E3): one ready endpoint per Service, the slice ports
// named as the Service's, numbered by targetPort.
void AddRunnerEndpointSlices(Applied& applied) {
  auto probe = BindApplied(applied, nullptr);
  int n = 0;
  for (const auto& [key, svc] : probe->loaded.store.services) {
    std::string ports;
    for (const auto& p : svc.ports) {
      ports += "{name: \"" + p.name + "\", protocol: " + p.protocol +
               ", port: " + std::to_string(p.target_port.value_or(p.port)) + "}, ";
    }
    ++n;
    applied.Apply(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " + key.second +
        "-runner, namespace: " + key.first +
        ", labels: {kubernetes.io/service-name: " + key.second + "}}\naddressType: IPv4\nports: [" +
        ports + "]\nendpoints: [{addresses: [198.19." + std::to_string(n / 250) + "." +
        std::to_string(n % 250 + 1) + "], conditions: {ready: true}}]\n");
  }
}

class ConformanceRouting : public ::testing::TestWithParam<std::string> {};

TEST_P(ConformanceRouting, RequestsLandWhereExpected) {
  const std::string dir = SharedDir() + "/conformance/";
  YAML::Node base = YAML::LoadFile(dir + "base.yaml");
  YAML::Node c = YAML::LoadFile(dir + "cases/" + GetParam() + ".yaml");
  Applied applied = ApplyCase(base, c);
  AddRunnerEndpointSlices(applied);
  auto b = BindApplied(applied, nullptr);
  Env env = Compile(*b);
  ASSERT_NE(env.table, nullptr);
  for (const auto& req : c["requests"]) CheckRequest(env, req);
  int step = 0;
  for (const auto& s : c["steps"]) {
    SCOPED_TRACE("step " + std::to_string(step++));
    if (s["apply"]) applied.Apply(s["apply"].as<std::string>());
    for (const auto& d : s["delete"]) applied.Delete(d);
    AddRunnerEndpointSlices(applied);
    b = BindApplied(applied, &b->loaded.store);
    env = Compile(*b);
    ASSERT_NE(env.table, nullptr);
    for (const auto& req : s["requests"]) CheckRequest(env, req);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ConformanceRouting, ::testing::ValuesIn(ConformanceCaseNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace xgate::testing
