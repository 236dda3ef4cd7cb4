// Puts xgate-cni on a node the way Istio's and Cilium's installers do: the plugin binary copied
// into the host's CNI bin folder, and xgate-cni appended as the last plugin of the network
// configuration the runtime uses (the first file of the conf folder in name order). A
// single-plugin *.conf / *.json is turned into a *.conflist, its original kept beside it as
// NAME.xgate-orig (an extension runtimes do not read) so that uninstalling restores it.
// Every step is idempotent: running it again on an installed node writes nothing.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cni-hooks/install/conflist.h"

namespace xgate::cni_install {

struct Options {
  std::string conf_dir = "/etc/cni/net.d";
  std::string bin_dir = "/opt/cni/bin";
  std::string plugin_binary;                 // the xgate-cni to copy; "" copies nothing
  Json entry = Json{{"type", kPluginType}};  // xgate-cni's entry in the list
};

struct Installed {
  std::string conf_file;        // the list xgate-cni is now in
  bool conf_written = false;    // false: it was already there, as it is
  bool binary_written = false;  // false: the same binary was already there
};

// The network configuration file a runtime would use: the first *.conf, *.conflist or *.json
// of `conf_dir` in name order. NotFound when there is none.
absl::StatusOr<std::string> ActiveConfFile(const std::string& conf_dir);

// Copies the binary (when given) and makes xgate-cni the last plugin of the active list.
// A malformed file is refused with its name and field, and left as it was.
absl::StatusOr<Installed> Install(const Options& options);

// Takes xgate-cni out of every list in the conf folder (restoring converted *.conf files) and
// removes the binary from the bin folder.
absl::Status Uninstall(const Options& options);

}  // namespace xgate::cni_install
