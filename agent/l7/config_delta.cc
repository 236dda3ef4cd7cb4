#include "agent/l7/config_delta.h"

#include <algorithm>
#include <type_traits>

#include "absl/container/flat_hash_set.h"
#include "userspace-proxy/routing/router.h"

namespace xgate::l7 {

namespace {

// Brings `known` (name -> bytes) to `items`: those new or changed go through `changed`, the
// names gone through `removed`. Updated in place, an unchanged item costs nothing when it is
// the object seen last time, else a serialization into one scratch buffer and a compare; one
// in the place it had (or one further, past a removed one) is not even looked up by name.
// An item is serialized only once it is compared (its bytes empty until then: the object seen
// last time, alive in the config before, is serialized then), so the first config, 10,000
// virtual hosts and their clusters on a cold start, serializes none. False when two items
// share a name.
template <typename Items, typename NameOf, typename Changed, typename Removed>
bool Diff(const Items& items, NameOf name_of, ConfigDelta::Known& known, uint64_t stamp,
          Changed changed, Removed removed) {
  using Item = std::decay_t<decltype(*items.begin())>;
  using Entry = std::pair<const std::string, ConfigDelta::Seen>;
  std::string scratch;
  bool unique = true;
  std::vector<Entry*> order;
  order.reserve(static_cast<size_t>(items.size()));
  std::vector<Entry*> passed;  // entries of the order before that no item took in place
  const std::vector<Entry*>& before = known.order;
  size_t at = 0;  // in `before`
  for (const auto& item : items) {
    Entry* entry = nullptr;
    if (at < before.size() && before[at]->second.object == &item) {
      entry = before[at++];
    } else if (at + 1 < before.size() && before[at + 1]->second.object == &item) {
      passed.push_back(before[at]);
      entry = before[at + 1];
      at += 2;
    }
    if (entry != nullptr) {
      unique = unique && entry->second.stamp != stamp;
      entry->second.stamp = stamp;
      order.push_back(entry);
      continue;
    }
    auto [it, fresh] = known.by_name.try_emplace(name_of(item));
    entry = &*it;
    if (at < before.size() && before[at] == entry) ++at;  // changed in its place
    order.push_back(entry);
    ConfigDelta::Seen& seen = entry->second;
    unique = unique && seen.stamp != stamp;
    seen.stamp = stamp;
    if (!fresh && seen.object == &item) continue;
    if (fresh) {
      seen.object = &item;
      changed(item);
      continue;
    }
    if (seen.bytes.empty()) static_cast<const Item*>(seen.object)->SerializeToString(&seen.bytes);
    seen.object = &item;
    item.SerializeToString(&scratch);
    if (seen.bytes == scratch) continue;
    changed(item);
    seen.bytes.swap(scratch);
  }
  auto gone = [&](Entry* entry) {
    if (entry->second.stamp == stamp) return;
    removed(entry->first);
    known.by_name.erase(entry->first);
  };
  if (!before.empty()) {
    // Every entry is in the order before, once: the ones no item took in place are the only
    // ones that may be gone.
    for (Entry* entry : passed) gone(entry);
    for (; at < before.size(); ++at) gone(before[at]);
  } else {
    absl::erase_if(known.by_name, [&](Entry& entry) {
      if (entry.second.stamp == stamp) return false;
      removed(entry.first);
      return true;
    });
  }
  if (unique) {
    known.order = std::move(order);
  } else {
    known.order.clear();  // an entry twice in it: the next call looks every name up
  }
  return unique;
}

}  // namespace

std::optional<api::L7Config> ConfigDelta::Next(std::shared_ptr<const api::L7Config> held) {
  const api::L7Config& next = *held;
  api::L7Config delta;
  delta.set_generation(next.generation());
  delta.set_base_generation(generation_);
  delta.set_steer_socket_map(next.steer_socket_map());
  const uint64_t stamp = ++stamp_;
  // Without a config before (base_generation 0 would read as a whole config) there is no
  // delta to return: what changed is only remembered, not copied into one.
  const bool had = HasBase();
  bool unique = true;
  for (const api::Port& port : next.ports()) {
    api::Port* out = delta.add_ports();
    *out->mutable_addresses() = port.addresses();
    *out->mutable_steered_addresses() = port.steered_addresses();
    out->set_port(port.port());
    out->set_protocol(port.protocol());
    for (const api::Listener& listener : port.listeners()) {
      api::Listener* l = out->add_listeners();
      l->set_gateway_namespace(listener.gateway_namespace());
      l->set_gateway_name(listener.gateway_name());
      l->set_name(listener.name());
      l->set_hostname(listener.hostname());
      *l->mutable_certificates() = listener.certificates();
      if (listener.has_client_validation()) {
        *l->mutable_client_validation() = listener.client_validation();
      }
      std::string key = routing::ListenerKey(port.port(), listener);
      auto [it, fresh] = listeners_.try_emplace(key);
      unique = unique && (fresh || it->second.stamp != stamp);
      it->second.stamp = stamp;
      // Hostnames that differ only in case make the order of virtual hosts matter (the
      // first wins), which a delta does not keep; Gateway API hostnames are lowercase.
      for (const api::VirtualHost& v : listener.virtual_hosts()) {
        unique = unique && std::none_of(v.hostname().begin(), v.hostname().end(),
                                        [](char c) { return c >= 'A' && c <= 'Z'; });
      }
      unique = Diff(
                   listener.virtual_hosts(),
                   [](const api::VirtualHost& v) -> const std::string& { return v.hostname(); },
                   it->second.vhosts, stamp,
                   [&](const api::VirtualHost& v) {
                     if (had) *l->add_virtual_hosts() = v;
                   },
                   [&](const std::string& h) { l->add_removed_virtual_hosts(h); }) &&
               unique;
    }
  }
  absl::flat_hash_set<std::string> changed_certificates;
  unique = Diff(
               next.certificates(),
               [](const api::Certificate& c) -> const std::string& { return c.name(); },
               certificates_, stamp,
               [&](const api::Certificate& c) {
                 if (!had) return;
                 *delta.add_certificates() = c;
                 changed_certificates.insert(c.name());
               },
               [&](const std::string& n) { delta.add_removed_certificates(n); }) &&
           unique;
  absl::flat_hash_set<std::string> sent_clusters;
  unique =
      Diff(
          next.clusters(), [](const api::Cluster& c) -> const std::string& { return c.name(); },
          clusters_, stamp,
          [&](const api::Cluster& c) {
            if (!had) return;
            *delta.add_clusters() = c;
            if (!changed_certificates.empty()) sent_clusters.insert(c.name());
          },
          [&](const std::string& n) { delta.add_removed_clusters(n); }) &&
      unique;
  // A cluster presenting a client certificate that changed is sent again, though its own
  // bytes (which name the certificate) did not change: the proxy makes its TLS context anew.
  for (const api::Cluster& c : next.clusters()) {
    if (changed_certificates.empty()) break;
    if (changed_certificates.contains(c.tls().client_certificate()) &&
        !sent_clusters.contains(c.name())) {
      *delta.add_clusters() = c;
    }
  }
  absl::erase_if(listeners_, [&](const auto& entry) { return entry.second.stamp != stamp; });
  last_ = std::move(held);  // after the Diffs: the objects they remembered stay alive
  have_ = unique;
  generation_ = next.generation();
  if (!had || !unique) return std::nullopt;
  return delta;
}

}  // namespace xgate::l7
