// xgate-cni: a chained CNI plugin (CNI spec 1.0). On ADD it records the pod's host-side
// interface and addresses from prevResult in the agent's spool folder, where the agent picks
// them up (inotify) whether it is running now or starts later; on DEL it removes the record.
// It never changes the result and never fails a pod because the agent is away.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace xgate::cni {

inline constexpr char kDefaultSpoolDir[] = "/run/xgate/cni";

// CNI error codes used here (CNI spec, "Error").
enum ErrorCode {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodingFailure = 6,
  kInvalidConfig = 7,
};

struct Outcome {
  int exit_code = 0;
  std::string stdout_text;  // the result, or the CNI error JSON
};

// Runs one plugin invocation: `env` holds the CNI_* variables, `stdin_text` the network
// configuration. Pure except for the spool folder (the config's "spoolDir", else the default).
Outcome RunPlugin(const std::map<std::string, std::string>& env, const std::string& stdin_text);

}  // namespace xgate::cni
