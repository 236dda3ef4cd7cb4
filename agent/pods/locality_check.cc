#include "agent/pods/locality_check.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "agent/model/address.h"
#include "spdlog/spdlog.h"

namespace xgate::pods {

std::string KindName(LocalityMismatch::Kind kind) {
  return kind == LocalityMismatch::Kind::kNoRecord ? "no_record" : "other_node";
}

std::string Describe(const LocalityMismatch& m) {
  if (m.kind == LocalityMismatch::Kind::kNoRecord) {
    return absl::StrCat("EndpointSlice ", m.slice, " puts ", m.address, " on this node (",
                        m.node_name, ") but xgate-cni has no record of it");
  }
  return absl::StrCat("xgate-cni recorded ", m.address, " on this node but EndpointSlice ", m.slice,
                      " puts it on node ", m.node_name);
}

std::vector<LocalityMismatch> FindLocalityMismatches(const model::Store& store,
                                                     const std::string& node_name,
                                                     const std::vector<cni::PodRecord>& records,
                                                     const std::set<std::string>& node_owned) {
  std::set<std::string> recorded;
  for (const auto& r : records) {
    for (const auto& a : r.addresses()) recorded.insert(model::CanonicalAddress(a));
  }
  std::set<LocalityMismatch> out;
  for (const auto& [key, slice] : store.endpoint_slices) {
    for (const auto& ep : slice.endpoints) {
      if (!ep.ready || !ep.node_name || ep.node_name->empty()) continue;
      bool here = *ep.node_name == node_name;
      for (const auto& a : ep.addresses) {
        std::string address = model::CanonicalAddress(a);
        if (node_owned.contains(address) || here == recorded.contains(address)) continue;
        out.insert({here ? LocalityMismatch::Kind::kNoRecord : LocalityMismatch::Kind::kOtherNode,
                    address, key.first + "/" + key.second, *ep.node_name});
      }
    }
  }
  return {out.begin(), out.end()};
}

void LocalityCheck::Update(std::vector<LocalityMismatch> now) {
  std::lock_guard lock(mu_);
  std::vector<LocalityMismatch> appeared, ended;
  std::set_difference(now.begin(), now.end(), current_.begin(), current_.end(),
                      std::back_inserter(appeared));
  std::set_difference(current_.begin(), current_.end(), now.begin(), now.end(),
                      std::back_inserter(ended));
  for (const auto& m : appeared) spdlog::warn("local pods disagree: {}", Describe(m));
  for (const auto& m : ended) spdlog::info("local pods agree again: {}", Describe(m));
  current_ = std::move(now);
}

std::vector<LocalityMismatch> LocalityCheck::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

}  // namespace xgate::pods
