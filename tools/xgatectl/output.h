// What every admin API command of xgatectl shares: the channel, the call deadline, how a
// failed call is reported, and the printers (kubectl-style tables, JSON, YAML).
#pragma once

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "api/admin.grpc.pb.h"
#include "tools/xgatectl/args.h"

namespace google::protobuf {
class Message;
}

namespace xgate::ctl {

std::unique_ptr<api::Admin::Stub> Connect(const Args& args);
void SetDeadline(grpc::ClientContext& context);
// Prints why the call failed; returns the exit code (1).
int Failed(const Args& args, const grpc::Status& s, std::ostream& err);

// `format` is "json" or "yaml".
void Print(const nlohmann::json& value, const std::string& format, std::ostream& out);
// A message as proto3 JSON (camelCase names, defaults included) in `format`.
void PrintMessage(const google::protobuf::Message& message, const std::string& format,
                  std::ostream& out);
// A fixed-width table, kubectl style; the first row is the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out);

}  // namespace xgate::ctl
