// The measurements of xgate-bench-convergence: changes made through a RouteWriter, each timed
// from the source taking it to the first answer of the gateway that shows it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench/kube/gateway_probe.h"
#include "tools/bench/kube/route_writer.h"

namespace xgate::bench {

struct Source {
  std::string kubeconfig, manifests;  // one of them
};

struct Target {
  std::string cacert, address = "198.18.0.1", l4_address = "198.18.100.20";
  int l4_port = 20000;
  int timeout_ms = 5000;
};

// The figures of one kind of change: ms of each change seen, and the changes not seen in time.
struct Series {
  std::vector<double> ms;
  int timeouts = 0;
};

struct RssSample {
  std::string at;
  double agent_mb = 0, proxy_mb = 0;
};

absl::StatusOr<std::unique_ptr<RouteWriter>> MakeWriter(const Source& source);

class Bench {
 public:
  // No source (neither field): Served only.
  static absl::StatusOr<std::unique_ptr<Bench>> Create(const Source& source, const Target& target);

  // A new HTTPRoute, its weight flip, its deletion; false when one was not seen in time.
  bool HttpRound(int run, std::map<std::string, Series>& series);
  // A new TCPRoute on bench-l4's tcp-new listener, and its deletion.
  bool TcpRound(int run, std::map<std::string, Series>& series);
  // `count` rewrites of one route's host name, not waited for, except after a tenth of them
  // (the warm-up) and the last; RSS before, after the warm-up and at the end.
  absl::StatusOr<std::vector<RssSample>> Changes(int count, int agent_pid, int proxy_pid);
  // `count` rewrites of one route's host name, each waited for.
  Series Swaps(int count);
  // Unix ms of the first answer from the HTTPS host, the TCP port or the UDP port.
  absl::StatusOr<int64_t> Served(const std::string& host, int tcp_port, int udp_port,
                                 Clock::time_point deadline);

  GatewayProbe& https() { return *https_; }

 private:
  Bench(std::unique_ptr<RouteWriter> writer, std::unique_ptr<GatewayProbe> https,
        const Target& target)
      : writer_(std::move(writer)), https_(std::move(https)), target_(target) {}

  // Makes the change; ms from the source's answer to `seen`, or nullopt (logged).
  template <typename Change, typename Seen>
  std::optional<double> Timed(const std::string& what, Change change, Seen seen);
  // Until the host answers 200, or the timeout.
  bool Wait(const std::string& host, std::chrono::milliseconds timeout);

  std::unique_ptr<RouteWriter> writer_;
  std::unique_ptr<GatewayProbe> https_, tcp_;
  Target target_;
};

}  // namespace xgate::bench
