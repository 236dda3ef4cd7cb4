#include "userspace-proxy/server/transport.h"

#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace xgate::proxy {
namespace {

// SSL_get_error needs an empty error queue before each I/O call. Every failure path here
// clears what it leaves, so the queue is normally empty already: peeking is much cheaper
// than clearing (a measurable share of each request otherwise).
void EnsureNoTlsErrors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

}  // namespace

Transport::Transport(int fd, SSL* ssl) : fd_(fd), ssl_(ssl), handshake_done_(ssl == nullptr) {
  if (BIO* rbio = ssl_ ? SSL_get_rbio(ssl_) : nullptr) {
    BIO_set_callback_ex(rbio, &Transport::NoteRawRead);
    BIO_set_callback_arg(rbio, reinterpret_cast<char*>(this));
  }
}

long Transport::NoteRawRead(BIO* bio, int oper, const char*, size_t len, int, long, int ret,
                            size_t* processed) {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* transport = reinterpret_cast<Transport*>(BIO_get_callback_arg(bio));
    transport->raw_read_short_ = ret > 0 && processed != nullptr && *processed < len;
  }
  return ret;
}

Transport::~Transport() {
  if (ssl_) SSL_free(ssl_);
  if (fd_ >= 0) close(fd_);
  if (open_gauge_) open_gauge_->Add(-1);
}

Transport::Io Transport::Handshake() {
  if (handshake_done_) return Io::kOk;
  EnsureNoTlsErrors();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshake_done_ = true;
    return Io::kOk;
  }
  int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Io::kWouldBlock;
  handshake_failure_ =
      stats::ClassifyTlsFailure(error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN);
  return Io::kError;
}

Transport::Io Transport::Read(Buffer& into, size_t max) {
  // Read into a stack chunk and append what came: growing the buffer by a whole chunk
  // first would zero-fill 16 KiB for every (usually small) read.
  char chunk_buffer[16 * 1024];
  size_t total = 0;
  drained_ = false;
  raw_read_short_ = false;
  while (total < max) {
    size_t chunk = std::min<size_t>(max - total, sizeof(chunk_buffer));
    ssize_t n;
    if (ssl_) {
      EnsureNoTlsErrors();
      n = SSL_read(ssl_, chunk_buffer, static_cast<int>(chunk));
      if (n <= 0) {
        int error = SSL_get_error(ssl_, static_cast<int>(n));
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
          drained_ = error == SSL_ERROR_WANT_READ;
          return total ? Io::kOk : Io::kWouldBlock;
        }
        if (error == SSL_ERROR_ZERO_RETURN) return total ? Io::kOk : Io::kEof;
        ERR_clear_error();
        return total ? Io::kOk : Io::kError;
      }
    } else {
      n = recv(fd_, chunk_buffer, chunk, 0);
      if (n <= 0) {
        if (n == 0) return total ? Io::kOk : Io::kEof;
        if (errno == EAGAIN || errno == EINTR) {
          drained_ = errno == EAGAIN;
          return total ? Io::kOk : Io::kWouldBlock;
        }
        return total ? Io::kOk : Io::kError;
      }
    }
    into.Append(std::string_view(chunk_buffer, static_cast<size_t>(n)));
    total += static_cast<size_t>(n);
    // Drained without the extra recv that would see EAGAIN: a short plain read, or TLS whose
    // last recv was short with nothing left in OpenSSL's buffer (read-ahead holds raw bytes).
    bool short_read =
        ssl_ ? raw_read_short_ && !SSL_has_pending(ssl_) : static_cast<size_t>(n) < chunk;
    if (short_read_drains_ && short_read) {
      drained_ = true;
      return Io::kOk;
    }
  }
  return Io::kOk;  // `max` reached: the caller decides whether to read on
}

void Transport::NoteEvents(uint32_t events) {
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) peer_hup_seen_ = true;
  short_read_drains_ = !peer_hup_seen_;
}

Transport::Io Transport::Write(Buffer& from) {
  while (!from.empty()) {
    std::string_view bytes = from.view();
    ssize_t n;
    if (ssl_) {
      EnsureNoTlsErrors();
      n = SSL_write(ssl_, bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), 1 << 30)));
      if (n <= 0) {
        int error = SSL_get_error(ssl_, static_cast<int>(n));
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Io::kWouldBlock;
        ERR_clear_error();
        return Io::kError;
      }
    } else {
      n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return Io::kWouldBlock;
        return Io::kError;
      }
    }
    from.Consume(static_cast<size_t>(n));
  }
  return Io::kOk;
}

void Transport::ShutdownWrite() {
  if (ssl_ && handshake_done_) SSL_shutdown(ssl_);
  shutdown(fd_, SHUT_WR);
}

}  // namespace xgate::proxy
