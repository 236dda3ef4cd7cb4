// RequestMirror: a fire-and-forget copy of a request sent to another cluster over its own
// connection ("Connection: close"); the response is read and dropped. A mirror that falls
// behind (its buffer over UpstreamPool::kHighWater) is abandoned, never slowing the
// original request.
#pragma once

#include <string>

#include "userspace-proxy/server/upstream.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

class Mirror : public Connection, public UpstreamClient {
 public:
  // nullptr when the cluster has no endpoint to try.
  static Mirror* Start(Worker& worker, const std::string& cluster_name,
                       const ClusterEndpoints& cluster, std::string head_bytes);
  ~Mirror() override;

  void Send(std::string_view bytes);
  // The request owner lets go; the mirror lives on until its exchange ends.
  void Detach();

  void OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) override;
  void OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) override;

 private:
  explicit Mirror(Worker& worker) : worker_(worker) {}
  void Done();
  void MaybeDestroy();

  Worker& worker_;
  UpstreamConnection* upstream_ = nullptr;
  bool done_ = false;
  bool detached_ = false;
  EventLoop::TimerId timer_ = 0;
};

}  // namespace xgate::proxy
