// Deltas of the agent -> proxy config stream: a proxy Config built from a chain of deltas
// (l7::ConfigDelta, the agent's) equals one built from the whole config at each step, over
// random sequences of changes (many seeds), also when the configs share the objects a change
// did not touch, as the agent's snapshots do; a delta carries only what changed; a delta that is
// not on the served config is refused and the served config stays.
#include "agent/l7/config_delta.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "tests/proxy/hostile.h"
#include "userspace-proxy/server/config.h"

namespace xgate::proxy {
namespace {

using Rng = std::mt19937;

int Uniform(Rng& rng, int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

std::string RandomPattern(Rng& rng) {
  static const char* kNames[] = {"a.example.com", "b.example.com", "c.b.example.com", "x.org",
                                 "y.x.org",       "example.com",   "z.example.com",   "q.io"};
  std::string name = kNames[Uniform(rng, 8)];
  switch (Uniform(rng, 6)) {
    case 0:
      return "";
    case 1:
      return "*." + name;
    default:
      return absl::StrCat(Uniform(rng, 4), name);
  }
}

// The state the random changes edit: listeners (by port and name) with their virtual hosts
// (unique hostnames, as the compiler makes them), and clusters.
struct State {
  std::map<std::pair<uint32_t, std::string>, std::map<std::string, api::VirtualHost>> listeners;
  std::map<std::string, api::Cluster> clusters;
  int next_route = 0;
};

api::VirtualHost RandomVirtualHost(Rng& rng, State& s, const std::string& hostname) {
  api::VirtualHost vhost;
  vhost.set_hostname(hostname);
  for (int r = 0, n = 1 + Uniform(rng, 2); r < n; ++r) {
    api::Route& route = *vhost.add_routes();
    route.set_route_namespace("ns");
    route.set_route_name(absl::StrCat("r", s.next_route++));
    route.mutable_match()->mutable_path()->set_type(
        Uniform(rng, 3) == 0 ? api::PathMatch::REGULAR_EXPRESSION : api::PathMatch::PATH_PREFIX);
    route.mutable_match()->mutable_path()->set_value(absl::StrCat("/p", Uniform(rng, 3)));
    api::WeightedCluster& backend = *route.add_backends();
    backend.set_cluster(absl::StrCat("ns/c", Uniform(rng, 6), ":80"));
    backend.set_weight(static_cast<uint32_t>(1 + Uniform(rng, 3)));
  }
  return vhost;
}

api::Cluster RandomCluster(Rng& rng, const std::string& name) {
  api::Cluster cluster;
  cluster.set_name(name);
  for (int e = 0, n = Uniform(rng, 3); e < n; ++e) {
    api::Endpoint& endpoint = *cluster.add_endpoints();
    endpoint.set_address(absl::StrCat("198.18.0.", 1 + Uniform(rng, 20)));
    endpoint.set_port(static_cast<uint32_t>(8080 + Uniform(rng, 2)));
  }
  return cluster;
}

void RandomChange(Rng& rng, State& s) {
  auto listener =
      std::next(s.listeners.begin(), Uniform(rng, static_cast<int>(s.listeners.size())));
  auto& vhosts = listener->second;
  switch (Uniform(rng, 7)) {
    case 0: {  // a virtual host added or replaced
      std::string hostname = RandomPattern(rng);
      vhosts[hostname] = RandomVirtualHost(rng, s, hostname);
      break;
    }
    case 1:  // one removed
      if (!vhosts.empty()) vhosts.erase(std::next(vhosts.begin(), Uniform(rng, vhosts.size())));
      break;
    case 2:
    case 3:  // a weight
      if (!vhosts.empty()) {
        api::VirtualHost& v = std::next(vhosts.begin(), Uniform(rng, vhosts.size()))->second;
        api::WeightedCluster& b = *v.mutable_routes(0)->mutable_backends(0);
        b.set_weight(b.weight() % 5 + 1);
      }
      break;
    case 4: {  // a cluster's endpoints
      std::string name = absl::StrCat("ns/c", Uniform(rng, 6), ":80");
      s.clusters[name] = RandomCluster(rng, name);
      break;
    }
    case 5:  // a cluster gone
      if (!s.clusters.empty()) {
        s.clusters.erase(std::next(s.clusters.begin(), Uniform(rng, s.clusters.size())));
      }
      break;
    default: {  // a listener comes or goes
      std::pair<uint32_t, std::string> key{80 + Uniform(rng, 2),
                                           absl::StrCat("l", Uniform(rng, 3))};
      if (s.listeners.size() > 1 && s.listeners.erase(key) > 0) break;
      auto& fresh = s.listeners[key];
      std::string hostname = RandomPattern(rng);
      fresh[hostname] = RandomVirtualHost(rng, s, hostname);
    }
  }
}

api::L7Config ConfigOf(const State& s, uint64_t generation) {
  api::L7Config config;
  config.set_generation(generation);
  std::map<uint32_t, api::Port*> ports;
  for (const auto& [key, vhosts] : s.listeners) {
    api::Port*& port = ports[key.first];
    if (port == nullptr) {
      port = config.add_ports();
      port->set_port(key.first);
      port->add_addresses("127.0.0.1");
    }
    api::Listener& listener = *port->add_listeners();
    listener.set_gateway_namespace("ns");
    listener.set_gateway_name("gw");
    listener.set_name(key.second);
    for (const auto& [hostname, vhost] : vhosts) *listener.add_virtual_hosts() = vhost;
  }
  for (const auto& [name, cluster] : s.clusters) *config.add_clusters() = cluster;
  return config;
}

// What a Config serves, comparable across configs: per listener the virtual hosts (as bytes,
// by hostname) and for a set of hosts the one picked; the clusters' endpoints; the names.
std::string Served(const Config& config) {
  std::string out;
  for (const auto& port : config.table().ports()) {
    for (const auto& listener : port.listeners) {
      absl::StrAppend(&out, "listener ",
                      routing::ListenerKey(port.port->port(), *listener.listener), "\n");
      std::map<std::string, std::string> by_name;
      for (const auto& v : listener.vhosts) by_name[v->proto.hostname()] = v->bytes;
      for (const auto& [name, bytes] : by_name)
        absl::StrAppend(&out, " vhost ", name, " ", bytes.size(), ":", absl::CHexEscape(bytes),
                        "\n");
      for (const char* host : {"a.example.com", "3c.b.example.com", "q.c.b.example.com", "1x.org",
                               "y.x.org", "other.net", "z.example.com"}) {
        int i = listener.vhost_index->Find(host);
        absl::StrAppend(&out, " ", host, " -> ",
                        i < 0 ? "none" : listener.vhosts[static_cast<size_t>(i)]->proto.hostname(),
                        "\n");
      }
    }
  }
  for (const std::string& name : config.cluster_names()) {
    const ClusterEndpoints* c = config.cluster(name);
    absl::StrAppend(&out, "cluster ", name, ":");
    for (const std::string& key : c->keys) absl::StrAppend(&out, " ", key);
    absl::StrAppend(&out, "\n");
  }
  for (const std::string& name : config.route_names()) absl::StrAppend(&out, "route ", name, "\n");
  std::set<std::string> endpoints(config.endpoint_keys().begin(), config.endpoint_keys().end());
  for (const std::string& key : endpoints) absl::StrAppend(&out, "endpoint ", key, "\n");
  return out;
}

int VirtualHostsIn(const api::L7Config& config) {
  int n = 0;
  for (const auto& port : config.ports()) {
    for (const auto& listener : port.listeners()) n += listener.virtual_hosts_size();
  }
  return n;
}

// Two listeners with ten random changes made to them.
State FirstState(Rng& rng) {
  State s;
  s.listeners[{80, "l0"}];
  s.listeners[{81, "l1"}];
  for (int i = 0; i < 10; ++i) RandomChange(rng, s);
  return s;
}

// The virtual hosts of `after` that `before` did not have byte for byte.
int ChangedVirtualHosts(const State& before, const State& after) {
  int changed = 0;
  for (const auto& [key, vhosts] : after.listeners) {
    auto old = before.listeners.find(key);
    for (const auto& [hostname, vhost] : vhosts) {
      changed += !(old != before.listeners.end() && old->second.contains(hostname) &&
                   old->second.at(hostname).SerializeAsString() == vhost.SerializeAsString());
    }
  }
  return changed;
}

TEST(ConfigDelta, DeltasAppliedInTurnServeWhatTheWholeConfigServes) {
  int deltas = 0;
  for (unsigned seed = 1; seed <= 60; ++seed) {
    Rng rng(seed);
    State s = FirstState(rng);
    l7::ConfigDelta differ;
    api::L7Config first = ConfigOf(s, 1);
    ASSERT_FALSE(differ.Next(first).has_value());  // the first is sent whole
    auto served = Config::Build(first, false);
    ASSERT_TRUE(served.ok()) << served.status();
    for (uint64_t generation = 2; generation < 30; ++generation) {
      State before = s;
      RandomChange(rng, s);
      api::L7Config whole = ConfigOf(s, generation);
      std::optional<api::L7Config> delta = differ.Next(whole);
      ASSERT_TRUE(delta.has_value()) << "seed " << seed;
      EXPECT_EQ(delta->base_generation(), generation - 1);
      // Only what changed travels.
      EXPECT_EQ(VirtualHostsIn(*delta), ChangedVirtualHosts(before, s))
          << "seed " << seed << " step " << generation;
      auto fresh = Config::Build(whole, false);
      auto applied = Config::Build(*std::move(delta), false, served->get());
      ASSERT_TRUE(fresh.ok()) << fresh.status();
      ASSERT_TRUE(applied.ok()) << "seed " << seed << " step " << generation << ": "
                                << applied.status();
      ASSERT_EQ(Served(**applied), Served(**fresh)) << "seed " << seed << " step " << generation;
      served = *std::move(applied);  // the one before is gone: what it lent must stand alone
      ++deltas;
    }
  }
  EXPECT_EQ(deltas, 60 * 28);
}

// The agent's snapshots share every virtual host and cluster a change did not touch (see
// compiler::Snapshot::shared_parts): this builds configs the same way, each unchanged object
// the very one the config before held, so the differ takes its in-place path. `shuffle`
// swaps neighbours (a moved object), `twin` lists one virtual host twice (names not unique) and
// then says whether it did.
class SharedConfigs {
 public:
  std::shared_ptr<const api::L7Config> Next(const State& s, uint64_t generation, Rng& rng,
                                            bool shuffle, bool& twin) {
    const bool want_twin = twin;
    twin = false;
    api::L7Config whole = ConfigOf(s, generation);
    auto config = std::make_shared<api::L7Config>();
    config->set_generation(generation);
    std::vector<std::shared_ptr<const google::protobuf::Message>> held;
    for (api::Port& port : *whole.mutable_ports()) {
      api::Port& p = *config->add_ports();
      p.set_port(port.port());
      *p.mutable_addresses() = port.addresses();
      for (api::Listener& listener : *port.mutable_listeners()) {
        api::Listener& l = *p.add_listeners();
        l.set_gateway_namespace(listener.gateway_namespace());
        l.set_gateway_name(listener.gateway_name());
        l.set_name(listener.name());
        std::vector<std::shared_ptr<const api::VirtualHost>> vhosts;
        for (const api::VirtualHost& v : listener.virtual_hosts()) {
          vhosts.push_back(Shared(
              absl::StrCat(port.port(), "/", listener.name(), "/", v.hostname()), v, vhosts_));
        }
        if (shuffle && vhosts.size() > 1) {
          size_t i = static_cast<size_t>(Uniform(rng, static_cast<int>(vhosts.size()) - 1));
          std::swap(vhosts[i], vhosts[i + 1]);
        }
        if (want_twin && !twin && !vhosts.empty()) {
          vhosts.push_back(vhosts.front());
          twin = true;
        }
        for (const auto& v : vhosts) {
          l.mutable_virtual_hosts()->UnsafeArenaAddAllocated(
              const_cast<api::VirtualHost*>(v.get()));
          held.push_back(v);
        }
      }
    }
    for (const api::Cluster& c : whole.clusters()) {
      auto shared = Shared(c.name(), c, clusters_);
      config->mutable_clusters()->UnsafeArenaAddAllocated(const_cast<api::Cluster*>(shared.get()));
      held.push_back(shared);
    }
    // As a Snapshot's destructor: the borrowed objects go back out before the config goes.
    return std::shared_ptr<const api::L7Config>(
        config.get(), [config, held = std::move(held)](const api::L7Config*) mutable {
          for (api::Port& port : *config->mutable_ports()) {
            for (api::Listener& listener : *port.mutable_listeners()) {
              auto* v = listener.mutable_virtual_hosts();
              v->UnsafeArenaExtractSubrange(0, v->size(), nullptr);
            }
          }
          auto* c = config->mutable_clusters();
          c->UnsafeArenaExtractSubrange(0, c->size(), nullptr);
        });
  }

 private:
  template <typename T>
  static std::shared_ptr<const T> Shared(const std::string& key, const T& value,
                                         std::map<std::string, std::shared_ptr<const T>>& kept) {
    auto& slot = kept[key];
    if (!slot || slot->SerializeAsString() != value.SerializeAsString()) {
      slot = std::make_shared<const T>(value);
    }
    return slot;
  }

  std::map<std::string, std::shared_ptr<const api::VirtualHost>> vhosts_;
  std::map<std::string, std::shared_ptr<const api::Cluster>> clusters_;
};

TEST(ConfigDelta, SharedObjectsInTheirPlacesGiveTheSameDeltas) {
  int deltas = 0, whole_sent = 0;
  for (unsigned seed = 1; seed <= 60; ++seed) {
    Rng rng(seed);
    State s = FirstState(rng);
    SharedConfigs configs;
    l7::ConfigDelta differ;
    bool no_twin = false;
    ASSERT_FALSE(differ.Next(configs.Next(s, 1, rng, false, no_twin)).has_value());
    auto served = Config::Build(ConfigOf(s, 1), false);
    ASSERT_TRUE(served.ok()) << served.status();
    bool twin_before = false;
    for (uint64_t generation = 2; generation < 40; ++generation) {
      State before = s;
      for (int i = 0, n = 1 + Uniform(rng, 3); i < n; ++i) RandomChange(rng, s);
      bool twin = Uniform(rng, 12) == 0;  // then whether one was made
      auto shared = configs.Next(s, generation, rng, Uniform(rng, 4) == 0, twin);
      std::optional<api::L7Config> delta = differ.Next(shared);
      api::L7Config whole = ConfigOf(s, generation);
      auto fresh = Config::Build(whole, false);
      ASSERT_TRUE(fresh.ok()) << fresh.status();
      if (twin || twin_before) {  // a name twice: sent whole, and so is the next config
        EXPECT_FALSE(delta.has_value()) << "seed " << seed << " step " << generation;
        twin_before = twin;
        served = *std::move(fresh);
        ++whole_sent;
        continue;
      }
      ASSERT_TRUE(delta.has_value()) << "seed " << seed << " step " << generation;
      EXPECT_EQ(VirtualHostsIn(*delta), ChangedVirtualHosts(before, s))
          << "seed " << seed << " step " << generation;
      auto applied = Config::Build(*std::move(delta), false, served->get());
      ASSERT_TRUE(applied.ok()) << "seed " << seed << " step " << generation << ": "
                                << applied.status();
      ASSERT_EQ(Served(**applied), Served(**fresh)) << "seed " << seed << " step " << generation;
      served = *std::move(applied);
      ++deltas;
    }
  }
  EXPECT_GT(deltas, 60 * 25);
  EXPECT_GT(whole_sent, 60);
}

TEST(ConfigDelta, ADeltaNotOnTheServedConfigIsRefused) {
  Rng rng(3);
  State s;
  s.listeners[{80, "l0"}];
  for (int i = 0; i < 5; ++i) RandomChange(rng, s);
  l7::ConfigDelta differ;
  differ.Next(ConfigOf(s, 1));
  auto served = Config::Build(ConfigOf(s, 1), false);
  ASSERT_TRUE(served.ok());
  differ.Next(ConfigOf(s, 2));  // generation 2 never reaches the proxy
  RandomChange(rng, s);
  std::optional<api::L7Config> delta = differ.Next(ConfigOf(s, 3));
  ASSERT_TRUE(delta.has_value());
  auto refused = Config::Build(*delta, false, served->get());
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("generation 2"), std::string::npos) << refused.status();
  // Nor without a config at all.
  EXPECT_TRUE(absl::IsFailedPrecondition(Config::Build(*delta, false).status()));
}

// Sets every field of `m` but those named in `skip` to something other than its default.
void SetEveryField(google::protobuf::Message& m, const std::set<std::string>& skip) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (skip.contains(f->name())) continue;
    using F = google::protobuf::FieldDescriptor;
    if (f->is_repeated()) {
      ASSERT_EQ(f->cpp_type(), F::CPPTYPE_STRING) << f->name() << ": teach this test the type";
      r->AddString(&m, f, "x");
      continue;
    }
    switch (f->cpp_type()) {
      case F::CPPTYPE_STRING:
        r->SetString(&m, f, "x");
        break;
      case F::CPPTYPE_UINT32:
        r->SetUInt32(&m, f, 81);
        break;
      case F::CPPTYPE_BOOL:
        r->SetBool(&m, f, true);
        break;
      case F::CPPTYPE_ENUM:
        r->SetEnumValue(&m, f, 1);
        break;
      case F::CPPTYPE_MESSAGE:
        SetEveryField(*r->MutableMessage(&m, f), {});
        break;
      default:
        FAIL() << f->name() << ": teach this test the type";
    }
  }
}

// A delta's ports and listeners are whole: a field added to them later must travel too.
TEST(ConfigDelta, PortsAndListenersTravelWithEveryField) {
  api::L7Config config;
  config.set_generation(1);
  api::Port& port = *config.add_ports();
  SetEveryField(port, {"listeners"});
  api::Listener& listener = *port.add_listeners();
  SetEveryField(listener, {"virtual_hosts", "removed_virtual_hosts"});
  listener.add_virtual_hosts()->set_hostname("a.example.com");
  l7::ConfigDelta differ;
  differ.Next(config);
  config.set_generation(2);
  std::optional<api::L7Config> delta = differ.Next(config);
  ASSERT_TRUE(delta.has_value());
  ASSERT_EQ(delta->ports_size(), 1);
  listener.clear_virtual_hosts();
  EXPECT_EQ(delta->ports(0).DebugString(), port.DebugString());
}

TEST(ConfigDelta, TwoListenersOfOneKeyOrCaseTwinHostnamesAreSentWhole) {
  api::L7Config config;
  config.set_generation(1);
  api::Port& port = *config.add_ports();
  port.set_port(80);
  port.add_listeners()->set_name("http");
  l7::ConfigDelta differ;
  differ.Next(config);
  config.set_generation(2);
  ASSERT_TRUE(differ.Next(config).has_value());
  port.add_listeners()->set_name("http");  // the same key twice
  config.set_generation(3);
  EXPECT_FALSE(differ.Next(config).has_value());
  port.mutable_listeners()->RemoveLast();
  config.set_generation(4);
  EXPECT_FALSE(differ.Next(config).has_value());  // the one before was not known whole
  config.set_generation(5);
  EXPECT_TRUE(differ.Next(config).has_value());
  port.mutable_listeners(0)->add_virtual_hosts()->set_hostname("A.example.com");
  config.set_generation(6);
  EXPECT_FALSE(differ.Next(config).has_value());
}

// A cluster names its client certificate (UpstreamTls.client_certificate): when only the
// certificate changes, the delta sends the cluster again too, and the proxy's cluster then
// presents the new one (its TLS settings key, which covers the certificate, is the whole
// config's).
TEST(ConfigDelta, AClientCertificateThatChangesSendsTheClustersPresentingItAgain) {
  const std::string kName = "ns/s:443+client:ns/c";
  auto config_with = [&](uint64_t generation, const testing::Pem& client) {
    api::L7Config config;
    config.set_generation(generation);
    api::Cluster& tls = *config.add_clusters();
    tls.set_name(kName);
    tls.mutable_tls()->set_ca_pem(testing::MakeCa("backend-ca").cert);
    tls.mutable_tls()->set_sni("s.example");
    tls.mutable_tls()->set_client_certificate("ns/c");
    api::Endpoint& endpoint = *tls.add_endpoints();
    endpoint.set_address("198.18.0.1");
    endpoint.set_port(8443);
    config.add_clusters()->set_name("ns/plain:80");
    api::Certificate& cert = *config.add_certificates();
    cert.set_name("ns/c");
    cert.set_cert_pem(client.cert);
    cert.set_key_pem(client.key);
    return config;
  };
  api::L7Config first = config_with(1, testing::MakeCertificate("one", "DNS:one"));
  // The CA is made anew by each call: keep the first one so only the certificate changes.
  api::L7Config second = first;
  second.set_generation(2);
  testing::Pem renewed = testing::MakeCertificate("two", "DNS:two");
  second.mutable_certificates(0)->set_cert_pem(renewed.cert);
  second.mutable_certificates(0)->set_key_pem(renewed.key);

  l7::ConfigDelta differ;
  ASSERT_FALSE(differ.Next(first).has_value());
  std::optional<api::L7Config> delta = differ.Next(second);
  ASSERT_TRUE(delta.has_value());
  ASSERT_EQ(delta->certificates_size(), 1);
  ASSERT_EQ(delta->clusters_size(), 1) << "only the cluster presenting it";
  EXPECT_EQ(delta->clusters(0).name(), kName);

  auto served = Config::Build(first, false);
  ASSERT_TRUE(served.ok()) << served.status();
  auto from_delta = Config::Build(*delta, false, served->get());
  ASSERT_TRUE(from_delta.ok()) << from_delta.status();
  auto whole = Config::Build(second, false);
  ASSERT_TRUE(whole.ok()) << whole.status();
  const std::string& old_key = (*served)->cluster(kName)->tls->key();
  const std::string& new_key = (*from_delta)->cluster(kName)->tls->key();
  EXPECT_NE(new_key, old_key);
  EXPECT_EQ(new_key, (*whole)->cluster(kName)->tls->key());
  EXPECT_NE((*from_delta)->cluster("ns/plain:80"), nullptr);

  // Nothing changed: nothing is sent.
  second.set_generation(3);
  delta = differ.Next(second);
  ASSERT_TRUE(delta.has_value());
  EXPECT_EQ(delta->clusters_size(), 0);
  EXPECT_EQ(delta->certificates_size(), 0);
}

}  // namespace
}  // namespace xgate::proxy
