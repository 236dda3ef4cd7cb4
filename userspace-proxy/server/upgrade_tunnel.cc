#include "userspace-proxy/server/upgrade_tunnel.h"

#include <sys/epoll.h>

#include "spdlog/spdlog.h"

namespace xgate::proxy {

UpgradeTunnel::UpgradeTunnel(Worker& worker, std::unique_ptr<Transport> downstream,
                             std::unique_ptr<TunnelPeer> upstream, std::string_view to_client,
                             std::string_view to_upstream, AccessLogEntry log)
    : worker_(worker),
      transport_(std::move(downstream)),
      upstream_(std::move(upstream)),
      idle_(worker.loop(), worker.options().idle_timeout, [this] { Close("idle timeout"); }),
      log_(std::move(log)) {
  out_.Append(to_client);
  if (!to_upstream.empty()) {
    log_.bytes_in += to_upstream.size();
    upstream_->Send(to_upstream);
  }
  worker_.stats().UpgradeOpened();
}

UpgradeTunnel::~UpgradeTunnel() {
  upstream_.reset();  // the backend's connection closed, or its stream reset
  worker_.loop().Remove(transport_->fd());
  worker_.stats().UpgradeClosed();
}

void UpgradeTunnel::Start() {
  worker_.loop().Add(transport_->fd(), [this](uint32_t events) { OnEvents(events); });
  upstream_->Start(this);
  idle_.Touch();
  Flush();
  if (!closed_) ReadClient();
}

void UpgradeTunnel::OnEvents(uint32_t events) {
  if (closed_) return;
  transport_->NoteEvents(events);
  if (events & EPOLLOUT) Flush();
  if (!closed_) ReadClient();
}

void UpgradeTunnel::ReadClient() {
  Buffer in;
  while (!closed_ && !client_eof_) {
    if (upstream_->pending() >= worker_.upstreams().high_water()) return;
    Transport::Io io = transport_->Read(in, 64 * 1024);
    if (!in.empty()) {
      log_.bytes_in += in.size();
      upstream_->Send(in.view());
      in.Clear();
      idle_.Touch();
    }
    if (io == Transport::Io::kWouldBlock || (io == Transport::Io::kOk && transport_->drained())) {
      return;
    }
    if (io == Transport::Io::kError) {
      Close("client reset");
      return;
    }
    if (io == Transport::Io::kEof) {
      client_eof_ = true;
      if (upstream_eof_) {
        Close("");
        return;
      }
      upstream_->EndSend();  // pass the half-close on
    }
  }
}

void UpgradeTunnel::OnPeerData(std::string_view data) {
  if (closed_) return;
  log_.bytes_out += data.size();
  out_.Append(data);
  idle_.Touch();
  Flush();
  if (!closed_ && out_.size() >= worker_.upstreams().high_water()) upstream_->PauseRead(true);
}

void UpgradeTunnel::OnPeerEnd(bool error) {
  if (closed_) return;
  if (error) {
    Close("upstream reset");
    return;
  }
  upstream_eof_ = true;
  Flush();
}

void UpgradeTunnel::Flush() {
  if (closed_) return;
  size_t before = out_.size();
  if (transport_->Write(out_) == Transport::Io::kError) {
    Close("client reset");
    return;
  }
  if (upstream_eof_ && out_.empty()) {
    if (client_eof_) {
      Close("");
      return;
    }
    if (!client_shut_) transport_->ShutdownWrite();  // the client may still send
    client_shut_ = true;
  }
  size_t cap = worker_.upstreams().high_water();
  if (before >= cap && out_.size() < cap) upstream_->PauseRead(false);
}

void UpgradeTunnel::Close(std::string error) {
  if (closed_) return;
  closed_ = true;
  log_.error = std::move(error);
  log_.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
  AccessLog::Write(log_);
  worker_.Close(this);
}

}  // namespace xgate::proxy
