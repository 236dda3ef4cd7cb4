// The fast path on the node's own pods: for each pod attachment xgate-cni recorded, the
// reverse NAT program on the TC ingress of the pod's host-side interface (a tcx link pinned
// as PINROOT/link_pod_in_IFNAME) and the pod's addresses in xg_local_pods (maps/local_pod.h),
// which the XDP program reads to deliver straight into that interface. Sync makes both follow
// the records exactly: a pod gone (DEL, or its interface vanished without one) loses both; a
// restarted agent adopts the pinned links and rewrites the map from the records it reads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cni-hooks/xgate-cni/record.h"
#include "maps/typed_map.h"

namespace xgate::pods {

struct PodDatapathOptions {
  std::string pin_root;
  int tc_ingress_prog_fd = -1;  // the fast path's xgate_tc_rnat_in (owned by its Datapath)
  int local_pods_map_fd = -1;   // xg_local_pods (duplicated here)
};

// One pod interface as programmed.
struct ProgrammedPod {
  std::string network, container_id, ifname;  // the record's key
  std::string host_ifname;
  int ifindex = 0;
  std::array<uint8_t, 6> pod_mac{}, host_mac{};
  std::vector<std::string> addresses;  // those in xg_local_pods
  std::string problem;                 // why it is not (fully) programmed, "" when it is
};

// "aa:bb:cc:dd:ee:ff".
std::string MacText(const std::array<uint8_t, 6>& mac);

class PodDatapath {
 public:
  static absl::StatusOr<std::unique_ptr<PodDatapath>> Create(const PodDatapathOptions& options);

  // Attaches, detaches, writes and deletes until the links and the map are what `records`
  // say. Returns the local pod addresses now in the map.
  std::set<std::string> Sync(const std::vector<cni::PodRecord>& records);
  std::vector<ProgrammedPod> Programmed() const;
  // Removes every pod link and map entry (--detach-on-exit).
  void DetachAll();

  static constexpr char kLinkPrefix[] = "link_pod_in_";

 private:
  explicit PodDatapath(PodDatapathOptions options, maps::LocalPodMap map)
      : options_(std::move(options)), map_(std::move(map)) {}
  ProgrammedPod Resolve(const cni::PodRecord& record);
  std::string LinkPin(const std::string& ifname) const;

  const PodDatapathOptions options_;
  maps::LocalPodMap map_;
  std::map<std::string, int> attached_;  // host ifname -> ifindex, attached by this agent
  // Pod MACs read from inside the pods, by (container, ifname, host ifindex).
  std::map<std::tuple<std::string, std::string, int>, std::array<uint8_t, 6>> pod_macs_;
  mutable std::mutex mu_;  // guards programmed_ (read by the admin API)
  std::vector<ProgrammedPod> programmed_;
};

}  // namespace xgate::pods
