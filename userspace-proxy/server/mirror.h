// RequestMirror: a fire-and-forget copy of a request sent to another cluster; the response is
// read and dropped. To an HTTP/1.1 cluster the copy goes over its own connection
// ("Connection: close", the body chunked when its length is unknown); to an HTTP/2 cluster
// (h2c, or h2 over TLS: a GRPCRoute's mirror) as a stream on the pooled sessions. A mirror
// that falls behind (over UpstreamPool::high_water() buffered) is abandoned, never slowing
// the original request.
#pragma once

#include <string>
#include <vector>

#include "userspace-proxy/server/h2_upstream.h"
#include "userspace-proxy/server/upstream.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

class Mirror : public Connection, public UpstreamClient, public H2StreamClient {
 public:
  // `head`: the request as it goes to the backend (hop-by-hop fields removed);
  // `te_trailers`: the client asked for trailers (gRPC). nullptr when the cluster has no
  // endpoint to try.
  static Mirror* Start(Worker& worker, const std::string& cluster_name,
                       const ClusterEndpoints& cluster, const http::RequestHead& head,
                       bool has_body, bool te_trailers);
  ~Mirror() override;

  // Request body bytes, as the client sent them (not chunk-encoded).
  void Send(std::string_view bytes);
  // The request body ended, with these trailers.
  void End(const std::vector<http::Header>& trailers);
  // The request owner lets go; the mirror lives on until its exchange ends.
  void Detach();

  void OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) override;
  void OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) override;

  void OnH2ResponseHead(H2UpstreamStream&, http::ResponseHead&, bool) override {}
  void OnH2ResponseData(H2UpstreamStream&, std::string_view) override {}
  void OnH2ResponseEnd(H2UpstreamStream& stream, const std::vector<http::Header>&) override;
  void OnH2StreamFailed(H2UpstreamStream& stream, bool, std::string) override;

 private:
  explicit Mirror(Worker& worker) : worker_(worker) {}
  void Done();
  void MaybeDestroy();

  Worker& worker_;
  UpstreamConnection* upstream_ = nullptr;  // HTTP/1.1
  H2UpstreamStream* h2_ = nullptr;          // HTTP/2
  bool chunked_ = false;                    // HTTP/1.1 with a body of unknown length
  bool done_ = false;
  bool detached_ = false;
  EventLoop::TimerId timer_ = 0;
};

}  // namespace xgate::proxy
