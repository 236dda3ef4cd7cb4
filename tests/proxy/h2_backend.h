// An HTTP/2 backend for the upstream failure tests: an nghttp2 server on loopback, h2c with
// prior knowledge or h2 over TLS (ALPN), that answers every request "200 NAME PATH" (header
// x-backend: NAME) once its request ended, or misbehaves the way the test asks. One thread
// per connection; the test's threads only set the behaviour and read the counts.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/proxy/hostile.h"

namespace xgate::proxy::testing {

class H2Backend {
 public:
  enum class Behavior {
    kServe,
    // The TCP connection is closed as soon as its `close_after`th request's HEADERS are read
    // (the ones before are held): nothing answered.
    kCloseAfterHeaders,
    // A request's stream is reset with REFUSED_STREAM.
    kRefuse,
    // On a connection's `goaway_streams`th request: GOAWAY with the first stream's id as the
    // last one, then the connection closes with nothing answered. Only on the first connection.
    kGoaway,
    // SETTINGS_INITIAL_WINDOW_SIZE 0 and no WINDOW_UPDATE ever: no request DATA can come.
    kZeroWindow,
    // As kZeroWindow, and each request's response starts at once: HEADERS with status 200
    // (x-backend: NAME), no body, the stream left open.
    kZeroWindowAnswerFirst,
  };

  // `tls`: h2 over TLS with this certificate (ALPN h2), else h2c.
  explicit H2Backend(std::string name, const Pem* tls = nullptr);
  ~H2Backend();
  H2Backend(const H2Backend&) = delete;
  H2Backend& operator=(const H2Backend&) = delete;

  uint16_t port() const { return port_; }
  void set_behavior(Behavior behavior) { behavior_ = behavior; }
  // The misbehaviour (a close, a refusal) happens this many times, then requests are served.
  void set_times(int n) { times_ = n; }
  void set_goaway_streams(int n) { goaway_streams_ = n; }
  void set_close_after(int n) { close_after_ = n; }
  // Requests whose HEADERS arrived, and the ones answered 200.
  int headers_seen() const { return headers_seen_; }
  int served() const { return served_; }
  int connections() const { return connections_; }
  // Request DATA frames received, and those of them that carried nothing but END_STREAM.
  int data_frames() const { return data_frames_; }
  int empty_end_stream_frames() const { return empty_end_stream_frames_; }
  // The paths answered 200, in order.
  std::vector<std::string> served_paths();

 private:
  struct Connection;
  void AcceptLoop();
  void Serve(int fd);
  void Run(Connection& c, int fd);

  std::string name_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<Behavior> behavior_{Behavior::kServe};
  std::atomic<int> times_{std::numeric_limits<int>::max()};
  std::atomic<int> goaway_streams_{2};
  std::atomic<int> close_after_{1};
  std::atomic<bool> goaway_sent_{false};
  std::atomic<int> headers_seen_{0};
  std::atomic<int> served_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> data_frames_{0};
  std::atomic<int> empty_end_stream_frames_{0};
  std::mutex mutex_;
  std::vector<std::string> served_paths_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace xgate::proxy::testing
