#include "tests/proxy/h2_backend.h"

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace xgate::proxy::testing {
namespace {

int SelectH2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
             unsigned int inlen, void*) {
  unsigned char* chosen = nullptr;
  if (nghttp2_select_next_protocol(&chosen, outlen, in, inlen) != 1) return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

void SetReceiveTimeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

nghttp2_nv Nv(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

struct H2Backend::Connection {
  struct Stream {
    std::string path;
    std::string body;  // the answer
    size_t sent = 0;
  };
  H2Backend* backend = nullptr;
  int fd = -1;
  SSL* ssl = nullptr;
  nghttp2_session* session = nullptr;
  std::map<int32_t, Stream> streams;
  int requests = 0;
  int32_t first_stream = 0;
  bool holds = false;  // kGoaway before its GOAWAY: no answers on this connection
  bool close_now = false;

  ~Connection() {
    if (session) nghttp2_session_del(session);
    if (ssl) SSL_free(ssl);
  }

  bool Write(const uint8_t* data, size_t size) {
    while (size > 0) {
      ssize_t n =
          ssl ? SSL_write(ssl, data, static_cast<int>(size)) : send(fd, data, size, MSG_NOSIGNAL);
      if (n <= 0) return false;
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  // >0 bytes, 0 nothing yet (timeout), -1 closed or failed.
  ssize_t Read(uint8_t* buffer, size_t size) {
    if (ssl) {
      int n = SSL_read(ssl, buffer, static_cast<int>(size));
      if (n > 0) return n;
      int error = SSL_get_error(ssl, n);
      if (error == SSL_ERROR_WANT_READ ||
          (error == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
        ERR_clear_error();
        return 0;
      }
      return -1;
    }
    ssize_t n = recv(fd, buffer, size, 0);
    if (n > 0) return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    return -1;
  }

  void Answer(int32_t id) {
    auto it = streams.find(id);
    if (it == streams.end()) return;
    it->second.body = backend->name_ + " " + it->second.path;
    std::string status = "200", length = std::to_string(it->second.body.size());
    std::string s_status = ":status", s_backend = "x-backend", s_length = "content-length";
    nghttp2_nv nva[] = {Nv(s_status, status), Nv(s_backend, backend->name_), Nv(s_length, length)};
    nghttp2_data_provider provider{};
    provider.source.ptr = &it->second;
    provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                uint32_t* flags, nghttp2_data_source* source, void*) -> ssize_t {
      auto* stream = static_cast<Stream*>(source->ptr);
      size_t n = std::min(length, stream->body.size() - stream->sent);
      std::memcpy(buf, stream->body.data() + stream->sent, n);
      stream->sent += n;
      if (stream->sent == stream->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    nghttp2_submit_response(session, id, nva, std::size(nva), &provider);
    ++backend->served_;
    std::lock_guard lock(backend->mutex_);
    backend->served_paths_.push_back(it->second.path);
  }

  // The request's HEADERS: what the behaviour does with it. False: not to be answered.
  bool OnRequest(int32_t id) {
    ++backend->headers_seen_;
    ++requests;
    if (first_stream == 0) first_stream = id;
    switch (backend->behavior_.load()) {
      case Behavior::kServe:
      case Behavior::kZeroWindow:
        return true;
      case Behavior::kZeroWindowAnswerFirst: {
        std::string s_status = ":status", status = "200", s_backend = "x-backend";
        nghttp2_nv nva[] = {Nv(s_status, status), Nv(s_backend, backend->name_)};
        nghttp2_submit_headers(session, NGHTTP2_FLAG_NONE, id, nullptr, nva, std::size(nva),
                               nullptr);
        return true;
      }
      case Behavior::kCloseAfterHeaders:
        if (backend->times_ <= 0) return true;
        close_now = requests >= backend->close_after_;
        if (close_now) --backend->times_;
        return false;
      case Behavior::kRefuse:
        if (backend->times_.fetch_sub(1) > 0) {
          nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
          return false;
        }
        return true;
      case Behavior::kGoaway:
        if (!holds) return true;
        if (requests >= backend->goaway_streams_) {
          backend->goaway_sent_ = true;
          nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, first_stream, NGHTTP2_NO_ERROR, nullptr,
                                0);
          close_now = true;  // after the GOAWAY is written
        }
        return false;
    }
    return true;
  }
};

H2Backend::H2Backend(std::string name, const Pem* tls) : name_(std::move(name)) {
  if (tls != nullptr) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    UsePem(ctx_, *tls);
    SSL_CTX_set_alpn_select_cb(ctx_, SelectH2, nullptr);
  }
  listen_fd_ = ListenLoopback(&port_);
  if (listen_fd_ < 0) return;
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

H2Backend::~H2Backend() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
  }
  for (auto& thread : threads_) thread.join();
  close(listen_fd_);
  if (ctx_) SSL_CTX_free(ctx_);
}

std::vector<std::string> H2Backend::served_paths() {
  std::lock_guard lock(mutex_);
  return served_paths_;
}

void H2Backend::AcceptLoop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    ++connections_;
    std::lock_guard lock(mutex_);
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void H2Backend::Serve(int fd) {
  {
    Connection c;
    Run(c, fd);
  }
  std::lock_guard lock(mutex_);
  std::erase(open_fds_, fd);
  close(fd);
}

void H2Backend::Run(Connection& c, int fd) {
  c.backend = this;
  c.fd = fd;
  c.holds = behavior_ == Behavior::kGoaway && !goaway_sent_;
  SetReceiveTimeout(fd, std::chrono::seconds(5));
  if (ctx_ != nullptr) {
    c.ssl = SSL_new(ctx_);
    SSL_set_fd(c.ssl, fd);
    if (SSL_accept(c.ssl) != 1) return;
  }
  SetReceiveTimeout(fd, std::chrono::milliseconds(100));

  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(
      callbacks, [](nghttp2_session*, const nghttp2_frame* frame, void* user) {
        static_cast<Connection*>(user)->streams[frame->hd.stream_id];
        return 0;
      });
  nghttp2_session_callbacks_set_on_header_callback(
      callbacks, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                    size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
        auto* c = static_cast<Connection*>(user);
        if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":path") {
          c->streams[frame->hd.stream_id].path.assign(reinterpret_cast<const char*>(value),
                                                      valuelen);
        }
        return 0;
      });
  nghttp2_session_callbacks_set_on_frame_recv_callback(
      callbacks, [](nghttp2_session*, const nghttp2_frame* frame, void* user) {
        auto* c = static_cast<Connection*>(user);
        int32_t id = frame->hd.stream_id;
        if (!c->streams.contains(id)) return 0;
        if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
            !c->OnRequest(id)) {
          c->streams.erase(id);
          return 0;
        }
        bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        if (frame->hd.type == NGHTTP2_DATA) {
          ++c->backend->data_frames_;
          if (frame->hd.length == 0 && end) ++c->backend->empty_end_stream_frames_;
        }
        if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end) {
          c->Answer(id);
        }
        return 0;
      });
  nghttp2_session_callbacks_set_on_stream_close_callback(
      callbacks, [](nghttp2_session*, int32_t id, uint32_t, void* user) {
        static_cast<Connection*>(user)->streams.erase(id);
        return 0;
      });
  nghttp2_option* option;
  nghttp2_option_new(&option);
  bool zero_window =
      behavior_ == Behavior::kZeroWindow || behavior_ == Behavior::kZeroWindowAnswerFirst;
  if (zero_window) nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_session_server_new2(&c.session, callbacks, &c, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}};
  nghttp2_submit_settings(c.session, NGHTTP2_FLAG_NONE, settings, zero_window ? 2 : 1);

  uint8_t buffer[16384];
  while (!stopping_) {
    while (nghttp2_session_want_write(c.session)) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(c.session, &data);
      if (n <= 0 || !c.Write(data, static_cast<size_t>(n))) break;
    }
    if (c.close_now) break;
    if (!nghttp2_session_want_read(c.session) && !nghttp2_session_want_write(c.session)) break;
    ssize_t n = c.Read(buffer, sizeof(buffer));
    if (n < 0) break;
    if (n == 0) continue;
    if (nghttp2_session_mem_recv(c.session, buffer, static_cast<size_t>(n)) < 0) break;
  }
}

}  // namespace xgate::proxy::testing
