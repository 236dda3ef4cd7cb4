// Explain on the seed scenario in this process: requests against the proxy's own router,
// packets against the fast path's flow hash and Maglev table computed from the snapshot.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <map>

#include "agent/inspect/explain_packet.h"
#include "agent/inspect/explain_request.h"
#include "maps/flow_hash.h"
#include "tests/ops/seed_state.h"
#include "userspace-proxy/routing/router.h"

namespace xgate {
namespace {

using ::testing::HasSubstr;

class ExplainTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(seed_.reload_status().ok()) << seed_.reload_status(); }

  static api::RequestProbe Https(const std::string& host, const std::string& path) {
    api::RequestProbe p;
    p.set_listener_address("198.18.0.1");
    p.set_listener_port(443);
    p.set_sni(host);
    p.set_host(host);
    p.set_path(path);
    return p;
  }

  api::RequestExplanation Explain(const api::RequestProbe& probe) {
    auto e = inspect::ExplainRequest(seed_.snapshot().l7, probe);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : api::RequestExplanation();
  }

  // What the proxy's router itself decides for the same probe.
  routing::RouteDecision RouterDecision(const api::RequestProbe& probe,
                                        std::shared_ptr<const routing::RouteTable>& table) {
    auto built = routing::RouteTable::Build(seed_.snapshot().l7);
    EXPECT_TRUE(built.ok());
    table = *built;
    head_ = *inspect::ProbeHead(probe);
    routing::MatchInput input;
    input.local_address = probe.listener_address();
    input.local_port = static_cast<uint16_t>(probe.listener_port());
    input.sni = probe.sni();
    input.request = &head_;
    return table->Match(input);
  }

  void ExpectSameAsRouter(const api::RequestProbe& probe, const api::RequestExplanation& e) {
    std::shared_ptr<const routing::RouteTable> table;
    routing::RouteDecision d = RouterDecision(probe, table);
    ASSERT_NE(d.route, nullptr);
    const api::Route& r = *d.route->route;
    EXPECT_EQ(e.route(), "HTTPRoute " + r.route_namespace() + "/" + r.route_name());
    EXPECT_EQ(e.rule_index(), r.rule_index());
    EXPECT_EQ(e.match_index(), r.match_index());
    ASSERT_EQ(e.backends_size(), r.backends_size());
    for (int i = 0; i < r.backends_size(); ++i) {
      EXPECT_EQ(e.backends(i).cluster(), r.backends(i).cluster());
      EXPECT_EQ(e.backends(i).weight(), r.backends(i).weight());
    }
  }

  testing::SeedState seed_;
  http::RequestHead head_;
};

TEST_F(ExplainTest, CanaryHeaderTakesBarRouteSecondRuleToBarV2) {
  api::RequestProbe probe = Https("bar.example.com", "/");
  api::Header* h = probe.add_headers();
  h->set_name("env");
  h->set_value("canary");
  api::RequestExplanation e = Explain(probe);
  EXPECT_EQ(e.outcome(), "routed");
  EXPECT_EQ(e.status(), 0u);
  EXPECT_EQ(e.port_protocol(), "HTTPS");
  EXPECT_EQ(e.listener(), "default/prod-web/https");
  EXPECT_EQ(e.route(), "HTTPRoute bar/bar-route");
  EXPECT_EQ(e.rule_index(), 1u);
  ASSERT_EQ(e.backends_size(), 1);
  EXPECT_EQ(e.backends(0).service(), "bar/bar-v2");
  EXPECT_DOUBLE_EQ(e.backends(0).share_percent(), 100.0);
  ASSERT_EQ(e.backends(0).endpoints_size(), 1);
  EXPECT_EQ(e.backends(0).endpoints(0).address(), "198.18.2.21");
  ExpectSameAsRouter(probe, e);
}

TEST_F(ExplainTest, WithoutTheHeaderTheFirstRuleSplits90To10) {
  api::RequestProbe probe = Https("bar.example.com", "/");
  api::RequestExplanation e = Explain(probe);
  EXPECT_EQ(e.outcome(), "routed");
  EXPECT_EQ(e.route(), "HTTPRoute bar/bar-route");
  EXPECT_EQ(e.rule_index(), 0u);
  ASSERT_EQ(e.backends_size(), 2);
  std::map<std::string, std::pair<uint32_t, double>> by_service;
  for (const auto& b : e.backends()) by_service[b.service()] = {b.weight(), b.share_percent()};
  EXPECT_EQ(by_service["bar/bar-v1"].first, 90u);
  EXPECT_EQ(by_service["bar/bar-v2"].first, 10u);
  EXPECT_DOUBLE_EQ(by_service["bar/bar-v1"].second, 90.0);
  EXPECT_DOUBLE_EQ(by_service["bar/bar-v2"].second, 10.0);
  // The canary rule was considered first and said why it did not match.
  bool canary_refused = false;
  for (const auto& s : e.steps()) {
    if (s.stage() == "route" && !s.matched() && s.subject().find("rule 1") != std::string::npos) {
      EXPECT_THAT(s.reason(), HasSubstr("header env is absent"));
      canary_refused = true;
    }
  }
  EXPECT_TRUE(canary_refused);
  ExpectSameAsRouter(probe, e);
}

// The seed's bar route with a CORS filter: explain says what the filter does with the request,
// from the proxy's own filter code (a preflight is answered by the proxy, not proxied).
TEST_F(ExplainTest, CorsFilterSaysPreflightAllowedOrNot) {
  api::L7Config config = seed_.snapshot().l7;
  int with_cors = 0;
  for (api::Port& port : *config.mutable_ports()) {
    for (api::Listener& l : *port.mutable_listeners()) {
      for (api::VirtualHost& v : *l.mutable_virtual_hosts()) {
        for (api::Route& r : *v.mutable_routes()) {
          if (r.route_name() != "bar-route") continue;
          api::Cors* cors = r.add_filters()->mutable_cors();
          cors->add_allow_origins("https://app.example.com");
          cors->add_allow_methods("GET");
          ++with_cors;
        }
      }
    }
  }
  ASSERT_GT(with_cors, 0);
  auto cors_step = [&](const api::RequestProbe& probe) {
    auto e = inspect::ExplainRequest(config, probe);
    EXPECT_TRUE(e.ok()) << e.status();
    for (const auto& s : e->steps())
      if (s.stage() == "filter" && s.subject() == "CORS") return s;
    ADD_FAILURE() << "no CORS step";
    return api::ExplainStep();
  };
  auto with_origin = [&](const std::string& method, const std::string& origin) {
    api::RequestProbe p = Https("bar.example.com", "/");
    p.set_method(method);
    api::Header* h = p.add_headers();
    h->set_name("Origin");
    h->set_value(origin);
    if (method == "OPTIONS") {
      h = p.add_headers();
      h->set_name("Access-Control-Request-Method");
      h->set_value("GET");
    }
    return p;
  };
  api::ExplainStep preflight = cors_step(with_origin("OPTIONS", "https://app.example.com"));
  EXPECT_TRUE(preflight.matched());
  EXPECT_THAT(preflight.reason(), HasSubstr("answered by the proxy"));
  api::ExplainStep allowed = cors_step(with_origin("GET", "https://app.example.com"));
  EXPECT_TRUE(allowed.matched());
  EXPECT_THAT(allowed.reason(), HasSubstr("Access-Control-Allow-Origin"));
  api::ExplainStep refused = cors_step(with_origin("GET", "https://evil.example.net"));
  EXPECT_FALSE(refused.matched());
  EXPECT_THAT(refused.reason(), HasSubstr("not allowed"));
  api::ExplainStep plain = cors_step(Https("bar.example.com", "/"));
  EXPECT_THAT(plain.reason(), HasSubstr("no Origin header"));
}

// The bar route with session persistence: explain names the cookie and says whether the
// request carries a session.
TEST_F(ExplainTest, SessionPersistenceSaysWhetherTheRequestHoldsASession) {
  api::L7Config config = seed_.snapshot().l7;
  for (api::Port& port : *config.mutable_ports()) {
    for (api::Listener& l : *port.mutable_listeners()) {
      for (api::VirtualHost& v : *l.mutable_virtual_hosts()) {
        for (api::Route& r : *v.mutable_routes()) {
          if (r.route_name() != "bar-route") continue;
          r.mutable_session_persistence()->set_name("sid");
          r.mutable_session_persistence()->set_absolute_timeout_ms(60000);
        }
      }
    }
  }
  auto session_step = [&](const api::RequestProbe& probe) {
    auto e = inspect::ExplainRequest(config, probe);
    EXPECT_TRUE(e.ok()) << e.status();
    for (const auto& s : e->steps())
      if (s.stage() == "session") return s;
    ADD_FAILURE() << "no session step";
    return api::ExplainStep();
  };
  api::ExplainStep none = session_step(Https("bar.example.com", "/"));
  EXPECT_EQ(none.subject(), "cookie sid");
  EXPECT_FALSE(none.matched());
  EXPECT_THAT(none.reason(), HasSubstr("the answer starts a session"));
  EXPECT_THAT(none.reason(), HasSubstr("60000 ms"));
  api::RequestProbe with = Https("bar.example.com", "/");
  api::Header* h = with.add_headers();
  h->set_name("Cookie");
  h->set_value("a=b; sid=opaque");
  api::ExplainStep held = session_step(with);
  EXPECT_TRUE(held.matched());
  EXPECT_THAT(held.reason(), HasSubstr("carries a session"));
}

TEST_F(ExplainTest, LoginxSaysWhyLoginDidNotMatch) {
  api::RequestProbe probe = Https("foo.example.com", "/loginx");
  api::RequestExplanation e = Explain(probe);
  EXPECT_EQ(e.outcome(), "routed");
  EXPECT_EQ(e.route(), "HTTPRoute foo/foo-route");
  EXPECT_EQ(e.rule_index(), 2u);  // PathPrefix /
  ASSERT_EQ(e.backends_size(), 1);
  EXPECT_EQ(e.backends(0).service(), "foo/foo-404");
  bool login_refused = false;
  for (const auto& s : e.steps()) {
    if (s.subject() == "HTTPRoute foo/foo-route rule 0 match 0") {
      EXPECT_FALSE(s.matched());
      EXPECT_EQ(s.reason(), "path /loginx does not match PathPrefix /login");
      login_refused = true;
    }
  }
  EXPECT_TRUE(login_refused);
  ExpectSameAsRouter(probe, e);
  // On the segment boundary it does match.
  EXPECT_EQ(Explain(Https("foo.example.com", "/login/x")).rule_index(), 0u);
}

TEST_F(ExplainTest, UnknownHostAndPortAreNotRouted) {
  api::RequestExplanation e = Explain(Https("baz.example.com", "/"));
  EXPECT_EQ(e.outcome(), "not_found");
  EXPECT_EQ(e.status(), 404u);
  EXPECT_TRUE(e.route().empty());
  api::RequestProbe probe = Https("foo.example.com", "/");
  probe.set_listener_port(8443);
  e = Explain(probe);
  EXPECT_EQ(e.outcome(), "no_port");
  ASSERT_GE(e.steps_size(), 1);
  EXPECT_THAT(e.steps(0).reason(), HasSubstr("no Gateway listens"));
}

TEST_F(ExplainTest, BadRequestProbesAreRefused) {
  api::RequestProbe probe = Https("foo.example.com", "login");
  EXPECT_EQ(inspect::ExplainRequest(seed_.snapshot().l7, probe).status().code(),
            absl::StatusCode::kInvalidArgument);
  probe = Https("foo.example.com", "/");
  probe.set_listener_port(0);
  EXPECT_EQ(inspect::ExplainRequest(seed_.snapshot().l7, probe).status().code(),
            absl::StatusCode::kInvalidArgument);
}

api::PacketProbe Packet(const std::string& src, uint32_t sport, const std::string& dst,
                        uint32_t dport, const std::string& proto) {
  api::PacketProbe p;
  p.set_src_address(src);
  p.set_src_port(sport);
  p.set_dst_address(dst);
  p.set_dst_port(dport);
  p.set_protocol(proto);
  return p;
}

TEST_F(ExplainTest, PacketGetsTheSlotTheFastPathHashNames) {
  api::PacketProbe probe = Packet("198.18.0.50", 40000, "198.18.100.10", 5432, "tcp");
  auto e = inspect::ExplainPacket(seed_.snapshot(), probe, nullptr);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->outcome(), "forward");
  EXPECT_EQ(e->source(), "snapshot");
  EXPECT_EQ(e->listener(), "default/edge/pg");
  EXPECT_THAT(e->route(), HasSubstr("default/pg"));
  auto flow = inspect::ProbeFlow(probe);
  ASSERT_TRUE(flow.ok());
  EXPECT_EQ(flow->sport, 40000);
  EXPECT_EQ(flow->proto, IPPROTO_TCP);
  EXPECT_EQ(e->flow_hash(), xg_flow_hash(&*flow));
  EXPECT_EQ(e->maglev_slot(), xg_flow_hash(&*flow) % XG_MAGLEV_SIZE);
  EXPECT_FALSE(e->pinned());
  EXPECT_FALSE(e->has_conntrack());
  EXPECT_EQ(e->backend().address(), e->slot_backend().address());
  EXPECT_THAT(e->backend().address(), ::testing::AnyOf("198.18.3.11", "198.18.3.21"));
  EXPECT_EQ(e->backend().port(), 5432u);
  // The other listener of the Gateway address was considered and said why not.
  bool dns_refused = false;
  for (const auto& s : e->steps()) {
    if (s.subject().find("default/edge/dns") != std::string::npos) {
      EXPECT_FALSE(s.matched());
      EXPECT_THAT(s.reason(), HasSubstr("port 53"));
      dns_refused = true;
    }
  }
  EXPECT_TRUE(dns_refused);
}

TEST_F(ExplainTest, PacketsSpreadByTheListenersWeights) {
  std::map<std::string, int> hits;
  std::map<uint32_t, std::string> slot_backend;
  constexpr int kFlows = 1500;
  for (int i = 0; i < kFlows; ++i) {
    api::PacketProbe probe = Packet("198.18.0.50", 20000 + i, "198.18.100.10", 5432, "tcp");
    auto e = inspect::ExplainPacket(seed_.snapshot(), probe, nullptr);
    ASSERT_TRUE(e.ok());
    ++hits[e->backend().service()];
    // One slot, one backend: the table is deterministic.
    auto [it, fresh] = slot_backend.emplace(e->maglev_slot(), e->backend().address());
    if (!fresh) {
      EXPECT_EQ(it->second, e->backend().address());
    }
  }
  // pg-primary 80, pg-replica 20: within five percent over 1500 flows.
  EXPECT_NEAR(hits["default/pg-primary"] / double(kFlows), 0.8, 0.05);
  EXPECT_NEAR(hits["default/pg-replica"] / double(kFlows), 0.2, 0.05);
}

TEST_F(ExplainTest, PacketToAnL7ListenerIsPuntedAndElsewherePassed) {
  auto punt = inspect::ExplainPacket(
      seed_.snapshot(), Packet("198.18.0.50", 40000, "198.18.0.1", 443, "tcp"), nullptr);
  ASSERT_TRUE(punt.ok()) << punt.status();
  EXPECT_EQ(punt->outcome(), "punt");
  EXPECT_EQ(punt->listener(), "default/prod-web/https");
  auto pass = inspect::ExplainPacket(
      seed_.snapshot(), Packet("198.18.0.50", 40000, "198.18.0.1", 22, "tcp"), nullptr);
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->outcome(), "pass");
  auto udp_on_tcp = inspect::ExplainPacket(
      seed_.snapshot(), Packet("198.18.0.50", 40000, "198.18.100.10", 5432, "udp"), nullptr);
  ASSERT_TRUE(udp_on_tcp.ok());
  EXPECT_EQ(udp_on_tcp->outcome(), "pass");
}

TEST_F(ExplainTest, BadPacketProbesAreRefused) {
  for (const api::PacketProbe& p :
       {Packet("198.18.0.50", 1, "fd00::1", 5432, "tcp"), Packet("nope", 1, "198.18.0.1", 5, "tcp"),
        Packet("198.18.0.50", 0, "198.18.0.1", 5, "tcp"),
        Packet("198.18.0.50", 1, "198.18.0.1", 5, "sctp")}) {
    auto e = inspect::ExplainPacket(seed_.snapshot(), p, nullptr);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << p.DebugString();
  }
}

}  // namespace
}  // namespace xgate
