// Test helpers for the proxy: a small threaded HTTP/1.1 upstream on loopback that records
// what reaches it, a raw-socket client, and L7Config builders.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/config.pb.h"

namespace xgate::proxy::testing {

// A port free on both 127.0.0.1 and ::1 at the time of the call, outside the kernel's ephemeral
// range so that no outgoing connection takes it before the caller binds it.
uint16_t FreePort();

// A listening TCP socket on 127.0.0.1, on a port the kernel chose (`*port`); -1 on error.
int ListenLoopback(uint16_t* port);

// Polls `predicate` every 10 ms until it holds (true) or `timeout` passes (false).
template <typename Predicate>
bool WaitFor(Predicate predicate, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

struct ReceivedRequest {
  int connection = 0;  // per-upstream connection number, to see keep-alive reuse
  std::string method;
  std::string path;
  std::string host;
  std::map<std::string, std::string> headers;  // lowercase names, last value wins
  std::string body;
  bool chunked = false;
};

// Answers by path:
//   /status/NNN      status NNN, small body
//   /chunked         a chunked response of three chunks
//   /echo            the request body back, chunked
//   /bytes/N         200 with a body of N bytes
//   /hang            never answers (until Stop)
//   /reset           closes the connection without answering
//   anything else    200 "name path" with Content-Length; X-Upstream: name
// A request with "Upgrade: websocket" is answered 101, then every byte is echoed back.
class TestUpstream {
 public:
  explicit TestUpstream(std::string name, std::string bind_address = "127.0.0.1");
  ~TestUpstream();

  // Answer every request with this status instead (0: by path).
  void set_fail_status(int status) { fail_status_ = status; }
  // The next `n` requests get `status` (0: the connection is reset, nothing answered).
  void set_fail_first(int n, int status) {
    fail_first_status_ = status;
    fail_first_ = n;
  }
  // Every answer waits until `until` holds (bounded: 10 s), e.g. until all the requests of a
  // test are in flight. Set before the requests.
  void set_hold(std::function<bool()> until) {
    std::lock_guard lock(mutex_);
    hold_ = std::move(until);
  }
  uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }
  std::vector<ReceivedRequest> requests();
  size_t request_count();
  int connections() const { return connections_; }
  std::string raw();  // every byte received, all connections
  // Waits (bounded) until `n` requests arrived.
  bool WaitRequests(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd, int connection);
  // After the 101: echoes `pending` and then every byte received, until EOF.
  void EchoUpgraded(int fd, std::string pending);

  std::string name_;
  std::string address_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> fail_status_{0};
  std::atomic<int> fail_first_{0};
  std::atomic<int> fail_first_status_{0};
  std::mutex mutex_;
  std::function<bool()> hold_;
  std::condition_variable arrived_;
  std::vector<ReceivedRequest> requests_;
  std::string raw_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  bool chunked = false;
  bool closed = false;  // the connection closed right after
};

// A blocking client connection with a deadline on every read.
class Client {
 public:
  Client(const std::string& address, uint16_t port);
  ~Client();
  bool connected() const { return fd_ >= 0; }
  void Send(const std::string& bytes);
  // Reads one response (to a request with `method`); status 0 on EOF/timeout/garbage.
  Response Read(const std::string& method = "GET",
                std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the server closed the connection (EOF) within the timeout.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  int fd() const { return fd_; }

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

// Reads from `fd` until `data` holds `want` bytes (or, with want 0, up to the end of a head),
// with a deadline; false on EOF or timeout. For the bytes of an upgraded connection.
bool ReadRaw(int fd, std::string& data, size_t want,
             std::chrono::milliseconds timeout = std::chrono::seconds(5));

// One request on a fresh connection.
Response Get(uint16_t port, const std::string& host, const std::string& path,
             const std::string& extra_headers = "");

// Config builders.
api::Port* AddHttpPort(api::L7Config& config, uint16_t port,
                       std::vector<std::string> addresses = {"127.0.0.1", "::1"});
api::VirtualHost* AddVirtualHost(api::Port& port, const std::string& hostname,
                                 const std::string& listener_hostname = "");
api::Route* AddRoute(api::VirtualHost& vhost, const std::string& name, const std::string& prefix,
                     const std::string& cluster);
void AddCluster(api::L7Config& config, const std::string& name, const TestUpstream& upstream);
// An endpoint of cluster `name` (made when absent).
void AddEndpoint(api::L7Config& config, const std::string& name, const std::string& address,
                 uint16_t port);

// The "Name:\tvalue" lines of /proc/PID/status (Uid, Gid, CapEff, ...), by name.
std::map<std::string, std::string> ProcStatus(int pid);

}  // namespace xgate::proxy::testing
