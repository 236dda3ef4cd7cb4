// Asks the gateway for https://HOST/ (or http://, --scheme) over and over (a new request at most
// every `interval`, each bounded by `request_timeout`) until an answer is the one wanted. One
// libcurl handle, so the requests of one host name share a keep-alive connection: the proxy reads
// its config per request, so a kept connection sees a new route as soon as a new one would.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace xgate::bench {

using Clock = std::chrono::steady_clock;

struct GatewayAnswer {
  long code = 0;
  std::string pod;  // the echo backend's "pod" field, "" when the body is not the echo's JSON
};

struct ProbeOptions {
  std::string address;  // where every host name resolves (the gateway's address)
  int port = 443;
  std::string ca_file;  // verifies the listener's certificate (https)
  std::string scheme = "https";
  // A new connection per request: what a TCP route's fast path (a new flow) is seen by.
  bool fresh_connections = false;
  std::chrono::microseconds interval{1000};
  std::chrono::milliseconds request_timeout{250};
  // 0: libcurl's. A TCP route not yet there drops the SYN: a short connect timeout tries
  // again with a new flow instead of waiting for the SYN's retransmission.
  std::chrono::milliseconds connect_timeout{0};
};

struct ProbeResult {
  Clock::time_point answered;  // when the wanted answer arrived (no answer: when the try went out)
  int requests = 0;
};

class GatewayProbe {
 public:
  static absl::StatusOr<std::unique_ptr<GatewayProbe>> Create(ProbeOptions options);
  ~GatewayProbe();
  GatewayProbe(const GatewayProbe&) = delete;
  GatewayProbe& operator=(const GatewayProbe&) = delete;

  // DeadlineExceeded (with the last answer) when `deadline` passes first.
  absl::StatusOr<ProbeResult> Until(const std::string& host,
                                    const std::function<bool(const GatewayAnswer&)>& wanted,
                                    Clock::time_point deadline);
  // The same, for a predicate that sees transport errors too (a route gone: no answer).
  absl::StatusOr<ProbeResult> UntilOutcome(
      const std::string& host,
      const std::function<bool(const absl::StatusOr<GatewayAnswer>&)>& wanted,
      Clock::time_point deadline);
  // One request: the answer, or the transport error.
  absl::StatusOr<GatewayAnswer> Ask(const std::string& host);

 private:
  GatewayProbe(ProbeOptions options, void* easy);

  ProbeOptions options_;
  void* easy_;  // CURL*
  std::string body_;
};

}  // namespace xgate::bench
