// Explains which listener, route, rule and backends an HTTP request gets, with the proxy's
// own route table and matcher (userspace-proxy/routing), built from the snapshot's L7 part.
#pragma once

#include "absl/status/statusor.h"
#include "api/admin.pb.h"
#include "api/config.pb.h"
#include "userspace-proxy/http/message.h"

namespace xgate::inspect {

// The request head the probe describes, with the defaults filled in (GET, "/", Host from
// the SNI). InvalidArgument when the probe lacks a listener address or port.
absl::StatusOr<http::RequestHead> ProbeHead(const api::RequestProbe& probe);

// InvalidArgument for a bad probe; an L7 config whose route table does not build is
// reported as the proxy would refuse it (FailedPrecondition).
absl::StatusOr<api::RequestExplanation> ExplainRequest(const api::L7Config& config,
                                                       const api::RequestProbe& probe);

}  // namespace xgate::inspect
