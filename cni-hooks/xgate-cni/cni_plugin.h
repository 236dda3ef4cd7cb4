// xgate-cni: a chained CNI plugin (CNI spec 1.1: ADD, DEL, CHECK, STATUS, GC, VERSION). On ADD
// it records the pod's host-side interfaces and addresses from prevResult in its state folder
// and tells a running agent at once over the admin socket; an agent that is down reads the
// records when it starts. It passes prevResult on unchanged and never fails a pod because the
// agent is away. DEL and GC remove records (and tell the agent); CHECK compares the record.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "api/admin.pb.h"

namespace xgate::cni {

// CNI error codes (CNI spec, "Error"); 100 and up are xgate-cni's own.
enum ErrorCode {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodingFailure = 6,
  kInvalidConfig = 7,
  kTryAgainLater = 11,
  kPluginNotAvailable = 50,
  kNoRecord = 100,       // CHECK: xgate-cni has no record of this attachment
  kRecordDiffers = 101,  // CHECK: the record does not match prevResult
};

inline constexpr char kDefaultAdminSocket[] = "/run/xgate/admin.sock";

struct Outcome {
  int exit_code = 0;
  std::string stdout_text;  // the result, the CNI error object, or nothing
};

// How an event reaches the agent (the binary uses ReportToAgent); its failure only logs.
using AgentReporter = std::function<absl::Status(const std::string& admin_socket,
                                                 const api::ReportPodAttachmentRequest& event)>;

// One plugin invocation: `env` holds the CNI_* variables, `stdin_text` the network
// configuration. Its own fields: "stateDir" (default /run/xgate/cni) and "adminSocket"
// (default /run/xgate/admin.sock).
Outcome RunPlugin(const std::map<std::string, std::string>& env, const std::string& stdin_text,
                  const AgentReporter& report);

}  // namespace xgate::cni
