// xgatectl's views of the data planes: `explain request|packet`, `get conntrack`,
// `get counters` (over --socket).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "api/admin.pb.h"
#include "tools/xgatectl/args.h"

namespace xgate::ctl {

// "198.18.0.1:443" or "[fd00::1]:443" -> (address, port).
absl::StatusOr<std::pair<std::string, uint32_t>> ParseHostPort(const std::string& text,
                                                               const std::string& flag);

// The ExplainRequest `explain request|packet` sends, from its flags.
absl::StatusOr<api::ExplainRequest> BuildExplainRequest(const Args& args);

// Exit codes: 0 answered, 1 the agent cannot be reached or refuses, 2 usage error.
int RunExplain(const Args& args, std::ostream& out, std::ostream& err);
int GetConntrack(const Args& args, std::ostream& out, std::ostream& err);
int GetCounters(const Args& args, std::ostream& out, std::ostream& err);
// The pod attachments xgate-cni reported, and how the fast path has each.
int GetPods(const Args& args, std::ostream& out, std::ostream& err);
// The tables `get counters` prints: the fast path's, then the proxy's.
void PrintFastPathCounters(const api::GetCountersResponse& response, std::ostream& out);
void PrintProxyCounters(const api::ProxyStats& proxy, std::ostream& out);

}  // namespace xgate::ctl
