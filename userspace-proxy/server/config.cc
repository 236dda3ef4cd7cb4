#include "userspace-proxy/server/config.h"

#include <openssl/sha.h>

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "userspace-proxy/server/session_persistence.h"

namespace xgate::proxy {

namespace {

// What a certificate context is made of, as a digest (the key itself is not kept twice).
std::string MaterialKey(const api::Certificate& certificate, bool offer_h2,
                        const api::Listener& listener) {
  std::string material = certificate.cert_pem();
  material.push_back('\0');
  material += certificate.key_pem();
  material.push_back(offer_h2 ? '2' : '1');
  if (listener.has_client_validation()) {
    material.push_back(listener.client_validation().allow_insecure_fallback() ? 'f' : 'v');
    material += listener.client_validation().ca_pem();
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
  OPENSSL_cleanse(material.data(), material.size());
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

// The clusters a route with session persistence sends to, among the virtual hosts `proto`
// carries (all of them, or a delta's).
std::set<std::string, std::less<>> SessionClusters(const api::L7Config& proto) {
  std::set<std::string, std::less<>> out;
  for (const auto& port : proto.ports()) {
    for (const auto& listener : port.listeners()) {
      for (const auto& vhost : listener.virtual_hosts()) {
        for (const auto& route : vhost.routes()) {
          if (!route.has_session_persistence()) continue;
          for (const auto& backend : route.backends()) out.insert(backend.cluster());
        }
      }
    }
  }
  return out;
}

void AddSessionTags(ClusterEndpoints& endpoints) {
  endpoints.sessions = true;
  endpoints.session_tags.clear();
  for (const std::string& key : endpoints.keys) {
    endpoints.session_tags.push_back(SessionCodec::Process().Tag(key));
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Config>> Config::Build(api::L7Config proto, bool offer_h2,
                                                            const Config* previous) {
  std::shared_ptr<Config> config(new Config());
  // Clusters and certificates are the Config's; the table keeps the ports and listeners.
  api::L7Config objects;
  objects.mutable_clusters()->Swap(proto.mutable_clusters());
  objects.mutable_certificates()->Swap(proto.mutable_certificates());
  objects.mutable_removed_clusters()->Swap(proto.mutable_removed_clusters());
  objects.mutable_removed_certificates()->Swap(proto.mutable_removed_certificates());
  const bool delta = proto.base_generation() != 0;
  std::set<std::string, std::less<>> sessions = SessionClusters(proto);
  // Refuses a delta that is not on `previous`.
  auto table =
      routing::RouteTable::Build(std::move(proto), previous ? previous->table_.get() : nullptr);
  if (!table.ok()) return table.status();
  config->table_ = *std::move(table);
  if (delta) {
    config->certificates_ = previous->certificates_;
    config->clusters_ = previous->clusters_;
    config->upstream_tls_ = previous->upstream_tls_;
  }
  for (const std::string& name : objects.removed_certificates()) {
    config->certificates_.erase(name);
  }
  for (api::Certificate& certificate : *objects.mutable_certificates()) {
    std::string name = certificate.name();
    config->certificates_[name] = std::make_shared<const api::Certificate>(std::move(certificate));
  }
  // The context serving `listener` with `certificate`: one per certificate and client
  // validation, lent by `previous` when it has the same. Only certificates a listener uses
  // are parsed.
  auto context_for =
      [&](const api::Certificate& certificate,
          const api::Listener& listener) -> absl::StatusOr<std::shared_ptr<SSL_CTX>> {
    std::string key = MaterialKey(certificate, offer_h2, listener);
    std::shared_ptr<SSL_CTX>& made = config->contexts_[key];
    if (!made && previous) {
      if (auto it = previous->contexts_.find(key); it != previous->contexts_.end()) {
        made = it->second;
      }
    }
    if (made) return made;
    std::optional<ClientCertificatePolicy> clients;
    if (listener.has_client_validation()) {
      clients = ClientCertificatePolicy{listener.client_validation().ca_pem(),
                                        listener.client_validation().allow_insecure_fallback()};
    }
    auto context = MakeCertificateContext(certificate.cert_pem(), certificate.key_pem(), offer_h2,
                                          clients ? &*clients : nullptr);
    if (!context.ok()) {
      return absl::InvalidArgumentError("certificate " + certificate.name() + ": " +
                                        std::string(context.status().message()));
    }
    made = *std::move(context);
    return made;
  };
  std::vector<std::shared_ptr<const PortTls>> previous_ports;
  if (previous) {
    for (const auto& [port, tls] : previous->tls_) previous_ports.push_back(tls);
  }
  for (const auto& port : config->table_->ports()) {
    const api::Port& p = *port.port;
    if (p.port() == 0 || p.port() > 65535) {
      return absl::InvalidArgumentError("port " + std::to_string(p.port()) + " out of range");
    }
    if (p.protocol() != api::Port::HTTPS) continue;
    std::vector<PortTls::Candidate> candidates;
    for (const auto& listener : p.listeners()) {
      for (const auto& name : listener.certificates()) {
        std::string where = "listener " + listener.gateway_namespace() + "/" +
                            listener.gateway_name() + "/" + listener.name();
        auto it = config->certificates_.find(name);
        if (it == config->certificates_.end()) {
          return absl::InvalidArgumentError(where + ": unknown certificate " + name);
        }
        auto context = context_for(*it->second, listener);
        if (!context.ok()) {
          return absl::InvalidArgumentError(where + ": " + std::string(context.status().message()));
        }
        candidates.push_back({absl::AsciiStrToLower(listener.hostname()), *std::move(context)});
        break;  // the first certificate serves the listener
      }
    }
    auto same = std::find_if(previous_ports.begin(), previous_ports.end(),
                             [&](const auto& tls) { return tls->Serves(candidates, offer_h2); });
    if (same != previous_ports.end()) {
      config->tls_[port.port] = *same;
      continue;
    }
    auto tls = PortTls::Create(std::move(candidates), offer_h2);
    if (!tls.ok()) return tls.status();
    config->tls_[port.port] = *std::move(tls);
  }
  if (absl::Status s = config->AddClusters(objects, previous, sessions); !s.ok()) return s;
  return std::shared_ptr<const Config>(std::move(config));
}

absl::Status Config::AddClusters(const api::L7Config& proto, const Config* previous,
                                 const std::set<std::string, std::less<>>& sessions) {
  for (const std::string& name : proto.removed_clusters()) clusters_.Erase(name);
  for (const auto& cluster : proto.clusters()) {
    auto endpoints = std::make_shared<ClusterEndpoints>();
    // A delta's cluster keeps its tags while routes the delta does not carry may hold sessions.
    const ClusterEndpoints* old = clusters_.Find(cluster.name());
    endpoints->sessions = old != nullptr && old->sessions;
    endpoints->h2c = cluster.protocol() == api::H2C;
    if (cluster.has_tls()) {
      const api::Certificate* client = nullptr;
      if (const std::string& name = cluster.tls().client_certificate(); !name.empty()) {
        auto it = certificates_.find(name);
        if (it == certificates_.end()) {
          return absl::InvalidArgumentError("cluster " + cluster.name() +
                                            ": backend TLS: unknown client certificate " + name);
        }
        client = it->second.get();
      }
      std::string key = UpstreamTls::KeyOf(cluster.tls(), client);
      auto& tls = upstream_tls_[key];
      if (!tls && previous) {
        if (auto it = previous->upstream_tls_.find(key); it != previous->upstream_tls_.end()) {
          tls = it->second;
        }
      }
      if (!tls) {
        auto made = UpstreamTls::Create(cluster.tls(), client);
        if (!made.ok()) {
          upstream_tls_.erase(key);
          return absl::InvalidArgumentError("cluster " + cluster.name() + ": backend TLS: " +
                                            std::string(made.status().message()));
        }
        tls = *std::move(made);
      }
      endpoints->tls = tls;
    }
    for (const auto& endpoint : cluster.endpoints()) {
      if (endpoint.port() == 0 || endpoint.port() > 65535) {
        return absl::InvalidArgumentError("cluster " + cluster.name() + ": endpoint port " +
                                          std::to_string(endpoint.port()));
      }
      auto address = MakeAddress(endpoint.address(), static_cast<uint16_t>(endpoint.port()));
      if (!address.ok()) {
        return absl::InvalidArgumentError("cluster " + cluster.name() + ": " +
                                          std::string(address.status().message()));
      }
      endpoints->endpoints.push_back(*address);
      endpoints->keys.push_back(address->ToString());
      if (endpoints->tls) {
        endpoints->tls_pool_keys.push_back(endpoints->keys.back() + "#tls:" +
                                           endpoints->tls->key() + (endpoints->h2c ? "+h2" : ""));
      }
    }
    if (endpoints->sessions || sessions.contains(cluster.name())) AddSessionTags(*endpoints);
    clusters_.Set(cluster.name(), std::move(endpoints));
  }
  // Clusters the config does not carry again that a carried route now holds sessions on.
  for (const std::string& name : sessions) {
    const ClusterEndpoints* held = clusters_.Find(name);
    if (held == nullptr || held->sessions) continue;
    auto tagged = std::make_shared<ClusterEndpoints>(*held);
    AddSessionTags(*tagged);
    clusters_.Set(name, std::move(tagged));
  }
  clusters_.Settle();
  return absl::OkStatus();
}

const Config::Names& Config::names() const {
  std::call_once(names_once_, [this] {
    for (const auto& port : table_->ports()) {
      for (const auto& listener : port.listeners) {
        for (const auto& vhost : listener.vhosts) {
          for (const auto& route : vhost->routes) names_.routes.insert(route.name);
        }
      }
    }
    clusters_.ForEach([this](const std::string& name, const ClusterEndpoints& endpoints) {
      names_.clusters.insert(name);
      names_.endpoints.insert(endpoints.keys.begin(), endpoints.keys.end());
    });
  });
  return names_;
}

const PortTls* Config::tls(const routing::CompiledPort& port) const {
  auto it = tls_.find(port.port);
  return it == tls_.end() ? nullptr : it->second.get();
}

const ClusterEndpoints* Config::cluster(std::string_view name) const {
  return clusters_.Find(name);
}

}  // namespace xgate::proxy
