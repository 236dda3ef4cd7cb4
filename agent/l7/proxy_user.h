// Starting xgate-proxy as another user (the agent's --proxy-user): the agent, root, prepares
// what the proxy reaches after it switched (xgate-proxy --user, after binding nothing yet):
// its own folder for the config stream socket, the stats socket and the pid file.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::l7 {

struct ProxyUser {
  std::string name;  // as given: a user name or a numeric uid
  uid_t uid = 0;
  gid_t gid = 0;  // the user's primary group; the uid when it has no passwd entry
};

// The passwd entry of NAME, or a numeric uid (with or without an entry), as xgate-proxy's
// --user reads it.
absl::StatusOr<ProxyUser> LookUpProxyUser(const std::string& name);

// The proxy's folder: owned by the user, group the agent's, mode 2770. The setgid bit gives
// the proxy's stats socket the agent's group, so the agent (uid 0 without CAP_DAC_OVERRIDE,
// as in the DaemonSet) connects to it through the group bits. Needs CAP_CHOWN.
absl::Status PrepareProxyFolder(const std::string& folder, const ProxyUser& user);

// The config stream socket (mode 0600, created by the agent) handed to the user.
absl::Status HandOverSocket(const std::string& socket_path, const ProxyUser& user);

// --proxy-user NAME ("": none): looked up, and the folder of `socket_path` prepared for it.
absl::StatusOr<std::optional<ProxyUser>> PrepareProxyUser(const std::string& name,
                                                          const std::string& socket_path);

// The arguments that make xgate-proxy switch to the user: {"--user", "UID"}; none for "".
std::vector<std::string> ProxyUserArgs(const ProxyUser* user);

}  // namespace xgate::l7
