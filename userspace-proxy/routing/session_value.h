// Where a route rule's session (GEP-1619 session persistence) travels in a request: its cookie,
// among any others, or its header. Shared by the proxy and the agent's explain.
#pragma once

#include <optional>
#include <string_view>

#include "api/config.pb.h"
#include "userspace-proxy/http/message.h"

namespace xgate::routing {

// The session value the request carries, or nullopt.
std::optional<std::string_view> FindSessionValue(const api::SessionPersistence& session,
                                                 const http::HeaderMap& headers);

}  // namespace xgate::routing
