// Where the EndpointSlices and xgate-cni's records disagree about which pods run on this node
// (issue #14 point 4: in Kubernetes mode both say it, and they should agree):
// - no_record: a ready endpoint a slice puts on this node (nodeName) has no record, so the
//   fast path does not know its interface (a pod made before xgate-cni was chained, a CNI that
//   skipped the chain, or a record lost); its endpoint gets no new flows here;
// - other_node: a record's address is a ready endpoint a slice puts on another node (an
//   address reused, a stale record, or a nodeName wrong).
// Addresses of the node itself (hostNetwork pods) have no record by design and are left out.
// LocalityCheck keeps the current list for `xgatectl get pods` and the metrics page, and logs
// each disagreement once when it appears and once when it ends.
#pragma once

#include <compare>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/model/objects.h"
#include "cni-hooks/xgate-cni/record.h"

namespace xgate::pods {

struct LocalityMismatch {
  enum class Kind { kNoRecord, kOtherNode };
  Kind kind = Kind::kNoRecord;
  std::string address;    // canonical text
  std::string slice;      // "namespace/name" of the EndpointSlice
  std::string node_name;  // the slice's nodeName for the endpoint
  auto operator<=>(const LocalityMismatch&) const = default;
};

// "no_record" or "other_node" (the metrics label and the admin API's kind).
std::string KindName(LocalityMismatch::Kind kind);
// One line for the log: what disagrees and with what.
std::string Describe(const LocalityMismatch& m);

// The disagreements between the ready endpoints of `store`'s EndpointSlices and `records`,
// sorted. `node_owned`: the node's own addresses (canonical), never a pod's.
std::vector<LocalityMismatch> FindLocalityMismatches(const model::Store& store,
                                                     const std::string& node_name,
                                                     const std::vector<cni::PodRecord>& records,
                                                     const std::set<std::string>& node_owned);

class LocalityCheck {
 public:
  // Replaces the list, logging what appeared (warning) and what ended (info).
  void Update(std::vector<LocalityMismatch> now);
  std::vector<LocalityMismatch> Current() const;

 private:
  mutable std::mutex mu_;
  std::vector<LocalityMismatch> current_;
};

}  // namespace xgate::pods
