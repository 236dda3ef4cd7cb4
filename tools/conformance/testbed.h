// The network namespaces a run plays in (README.md, "How a runner uses it", step 2):
//
//   client ns --veth-- node ns (agent) --bridge-- one ns per echo pod
//
// 198.18.0.0/24 on the client link (client .2, node .1), 198.18.16.0/20 on the bridge
// (node .1, pods from .2), and 198.18.100.0/24 (the Gateway addresses, E2) routed from the
// client to the node. Names carry the run's suffix; Teardown() removes everything made.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/conformance/client.h"

namespace xgate::conformance {

class TestBed {
 public:
  static absl::StatusOr<std::unique_ptr<TestBed>> Create(const std::string& suffix);
  ~TestBed();

  // A new pod namespace on the bridge; its address.
  absl::StatusOr<std::string> AddPod(std::string* netns);
  // Removes a pod namespace made by AddPod.
  void RemovePod(const std::string& netns);
  // Deletes every namespace made (their interfaces go with them).
  void Teardown();
  // Keeps everything when the object goes (--keep); prints what to delete by hand.
  std::vector<std::string> Release();

  // Sockets that live in the client namespace.
  SocketFactory ClientSockets() const;

  const std::string& client_ns() const { return client_ns_; }
  const std::string& node_ns() const { return node_ns_; }
  // The node's side of the client link: where the agent attaches.
  const std::string& node_uplink() const { return node_if_; }
  const std::string& bridge() const { return bridge_; }

 private:
  explicit TestBed(std::string suffix) : suffix_(std::move(suffix)) {}
  absl::Status Build();
  absl::Status AddNamespace(const std::string& name);

  std::string suffix_;
  std::string client_ns_, node_ns_, client_if_, node_if_, bridge_;
  std::vector<std::string> namespaces_;  // in creation order
  int next_pod_ = 0;
  int client_ns_fd_ = -1;
};

// Creates a socket from a thread that entered the namespace whose fd is `netns_fd`: the
// socket stays in that namespace whichever thread uses it later.
absl::StatusOr<int> SocketInNamespace(int netns_fd, int domain, int type);

}  // namespace xgate::conformance
