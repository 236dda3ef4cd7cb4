#include "userspace-proxy/server/passthrough_connection.h"

#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "spdlog/spdlog.h"

namespace xgate::proxy {
namespace {

constexpr size_t kMaxClientHello = 16 * 1024 + 5;
constexpr int kMaxConnectAttempts = 3;

struct PeekState {
  bool seen = false;
  std::string sni;
};

int g_peek_index = -1;

// Records the server_name and stops the handshake: we only wanted the ClientHello parsed.
int OnClientHello(SSL* ssl, int* alert, void*) {
  auto* state = static_cast<PeekState*>(SSL_get_ex_data(ssl, g_peek_index));
  state->seen = true;
  const unsigned char* data = nullptr;
  size_t length = 0;
  // server_name extension: list length (2), then entries of type (1), length (2), name.
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &data, &length) == 1 && length >= 5) {
    size_t pos = 2;
    while (pos + 3 <= length) {
      unsigned type = data[pos];
      size_t name_length = (size_t{data[pos + 1]} << 8) | data[pos + 2];
      pos += 3;
      if (pos + name_length > length) break;
      if (type == TLSEXT_NAMETYPE_host_name) {
        state->sni.assign(reinterpret_cast<const char*>(data + pos), name_length);
        break;
      }
      pos += name_length;
    }
  }
  *alert = SSL_AD_INTERNAL_ERROR;
  return SSL_CLIENT_HELLO_ERROR;
}

SSL_CTX* PeekContext() {
  static SSL_CTX* ctx = [] {
    g_peek_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    SSL_CTX* c = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_client_hello_cb(c, OnClientHello, nullptr);
    return c;
  }();
  return ctx;
}

}  // namespace

SniPeek PeekSni(std::string_view bytes, std::string* sni) {
  if (!bytes.empty() && bytes[0] != 0x16) return SniPeek::kNotTls;  // not a handshake record
  SSL_CTX* ctx = PeekContext();
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx), SSL_free);
  PeekState state;
  SSL_set_ex_data(ssl.get(), g_peek_index, &state);
  BIO* in = BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size()));
  BIO_set_mem_eof_return(in, -1);  // "no more yet" rather than EOF
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);
  SSL_set_accept_state(ssl.get());
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl.get());
  int error = SSL_get_error(ssl.get(), rc);
  ERR_clear_error();
  if (state.seen) {
    *sni = std::move(state.sni);
    return SniPeek::kFound;
  }
  if (error == SSL_ERROR_WANT_READ && bytes.size() < kMaxClientHello) return SniPeek::kNeedMore;
  return SniPeek::kNotTls;
}

PassthroughConnection::PassthroughConnection(Worker& worker, int fd, SocketAddress local,
                                             SocketAddress peer,
                                             std::shared_ptr<const Config> config,
                                             stats::Gauge* open)
    : worker_(worker), transport_(fd), local_(local), peer_(peer), config_(std::move(config)) {
  transport_.CountOpenIn(open);
  log_.client = peer_.ToString();
  log_.protocol = "TLS";
}

PassthroughConnection::~PassthroughConnection() {
  worker_.loop().CancelTimer(timer_);
  if (upstream_) worker_.upstreams().Release(upstream_, false);
  worker_.loop().Remove(transport_.fd());
}

void PassthroughConnection::Start() {
  worker_.loop().Add(transport_.fd(), [this](uint32_t events) { OnEvents(events); });
  timer_ = worker_.loop().AddTimer(worker_.options().header_timeout, [this] {
    timer_ = 0;
    if (!routed_) Close("ClientHello timeout");
  });
}

void PassthroughConnection::OnEvents(uint32_t events) {
  if (closed_) return;
  if (events & EPOLLOUT) Flush();
  if (!closed_) ReadClient();
}

void PassthroughConnection::ReadClient() {
  while (!closed_ && !client_eof_) {
    if (upstream_ && upstream_->pending_output() >= worker_.upstreams().high_water()) return;
    if (!routed_ && in_.size() >= kMaxClientHello) break;
    Transport::Io io = transport_.Read(in_, 64 * 1024);
    if (io == Transport::Io::kWouldBlock) break;
    if (io == Transport::Io::kError) {
      Close("client reset");
      return;
    }
    if (io == Transport::Io::kEof) {
      client_eof_ = true;
      if (!routed_) {
        Close("client closed before ClientHello");
        return;
      }
    }
    if (routed_ && upstream_) {
      log_.bytes_in += in_.size();
      upstream_->Send(in_.view());
      in_.Clear();
    }
  }
  if (!routed_) {
    Route();
    return;
  }
  if (client_eof_ && upstream_) upstream_->ShutdownWriteWhenFlushed();  // pass the half-close on
}

void PassthroughConnection::Route() {
  std::string sni;
  switch (PeekSni(in_.view(), &sni)) {
    case SniPeek::kNeedMore:
      return;
    case SniPeek::kNotTls:
      Close("not a TLS ClientHello");
      return;
    case SniPeek::kFound:
      break;
  }
  sni = routing::NormalizeHost(sni);
  log_.authority = sni;
  const routing::RouteTable& table = config_->table();
  const routing::CompiledPort* port = table.FindPort(local_.Ip(), local_.Port());
  const routing::CompiledListener* listener = port ? table.FindListener(*port, sni) : nullptr;
  const routing::CompiledRoute* route = nullptr;
  if (listener) {
    for (const auto& vhost : listener->vhosts) {
      if (!routing::HostnameMatches(vhost->proto.hostname(), sni) || vhost->routes.empty()) {
        continue;
      }
      route = &vhost->routes.front();
      break;
    }
  }
  if (route == nullptr) {
    Close("no TLSRoute for SNI \"" + sni + "\"");
    return;
  }
  log_.route = route->route->route_namespace() + "/" + route->route->route_name();
  log_.rule_index = static_cast<int>(route->route->rule_index());
  const api::WeightedCluster* backend = routing::PickBackend(*route, worker_.rng());
  if (backend == nullptr || backend->cluster().empty()) {
    Close("no valid backend");
    return;
  }
  cluster_ = backend->cluster();
  log_.cluster = cluster_;
  endpoints_ = config_->cluster(cluster_);
  if (endpoints_ == nullptr) {
    Close("unknown cluster");
    return;
  }
  routed_ = true;
  worker_.loop().CancelTimer(timer_);
  timer_ = 0;
  std::string error;
  upstream_ = worker_.upstreams().Acquire(cluster_, *endpoints_, tried_, this, false, &error);
  if (!upstream_) {
    Close("upstream: " + error);
    return;
  }
  tried_.push_back(upstream_->endpoint());
  log_.endpoint = upstream_->endpoint();
  log_.bytes_in += in_.size();
  upstream_->Send(in_.view());
  in_.Clear();
  ReadClient();
}

void PassthroughConnection::OnUpstreamConnected(UpstreamConnection&) {
  log_.upstream_duration_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
}

void PassthroughConnection::OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) {
  std::string pending = upstream.TakeUnsent();
  upstream_ = nullptr;
  if (static_cast<int>(tried_.size()) < kMaxConnectAttempts) {
    std::string error;
    upstream_ = worker_.upstreams().Acquire(cluster_, *endpoints_, tried_, this, false, &error);
    if (upstream_) {
      tried_.push_back(upstream_->endpoint());
      log_.endpoint = upstream_->endpoint();
      upstream_->Send(pending);
      return;
    }
  }
  Close(timed_out ? "upstream connect timeout" : "upstream connect failed");
}

void PassthroughConnection::OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) {
  log_.bytes_out += upstream.input().size();
  out_.Append(upstream.input().view());
  upstream.input().Clear();
  Flush();
  if (closed_) return;
  if (eof) {
    upstream_eof_ = true;
    if (out_.empty()) Close(error ? "upstream reset" : "");
    return;
  }
  if (out_.size() >= worker_.upstreams().high_water()) upstream.SetReadPaused(true);
}

void PassthroughConnection::OnUpstreamDrained(UpstreamConnection&) { ReadClient(); }

void PassthroughConnection::Flush() {
  size_t before = out_.size();
  if (transport_.Write(out_) == Transport::Io::kError) {
    Close("client reset");
    return;
  }
  if (upstream_eof_ && out_.empty()) {
    Close("");
    return;
  }
  if (before >= worker_.upstreams().high_water() &&
      out_.size() < worker_.upstreams().high_water() && upstream_) {
    upstream_->SetReadPaused(false);
  }
}

void PassthroughConnection::Close(std::string error) {
  if (closed_) return;
  closed_ = true;
  log_.error = std::move(error);
  log_.status = log_.error.empty() ? 200 : 0;
  log_.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
  AccessLog::Write(log_);
  worker_.Close(this);
}

}  // namespace xgate::proxy
