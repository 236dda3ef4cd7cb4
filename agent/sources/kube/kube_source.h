// The Kubernetes source: one informer per kind xgate reads, feeding the object store. Gateway
// API kinds are read at the version the server serves (discovery, re-checked periodically,
// so a CRD installed later is picked up, one upgraded is read at its new version, and the
// objects of one deleted leave the store); core kinds at v1.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/sources/kube/informer.h"
#include "agent/sources/kube/kind_state.h"
#include "agent/sources/store.h"

namespace xgate::kube {

// A kind xgate reads, and where the API serves it.
struct WatchedKind {
  std::string kind;                   // "HTTPRoute"
  std::string group;                  // "" for core
  std::vector<std::string> versions;  // by preference; the first one served is read
  std::string plural;
  bool namespaced = true;
  std::string field_selector;  // Secrets: only kubernetes.io/tls ones
};
const std::vector<WatchedKind>& WatchedKinds();

// The version of each kind of `group` that the server serves, by the kinds' preferences
// (group absent: an empty map). Asked of /apis/<group> and /apis/<group>/<version>.
absl::StatusOr<std::map<std::string, std::string>> ServedVersions(
    Client& client, const std::string& group, const std::vector<WatchedKind>& kinds);

// The object store's source name for objects from the API server.
inline constexpr char kKubeSource[] = "kube";

class KubeSource : private InformerSink {
 public:
  struct Options {
    // How soon a CRD installed, upgraded or deleted is noticed (a few GETs each time).
    std::chrono::milliseconds discovery_interval{10000};
    InformerOptions informer;
  };
  KubeSource(Client& client, sources::ObjectStore& store, Options options);
  ~KubeSource();  // Stop()
  KubeSource(const KubeSource&) = delete;
  KubeSource& operator=(const KubeSource&) = delete;

  // Discovers the served versions and starts the informers (in threads of their own).
  void Start();
  void Stop();

  // True once the kinds were discovered and every informer has listed once; stays true. It
  // turns true only after the store holds every list, and the store changes once more then.
  bool Synced() const;
  // How many objects `kind`'s last list returned (0 before it is listed).
  size_t ListedCount(const std::string& kind) const;
  std::vector<KindState> Kinds() const;
  // Where its informers put what they decode (the fuzz target feeds it with no server).
  InformerSink& sink() { return *this; }

 private:
  void Replace(const std::string& kind, std::vector<nlohmann::json> objects) override;
  void Upsert(const std::string& kind, nlohmann::json object) override;
  void Remove(const std::string& kind, const nlohmann::json& object) override;
  void DiscoveryLoop();
  // Starts the informers of kinds now served, and stops those of kinds no longer served at
  // their version; false when discovery failed (then nothing changes).
  bool Discover();
  // Drops the objects of `kind` from the store.
  void EraseKind(const std::string& kind);

  struct Running {
    std::unique_ptr<StopSignal> stop;  // this informer's own (Stop() sets every one)
    std::unique_ptr<Informer> informer;
    std::thread thread;
  };

  Client& client_;
  sources::ObjectStore& store_;
  const Options options_;
  StopSignal stop_;
  mutable std::mutex mu_;
  std::map<std::string, Running> informers_;  // kind -> informer
  // The kinds whose list is stored, and how many objects that list returned.
  std::map<std::string, size_t> listed_;
  bool discovered_ = false;
  bool synced_ = false;
  std::thread discovery_;
};

}  // namespace xgate::kube
