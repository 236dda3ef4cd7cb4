// Tells a running agent of a pod event over its admin socket, at once. The record in the
// state folder is already written (or removed) when this runs, so an agent that is down or
// restarting catches up from the folder when it starts: a failure here is only logged.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "api/admin.pb.h"

namespace xgate::cni {

// Sends one event; UNAVAILABLE (or DEADLINE_EXCEEDED) when no agent answers within 2 s.
absl::Status ReportToAgent(const std::string& admin_socket,
                           const api::ReportPodAttachmentRequest& event);

}  // namespace xgate::cni
