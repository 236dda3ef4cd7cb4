#include "userspace-proxy/server/mirror.h"

#include "userspace-proxy/http/serializer.h"

namespace xgate::proxy {

Mirror* Mirror::Start(Worker& worker, const std::string& cluster_name,
                      const ClusterEndpoints& cluster, const http::RequestHead& head, bool has_body,
                      bool te_trailers) {
  Mirror* mirror = worker.Adopt(std::unique_ptr<Mirror>(new Mirror(worker)));
  std::string error;
  if (cluster.h2c) {
    H2RequestStart start;
    start.head = &head;
    start.te_trailers = te_trailers;
    start.has_body = has_body;
    mirror->h2_ = worker.upstreams().h2().Open(cluster_name, cluster, {}, start, mirror, &error,
                                               /*skip_ejected=*/false);
    if (mirror->h2_ == nullptr) {
      worker.Close(mirror);
      return nullptr;
    }
    return mirror;
  }
  mirror->upstream_ =
      worker.upstreams().Acquire(cluster_name, cluster, {}, mirror, /*allow_reuse=*/false, &error);
  if (mirror->upstream_ == nullptr) {
    worker.Close(mirror);
    return nullptr;
  }
  http::RequestHead copy = head;
  copy.headers.Set("Connection", "close");
  copy.headers.Remove("Transfer-Encoding");
  mirror->chunked_ = has_body && !copy.headers.Get("Content-Length");
  if (mirror->chunked_) copy.headers.Set("Transfer-Encoding", "chunked");
  std::string bytes;
  http::AppendRequestHead(copy, &bytes);
  mirror->upstream_->Send(bytes);
  return mirror;
}

Mirror::~Mirror() {
  worker_.loop().CancelTimer(timer_);
  if (upstream_) worker_.upstreams().Release(upstream_, false);
  if (h2_) h2_->Cancel();
}

void Mirror::Send(std::string_view bytes) {
  if (done_ || bytes.empty()) return;
  size_t pending = upstream_ ? upstream_->pending_output() : h2_ ? h2_->pending_request() : 0;
  if (pending > worker_.upstreams().high_water()) {
    Done();  // too slow: give up on the copy
    return;
  }
  if (h2_) {
    h2_->SendData(bytes);
  } else if (upstream_ && chunked_) {
    std::string chunk;
    http::AppendChunk(bytes, &chunk);
    upstream_->Send(chunk);
  } else if (upstream_) {
    upstream_->Send(bytes);
  }
}

void Mirror::End(const std::vector<http::Header>& trailers) {
  if (done_) return;
  if (h2_) {
    h2_->EndRequest(trailers);
  } else if (upstream_ && chunked_) {
    std::string last;
    http::AppendLastChunk(trailers, &last);
    upstream_->Send(last);
  }
}

void Mirror::Detach() {
  detached_ = true;
  // A mirror upstream that never answers must not live forever.
  if (!done_)
    timer_ = worker_.loop().AddTimer(std::chrono::seconds(30), [this] {
      timer_ = 0;
      Done();
    });
  MaybeDestroy();
}

void Mirror::OnUpstreamConnectFailed(UpstreamConnection&, bool) {
  upstream_ = nullptr;  // closed by the pool
  Done();
}

void Mirror::OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool) {
  upstream.input().Clear();
  if (eof) Done();
}

void Mirror::OnH2ResponseEnd(H2UpstreamStream&, const std::vector<http::Header>&) {
  h2_ = nullptr;  // gone after this call
  Done();
}

void Mirror::OnH2StreamFailed(H2UpstreamStream&, bool, std::string) {
  h2_ = nullptr;
  Done();
}

void Mirror::Done() {
  if (done_) return;
  done_ = true;
  if (upstream_) {
    worker_.upstreams().Release(upstream_, false);
    upstream_ = nullptr;
  }
  if (h2_) {
    h2_->Cancel();
    h2_ = nullptr;
  }
  MaybeDestroy();
}

void Mirror::MaybeDestroy() {
  if (done_ && detached_) worker_.Close(this);
}

}  // namespace xgate::proxy
