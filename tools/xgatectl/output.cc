#include "tools/xgatectl/output.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <iomanip>

#include "agent/status/status.h"

namespace xgate::ctl {

constexpr auto kCallTimeout = std::chrono::seconds(30);

std::unique_ptr<api::Admin::Stub> Connect(const Args& args) {
  return api::Admin::NewStub(
      grpc::CreateChannel("unix:" + args.socket, grpc::InsecureChannelCredentials()));
}

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

int Failed(const Args& args, const grpc::Status& s, std::ostream& err) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    err << "xgatectl: cannot reach the agent at " << args.socket << ": " << s.error_message()
        << "\n";
  } else {
    err << "xgatectl: " << s.error_message() << "\n";
  }
  return 1;
}

void Print(const nlohmann::json& value, const std::string& format, std::ostream& out) {
  if (format == "yaml") {
    out << status::ToYaml(value);
  } else {
    out << value.dump(2) << "\n";
  }
}

void PrintMessage(const google::protobuf::Message& message, const std::string& format,
                  std::ostream& out) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &text, options);
  Print(nlohmann::json::parse(text), format, out);
}

void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      int w = i + 1 < row.size() ? static_cast<int>(width[i]) + 3 : 0;
      out << std::left << std::setw(w) << row[i];
    }
    out << "\n";
  }
}

}  // namespace xgate::ctl
