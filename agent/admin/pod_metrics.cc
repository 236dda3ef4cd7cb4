#include <sstream>

#include "agent/admin/metrics.h"
#include "agent/admin/prom_text.h"

namespace xgate::admin {

std::string RenderLocalityMetrics(const std::vector<pods::LocalityMismatch>& mismatches) {
  std::ostringstream out;
  const std::string name = "xgate_local_pods_mismatches";
  MetricHeader(out, name, "gauge",
               "Endpoints the EndpointSlices and xgate-cni's records disagree on: no_record (a "
               "slice puts it on this node, no record has it), other_node (recorded here, a "
               "slice puts it on another node).");
  for (auto kind :
       {pods::LocalityMismatch::Kind::kNoRecord, pods::LocalityMismatch::Kind::kOtherNode}) {
    size_t n = 0;
    for (const auto& m : mismatches) n += m.kind == kind ? 1 : 0;
    out << name << LabelSet({{"kind", pods::KindName(kind)}}) << " " << n << "\n";
  }
  return out.str();
}

}  // namespace xgate::admin
