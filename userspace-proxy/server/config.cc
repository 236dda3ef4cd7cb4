#include "userspace-proxy/server/config.h"

#include "absl/strings/ascii.h"

namespace xgate::proxy {

absl::StatusOr<std::shared_ptr<const Config>> Config::Build(const api::L7Config& proto,
                                                            bool offer_h2) {
  std::shared_ptr<Config> config(new Config());
  auto table = routing::RouteTable::Build(proto);
  if (!table.ok()) return table.status();
  config->table_ = *std::move(table);
  const api::L7Config& kept = config->table_->config();

  std::map<std::string, std::shared_ptr<SSL_CTX>> contexts;
  for (const auto& certificate : kept.certificates()) {
    auto context = MakeCertificateContext(certificate.cert_pem(), certificate.key_pem(), offer_h2);
    if (!context.ok()) {
      return absl::InvalidArgumentError("certificate " + certificate.name() + ": " +
                                        std::string(context.status().message()));
    }
    contexts[certificate.name()] = *std::move(context);
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
        auto it = contexts.find(name);
        if (it == contexts.end()) {
          return absl::InvalidArgumentError("listener " + listener.gateway_namespace() + "/" +
                                            listener.gateway_name() + "/" + listener.name() +
                                            ": unknown certificate " + name);
        }
        candidates.push_back({absl::AsciiStrToLower(listener.hostname()), it->second});
        break;  // the first certificate serves the listener
      }
    }
    auto tls = PortTls::Create(std::move(candidates), offer_h2);
    if (!tls.ok()) return tls.status();
    config->tls_[port.port] = *std::move(tls);
  }

  for (const auto& port : kept.ports()) {
    for (const auto& listener : port.listeners()) {
      for (const auto& vhost : listener.virtual_hosts()) {
        for (const auto& route : vhost.routes()) {
          config->route_names_.insert(route.route_namespace() + "/" + route.route_name());
        }
      }
    }
  }
  for (const auto& cluster : kept.clusters()) {
    config->cluster_names_.insert(cluster.name());
    ClusterEndpoints& endpoints = config->clusters_[cluster.name()];
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
      endpoints.endpoints.push_back(*address);
      endpoints.keys.push_back(address->ToString());
    }
  }
  return std::shared_ptr<const Config>(std::move(config));
}

const PortTls* Config::tls(const routing::CompiledPort& port) const {
  auto it = tls_.find(port.port);
  return it == tls_.end() ? nullptr : it->second.get();
}

const ClusterEndpoints* Config::cluster(std::string_view name) const {
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : &it->second;
}

}  // namespace xgate::proxy
