// The virtual host index against the precedence scan, and route tables built by reusing the
// previous table's virtual hosts against tables built fresh, over random inputs (many seeds).
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "userspace-proxy/routing/hostname_index.h"
#include "userspace-proxy/routing/router.h"

namespace xgate::routing {
namespace {

using Rng = std::mt19937;

int Uniform(Rng& rng, int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

// Names over a few labels, so patterns and hosts collide often; mixed case.
std::string RandomName(Rng& rng) {
  static const char* kLabels[] = {"a", "b", "B", "cc", "example", "Example", "com", "x-y"};
  std::string out;
  int labels = 1 + Uniform(rng, 4);
  for (int i = 0; i < labels; ++i) {
    if (i > 0) out += '.';
    out += kLabels[Uniform(rng, 8)];
  }
  return out;
}

// Appended, not "*" + RandomName(rng): GCC 12 warns falsely (-Wrestrict) on that operator+.
std::string Prefixed(std::string prefix, Rng& rng) {
  prefix += RandomName(rng);
  return prefix;
}

std::string RandomPattern(Rng& rng) {
  switch (Uniform(rng, 8)) {
    case 0:
      return "";
    case 1:
    case 2:
      return Prefixed("*.", rng);
    case 3:
      return Prefixed("*", rng);  // a wildcard whose suffix starts with no dot
    case 4:
      return Uniform(rng, 2) ? "*" : "*.";  // too short to be wildcards: literal names
    default:
      return RandomName(rng);
  }
}

std::string RandomHost(Rng& rng) {
  switch (Uniform(rng, 6)) {
    case 0:
      return "." + RandomName(rng);
    case 1:
      return RandomName(rng) + "." + RandomName(rng);
    case 2:
      return Uniform(rng, 2) ? "*" : "*.";
    case 3:
      return std::string(300, 'a') + "." + RandomName(rng);  // longer than the stack buffer
    default:
      return RandomName(rng);
  }
}

TEST(HostnameIndex, PicksWhatTheScanPicks) {
  for (unsigned seed = 1; seed <= 300; ++seed) {
    Rng rng(seed);
    std::vector<std::string> patterns(static_cast<size_t>(Uniform(rng, 40)));
    for (std::string& p : patterns) p = RandomPattern(rng);
    std::vector<std::string_view> views(patterns.begin(), patterns.end());
    HostnameIndex index(views);
    for (int h = 0; h < 300; ++h) {
      std::string host = RandomHost(rng);
      int scanned = SelectByHostname(
          views.size(), [&](size_t i) { return views[i]; }, host);
      ASSERT_EQ(index.Find(host), scanned) << "seed " << seed << " host " << host;
    }
  }
}

struct Fixture {
  std::vector<api::VirtualHost> vhosts;
  int next_route = 0;
};

void AddRandomRoute(api::VirtualHost& vhost, Rng& rng, int id) {
  api::Route& route = *vhost.add_routes();
  route.set_route_namespace("ns");
  route.set_route_name(absl::StrCat("r", id));
  api::RouteMatch& match = *route.mutable_match();
  switch (Uniform(rng, 3)) {
    case 0:
      match.mutable_path()->set_type(api::PathMatch::PATH_PREFIX);
      match.mutable_path()->set_value(absl::StrCat("/p", Uniform(rng, 3)));
      break;
    case 1:
      match.mutable_path()->set_type(api::PathMatch::REGULAR_EXPRESSION);
      match.mutable_path()->set_value(absl::StrCat("/p[0-", Uniform(rng, 3), "]/.*"));
      break;
    default:
      break;  // any path
  }
  if (Uniform(rng, 3) == 0) {
    api::StringMatch& h = *match.add_headers();
    h.set_name("x-env");
    h.set_type(Uniform(rng, 2) ? api::StringMatch::REGULAR_EXPRESSION : api::StringMatch::EXACT);
    h.set_value(h.type() == api::StringMatch::EXACT ? "prod" : "pr.*");
  }
  if (Uniform(rng, 4) == 0) {
    api::StringMatch& q = *match.add_query_params();
    q.set_name("v");
    q.set_type(api::StringMatch::REGULAR_EXPRESSION);
    q.set_value(absl::StrCat("[0-", Uniform(rng, 9), "]"));
  }
  for (int b = 0, n = 1 + Uniform(rng, 2); b < n; ++b) {
    api::WeightedCluster& backend = *route.add_backends();
    backend.set_cluster(absl::StrCat("c", Uniform(rng, 4)));
    backend.set_weight(static_cast<uint32_t>(Uniform(rng, 3)));
  }
}

api::VirtualHost RandomVirtualHost(Rng& rng, Fixture& f) {
  api::VirtualHost vhost;
  vhost.set_hostname(RandomPattern(rng));
  for (int r = 0, n = 1 + Uniform(rng, 3); r < n; ++r) AddRandomRoute(vhost, rng, f.next_route++);
  return vhost;
}

// One random change: a weight, a regex, a new, a removed or a renamed virtual host.
void RandomChange(Rng& rng, Fixture& f) {
  if (f.vhosts.empty() || Uniform(rng, 5) == 0) {
    f.vhosts.insert(f.vhosts.begin() + Uniform(rng, static_cast<int>(f.vhosts.size()) + 1),
                    RandomVirtualHost(rng, f));
    return;
  }
  api::VirtualHost& vhost =
      f.vhosts[static_cast<size_t>(Uniform(rng, static_cast<int>(f.vhosts.size())))];
  api::Route& route = *vhost.mutable_routes(Uniform(rng, vhost.routes_size()));
  switch (Uniform(rng, 4)) {
    case 0:
      route.mutable_backends(0)->set_weight(route.backends(0).weight() + 1);
      break;
    case 1:
      route.mutable_match()->mutable_path()->set_type(api::PathMatch::REGULAR_EXPRESSION);
      route.mutable_match()->mutable_path()->set_value(absl::StrCat("/p", Uniform(rng, 3), ".*"));
      break;
    case 2:
      f.vhosts.erase(f.vhosts.begin() + (&vhost - f.vhosts.data()));
      break;
    default:
      vhost.set_hostname(RandomPattern(rng));
  }
}

api::L7Config ConfigOf(const Fixture& f, uint64_t generation) {
  api::L7Config config;
  config.set_generation(generation);
  api::Port& port = *config.add_ports();
  port.set_port(80);
  api::Listener& listener = *port.add_listeners();
  listener.set_name("http");
  for (const api::VirtualHost& v : f.vhosts) *listener.add_virtual_hosts() = v;
  return config;
}

// What a request's decision says, comparable across tables.
std::string Answer(const RouteTable& table, const http::RequestHead& request) {
  MatchInput input{"127.0.0.1", 80, "", &request};
  RouteDecision d = table.Match(input);
  std::string out = absl::StrCat(static_cast<int>(d.outcome), " ", d.status);
  if (d.vhost != nullptr) {
    const auto& vhosts = d.listener->vhosts;
    for (size_t i = 0; i < vhosts.size(); ++i) {
      if (vhosts[i].get() == d.vhost) absl::StrAppend(&out, " vhost ", i);
    }
  }
  if (d.route != nullptr) {
    absl::StrAppend(&out, " ", d.route->Describe(), " ", d.route->name, " w", d.route->total_weight,
                    " redirect ", d.route->has_redirect);
  }
  return out;
}

http::RequestHead RandomRequest(Rng& rng) {
  http::RequestHead request;
  request.method = "GET";
  request.host = RandomHost(rng) + (Uniform(rng, 3) == 0 ? ":8080" : "");
  request.path = absl::StrCat("/p", Uniform(rng, 4), "/x", Uniform(rng, 2) ? "?v=3" : "");
  if (Uniform(rng, 2)) request.headers.Add("X-Env", Uniform(rng, 2) ? "prod" : "dev");
  return request;
}

TEST(RouteTableReuse, AnswersLikeAFreshTableOverRandomChanges) {
  int shared_total = 0;
  for (unsigned seed = 1; seed <= 60; ++seed) {
    Rng rng(seed);
    Fixture f;
    for (int i = 0; i < 12; ++i) f.vhosts.push_back(RandomVirtualHost(rng, f));
    auto previous = RouteTable::Build(ConfigOf(f, 1));
    ASSERT_TRUE(previous.ok()) << previous.status();
    std::shared_ptr<const RouteTable> table = *previous;
    for (uint64_t step = 2; step < 40; ++step) {
      RandomChange(rng, f);
      api::L7Config config = ConfigOf(f, step);
      auto fresh = RouteTable::Build(config);
      auto reused = RouteTable::Build(config, table.get());
      ASSERT_TRUE(fresh.ok() && reused.ok()) << "seed " << seed;
      // Each virtual host is shared exactly when its bytes did not change.
      std::set<const CompiledVirtualHost*> before;
      for (const auto& v : table->ports()[0].listeners[0].vhosts) before.insert(v.get());
      for (const auto& v : (*reused)->ports()[0].listeners[0].vhosts) {
        bool existed = false;
        for (const auto& old : table->ports()[0].listeners[0].vhosts) {
          existed = existed || old->bytes == v->bytes;
        }
        ASSERT_EQ(before.contains(v.get()), existed) << "seed " << seed << " step " << step;
        shared_total += existed;
      }
      table = *reused;  // the previous table is gone: what was shared must stand on its own
      for (int r = 0; r < 40; ++r) {
        http::RequestHead request = RandomRequest(rng);
        ASSERT_EQ(Answer(*table, request), Answer(**fresh, request))
            << "seed " << seed << " step " << step << " host " << request.host << " path "
            << request.path;
      }
    }
  }
  EXPECT_GT(shared_total, 1000);  // the sequences did exercise reuse
}

TEST(RouteTableReuse, ABadRegexInAChangedVirtualHostIsRefused) {
  Rng rng(7);
  Fixture f;
  for (int i = 0; i < 3; ++i) f.vhosts.push_back(RandomVirtualHost(rng, f));
  auto table = RouteTable::Build(ConfigOf(f, 1));
  ASSERT_TRUE(table.ok());
  api::Route& route = *f.vhosts[1].mutable_routes(0);
  route.mutable_match()->mutable_path()->set_type(api::PathMatch::REGULAR_EXPRESSION);
  route.mutable_match()->mutable_path()->set_value("/(unclosed");
  auto bad = RouteTable::Build(ConfigOf(f, 2), table->get());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("ns/" + route.route_name()), std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace xgate::routing
