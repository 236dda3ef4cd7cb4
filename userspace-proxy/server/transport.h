// A connected non-blocking socket, plain or TLS (OpenSSL over the fd).
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <string_view>

#include "userspace-proxy/server/buffer.h"
#include "userspace-proxy/server/stats.h"

namespace xgate::proxy {

class Transport {
 public:
  enum class Io { kOk, kWouldBlock, kEof, kError };

  explicit Transport(int fd, SSL* ssl = nullptr);  // takes ownership of both
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  int fd() const { return fd_; }
  SSL* ssl() const { return ssl_; }
  bool handshake_done() const { return handshake_done_; }

  // A downstream connection's open gauge, lowered when the socket closes.
  void CountOpenIn(stats::Gauge* open) { open_gauge_ = open; }

  // TLS server handshake step (kOk at once for plain sockets). After kError (or kEof: the
  // client closed) handshake_failure() says why.
  Io Handshake();
  stats::TlsFailure handshake_failure() const { return handshake_failure_; }
  // Reads what is available (up to `max` bytes) into `into`.
  Io Read(Buffer& into, size_t max);
  // Whether the last Read stopped because the socket had nothing more for now (it returned
  // kWouldBlock, or kOk after data): reading again before the next event is a wasted call.
  bool drained() const { return drained_; }
  // An edge-triggered owner passes every event mask here. Then a plain-socket read that
  // returns less than asked counts as drained, without one more recv to see EAGAIN: new
  // bytes bring a new event. Once the peer's hang-up was reported, reads go on to EOF.
  void NoteEvents(uint32_t events);
  // Writes as much of `from` as the socket takes and consumes it.
  Io Write(Buffer& from);
  // Half-close the write side (after a TLS close_notify).
  void ShutdownWrite();

  // The methods of the socket BIO under a TLS transport (for its BIO_METHOD table).
  static int BioRead(BIO* bio, char* out, int len);
  static int BioWrite(BIO* bio, const char* in, int len);
  static long BioCtrl(BIO* bio, int cmd, long num, void* ptr);

 private:
  int fd_;
  SSL* ssl_;
  bool handshake_done_;
  bool drained_ = false;
  bool short_read_drains_ = false;
  bool peer_hup_seen_ = false;
  // A recv under SSL_read in the current Read call returned less than asked: the socket
  // was empty then, as after a short plain read.
  bool raw_read_short_ = false;
  stats::Gauge* open_gauge_ = nullptr;
  stats::TlsFailure handshake_failure_ = stats::TlsFailure::kOther;
};

}  // namespace xgate::proxy
