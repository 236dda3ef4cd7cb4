// Network namespaces for one test, after tools/demo-l4:
//
//   client 198.18.0.2 fd00::2 (c0) --- (n0) 198.18.0.1 fd00::1 node
//   node (p1..pN, each 198.18.3.1/32 fd00:3::1/128) --- (e0) one namespace per pod
//
// with a line echo server in every pod namespace. Everything is removed by the destructor.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/netns/netns.h"

namespace xgate::e2e {

// Answers every line a TCP client sends with "<pod> <client address> <line>\n", on
// [::]:port (IPv4 too) inside a network namespace, many connections at once.
class LineEcho {
 public:
  LineEcho(std::string netns, std::string pod, uint16_t port)
      : netns_(std::move(netns)), pod_(std::move(pod)), port_(port) {}
  ~LineEcho() { Stop(); }
  bool Start();
  void Stop();

 private:
  void Serve(int listener);
  std::string netns_, pod_;
  uint16_t port_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

struct Pod {
  std::string name;  // answered by its echo server
  std::string v4;
  std::string v6;
};

class Topology {
 public:
  ~Topology() { Remove(); }
  // Creates the namespaces, veths, routes and echo servers (port 5432); "" or why not. The
  // pods' veths are plain (nothing on their far end, GRO off: what a pod's interface is), or
  // with `napi` have an XDP program on the pod's end, so the node can XDP_REDIRECT into them.
  std::string Create(const std::vector<Pod>& pods, bool napi = false);
  // Turns GRO on or off on pod i's end of its veth (from the calling thread, which stays in
  // its namespace): the node's end then takes XDP_REDIRECTed frames, or no longer does.
  bool SetPodGro(size_t i, bool on);
  // Waits (10 s at most) until the agent's xg_egress (under pin_root) says pod i's host-side
  // veth takes XDP-redirected frames (`xmit`) or not, as its GRO setting makes it.
  bool WaitPodEgress(const std::string& pin_root, size_t i, bool xmit);
  const std::string& client() const { return client_; }
  const std::string& node() const { return node_; }
  // The node's interfaces, for --attach: n0, p1..pN.
  std::vector<std::string> NodeInterfaces() const;
  // Stops the echo servers and deletes every namespace (and so every veth) made here.
  void Remove();
  // True once every namespace this object made is gone.
  bool AllRemoved() const;

 private:
  std::string client_, node_;
  std::vector<std::string> namespaces_;
  std::vector<std::string> pod_namespaces_;
  std::vector<std::unique_ptr<LineEcho>> echoes_;
  size_t pods_ = 0;
};

// A TCP connection made from the calling thread's network namespace.
class TcpConn {
 public:
  // Connects (3 s at most); null on failure.
  static std::unique_ptr<TcpConn> Open(const std::string& address, uint16_t port);
  ~TcpConn();
  // Sends `msg` and a newline; the reply line without its newline, or "" (3 s at most).
  std::string Exchange(const std::string& msg);
  // This end's port (the client port of the flow's 5-tuple).
  uint16_t local_port() const;

 private:
  explicit TcpConn(int fd) : fd_(fd) {}
  int fd_;
  std::string buffered_;
};

// The fast path's per-path and per-drop-reason packet counts under `pin_root` (the ones that
// moved), printed for a failure's report.
void PrintFastPathCounters(const std::filesystem::path& pin_root);

}  // namespace xgate::e2e
