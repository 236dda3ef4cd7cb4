// xgate-proxy's limit flags (README "Limits"): one flag per field of ProxyLimits, the HTTP/2
// limits, the timeouts and the upstream caps, each with its default in --help.
#pragma once

#include <CLI/CLI.hpp>

#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

// Adds the flags to `app`, each writing into `options` when given.
void AddLimitFlags(CLI::App& app, ServerOptions& options);

}  // namespace xgate::proxy
