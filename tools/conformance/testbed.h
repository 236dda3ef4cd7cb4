// The network namespaces a run plays in (README.md, "How a runner uses it", step 2):
//
//   client ns --veth-- node ns (agent) --veth per pod-- one ns per echo pod
//
// 198.18.0.0/24 on the client link (client .2, node .1), 198.19.N.0/24 on pod N's link
// (node .1, pod .2), and 198.18.100.0/24 (the Gateway addresses, E2) routed from the client
// to the node, which forwards. Pods are routed, not bridged, as a CNI would do it, so the
// kernel fast path can redirect to a pod's link; the client's and pods' ends send full
// checksums and carry an XDP_PASS program so they take redirected frames. Names carry the
// run's suffix; Teardown() removes everything made.
#pragma once

#include <map>
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

  // A new pod namespace, linked to the node by a veth of its own; its address.
  absl::StatusOr<std::string> AddPod(std::string* netns);
  // Removes a pod namespace made by AddPod.
  void RemovePod(const std::string& netns);
  // Stops the processes left in every namespace made, then deletes the namespaces (their
  // interfaces go with them).
  void Teardown();
  // Keeps everything when the object goes (--keep); prints what to delete by hand.
  std::vector<std::string> Release();

  // Sockets that live in the client namespace.
  SocketFactory ClientSockets() const;

  const std::string& client_ns() const { return client_ns_; }
  const std::string& node_ns() const { return node_ns_; }
  // The node's side of the client link: where the agent attaches.
  const std::string& node_uplink() const { return node_if_; }

 private:
  explicit TestBed(std::string suffix) : suffix_(std::move(suffix)) {}
  absl::Status Build();
  absl::Status AddNamespace(const std::string& name);

  std::string suffix_;
  std::string client_ns_, node_ns_, client_if_, node_if_;
  std::vector<std::string> namespaces_;   // in creation order
  std::map<int, std::string> pod_slots_;  // pod N's namespace, N numbering its subnet
  int client_ns_fd_ = -1;
};

// Stops every process left in `netns` (an agent's proxy keeps serving when the agent
// stops, by design): SIGTERM, then SIGKILL after a few seconds.
void StopNamespaceProcesses(const std::string& netns);

// Turns off transmit checksum offload on `ifname` in `netns` and gives it an XDP_PASS
// program (native mode), so frames the fast path redirects to it are taken.
absl::Status PrepareSender(const std::string& netns, const std::string& ifname);

// Creates a socket from a thread that entered the namespace whose fd is `netns_fd`: the
// socket stays in that namespace whichever thread uses it later.
absl::StatusOr<int> SocketInNamespace(int netns_fd, int domain, int type);

}  // namespace xgate::conformance
