#include "userspace-proxy/server/transport.h"

#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

// recv(2) and send(2) as bare system calls. glibc's wrappers are cancellation points: in a
// process with more than one thread each call enables and disables asynchronous
// cancellation around the syscall, two atomic compare-and-swaps and ~60 instructions per
// call, four calls per proxied request. The proxy never cancels a thread, so the wrapper
// buys nothing; syscall(2) is no cancellation point and sets errno the same way.
ssize_t SocketRecv(int fd, void* out, size_t len) {
  return syscall(SYS_recvfrom, fd, out, len, 0, nullptr, nullptr);
}

ssize_t SocketSend(int fd, const void* in, size_t len) {
  return syscall(SYS_sendto, fd, in, len, MSG_NOSIGNAL, nullptr, 0);
}

// Why SSL_read or SSL_write returned `rc` <= 0. Their queue is not emptied before each call
// (ERR_peek_error costs ~200 instructions of OpenSSL's thread-state lookup, twice per
// request): it is emptied here, after a failure, and what SSL_get_error then reads from the
// connection's state is what it would have read with an empty queue before the call, so an
// error an earlier call left on this thread cannot turn a retry or the peer's close_notify
// into a failure. A failure of this call reads as SSL_ERROR_SYSCALL rather than
// SSL_ERROR_SSL; both are errors to the callers.
int TlsIoError(SSL* ssl, int rc) {
  ERR_clear_error();
  return SSL_get_error(ssl, rc);
}

// A socket BIO of the proxy's own in place of OpenSSL's: the same reads and writes
// (sock_read/sock_write semantics), but it notes short reads itself. A callback on OpenSSL's
// socket BIO did that before and ran around each of the dozen BIO_ctrl calls libssl makes
// per request, costing more than the reads themselves.
BIO_METHOD* SocketBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "xgate socket");
    BIO_meth_set_read(m, &Transport::BioRead);
    BIO_meth_set_write(m, &Transport::BioWrite);
    BIO_meth_set_ctrl(m, &Transport::BioCtrl);
    return m;
  }();
  return method;
}

}  // namespace

Transport::Transport(int fd, SSL* ssl) : fd_(fd), ssl_(ssl), handshake_done_(ssl == nullptr) {
  if (ssl_ == nullptr) return;
  BIO* bio = BIO_new(SocketBioMethod());
  BIO_set_data(bio, this);
  BIO_set_shutdown(bio, BIO_NOCLOSE);  // the fd is this Transport's to close
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // frees the BIO SSL_set_fd made; one reference for both
}

int Transport::BioRead(BIO* bio, char* out, int len) {
  if (out == nullptr) return 0;
  auto* transport = static_cast<Transport*>(BIO_get_data(bio));
  ssize_t n = SocketRecv(transport->fd_, out, static_cast<size_t>(len));
  BIO_clear_retry_flags(bio);
  if (n > 0) {
    transport->raw_read_short_ = n < len;
    return static_cast<int>(n);
  }
  transport->raw_read_short_ = false;
  if (n == 0) {
    BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
  } else if (BIO_sock_non_fatal_error(errno)) {
    BIO_set_retry_read(bio);
  }
  return static_cast<int>(n);
}

int Transport::BioWrite(BIO* bio, const char* in, int len) {
  auto* transport = static_cast<Transport*>(BIO_get_data(bio));
  ssize_t n = SocketSend(transport->fd_, in, static_cast<size_t>(len));
  BIO_clear_retry_flags(bio);
  if (n <= 0 && BIO_sock_non_fatal_error(errno)) BIO_set_retry_write(bio);
  return static_cast<int>(n);
}

long Transport::BioCtrl(BIO* bio, int cmd, long num, void* ptr) {
  switch (cmd) {
    case BIO_C_GET_FD: {
      int fd = static_cast<Transport*>(BIO_get_data(bio))->fd_;
      if (ptr != nullptr) *static_cast<int*>(ptr) = fd;
      return fd;
    }
    case BIO_CTRL_EOF:
      return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0;
    case BIO_CTRL_GET_CLOSE:
      return BIO_get_shutdown(bio);
    case BIO_CTRL_SET_CLOSE:
      BIO_set_shutdown(bio, static_cast<int>(num));
      return 1;
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
      return 1;
    default:
      return 0;  // kTLS queries and the rest: what OpenSSL's socket BIO answers without kTLS
  }
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
      n = SSL_read(ssl_, chunk_buffer, static_cast<int>(chunk));
      if (n <= 0) {
        int error = TlsIoError(ssl_, static_cast<int>(n));
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
          drained_ = error == SSL_ERROR_WANT_READ;
          return total ? Io::kOk : Io::kWouldBlock;
        }
        if (error == SSL_ERROR_ZERO_RETURN) return total ? Io::kOk : Io::kEof;
        return total ? Io::kOk : Io::kError;
      }
    } else {
      n = SocketRecv(fd_, chunk_buffer, chunk);
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
      n = SSL_write(ssl_, bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), 1 << 30)));
      if (n <= 0) {
        int error = TlsIoError(ssl_, static_cast<int>(n));
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Io::kWouldBlock;
        return Io::kError;
      }
    } else {
      n = SocketSend(fd_, bytes.data(), bytes.size());
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
