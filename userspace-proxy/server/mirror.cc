#include "userspace-proxy/server/mirror.h"

namespace xgate::proxy {

Mirror* Mirror::Start(Worker& worker, const std::string& cluster_name,
                      const ClusterEndpoints& cluster, std::string head_bytes) {
  Mirror* mirror = worker.Adopt(std::unique_ptr<Mirror>(new Mirror(worker)));
  std::string error;
  mirror->upstream_ =
      worker.upstreams().Acquire(cluster_name, cluster, {}, mirror, /*allow_reuse=*/false, &error);
  if (mirror->upstream_ == nullptr) {
    worker.Close(mirror);
    return nullptr;
  }
  mirror->upstream_->Send(head_bytes);
  return mirror;
}

Mirror::~Mirror() {
  worker_.loop().CancelTimer(timer_);
  if (upstream_) worker_.upstreams().Release(upstream_, false);
}

void Mirror::Send(std::string_view bytes) {
  if (done_ || !upstream_) return;
  if (upstream_->pending_output() > worker_.upstreams().high_water()) {
    Done();  // too slow: give up on the copy
    return;
  }
  upstream_->Send(bytes);
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

void Mirror::Done() {
  if (done_) return;
  done_ = true;
  if (upstream_) {
    worker_.upstreams().Release(upstream_, false);
    upstream_ = nullptr;
  }
  MaybeDestroy();
}

void Mirror::MaybeDestroy() {
  if (done_ && detached_) worker_.Close(this);
}

}  // namespace xgate::proxy
