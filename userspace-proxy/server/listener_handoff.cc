#include "userspace-proxy/server/listener_handoff.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "api/fd_passing.h"
#include "api/proxy.pb.h"

namespace xgate::proxy {
namespace {

constexpr int kTimeoutMs = 1000;

// A connected socket, closed on scope exit.
struct Connection {
  int fd;
  ~Connection() { close(fd); }
};

}  // namespace

absl::StatusOr<std::vector<HandedGroup>> TakeListeners(const std::string& store_path) {
  std::error_code ec;
  if (!std::filesystem::is_socket(store_path, ec)) return std::vector<HandedGroup>{};
  auto fd = fdpass::Connect(store_path, kTimeoutMs);
  if (!fd.ok()) return fd.status();
  Connection connection{*fd};
  if (auto sent = fdpass::Send(connection.fd, std::string(1, fdpass::kTake), {}); !sent.ok()) {
    return sent;
  }
  auto reply = fdpass::Receive(connection.fd);
  if (!reply.ok()) return reply.status();
  std::vector<int>& fds = reply->fds;
  api::ListenHandoff handoff;
  size_t wanted = 0;
  bool parsed =
      !reply->bytes.empty() && reply->bytes[0] == fdpass::kAck &&
      handoff.ParseFromArray(reply->bytes.data() + 1, static_cast<int>(reply->bytes.size() - 1));
  for (const auto& group : handoff.groups()) wanted += group.fds();
  if (!parsed || wanted != fds.size()) {
    for (int received : fds) close(received);
    return absl::DataLossError(
        absl::StrCat(store_path, ": malformed answer (", fds.size(), " sockets for ", wanted, ")"));
  }
  std::vector<HandedGroup> groups;
  size_t next = 0;
  for (const auto& group : handoff.groups()) {
    HandedGroup handed{group.steered(), group.address(), static_cast<uint16_t>(group.port()),
                       std::make_shared<ListenGroup>()};
    handed.group->name = "inherited";
    handed.group->fds.assign(fds.begin() + next, fds.begin() + next + group.fds());
    next += group.fds();
    groups.push_back(std::move(handed));
  }
  return groups;
}

absl::Status PutListeners(const std::string& store_path, const std::vector<HandedGroup>& groups) {
  api::ListenHandoff handoff;
  std::vector<int> fds;
  for (const HandedGroup& handed : groups) {
    api::ListenHandoffGroup* group = handoff.add_groups();
    group->set_steered(handed.steered);
    group->set_address(handed.address);
    group->set_port(handed.port);
    group->set_fds(static_cast<uint32_t>(handed.group->fds.size()));
    fds.insert(fds.end(), handed.group->fds.begin(), handed.group->fds.end());
  }
  auto fd = fdpass::Connect(store_path, kTimeoutMs);
  if (!fd.ok()) return fd.status();
  Connection connection{*fd};
  std::string bytes(1, fdpass::kPut);
  bytes += handoff.SerializeAsString();
  if (auto sent = fdpass::Send(connection.fd, bytes, fds); !sent.ok()) return sent;
  auto reply = fdpass::Receive(connection.fd);
  if (!reply.ok()) return reply.status();
  for (int received : reply->fds) close(received);
  if (reply->bytes != std::string(1, fdpass::kAck)) {
    return absl::UnavailableError(store_path + ": the agent did not take the listeners");
  }
  return absl::OkStatus();
}

}  // namespace xgate::proxy
