// A closed-loop HTTP/2 load client (nghttp2) that does what a correct client does when the
// server goes away (RFC 9113 6.8, 8.7): streams above a GOAWAY's last-stream-id, and streams
// refused (REFUSED_STREAM), were not processed and are sent again on a new connection; streams
// at or below it must complete. So it counts true failures only, where h2load counts every
// stream its session refused after a GOAWAY as failed (and opens no new connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::h2load {

struct LoadOptions {
  std::string address;  // IPv4 or IPv6 literal to connect to
  uint16_t port = 443;
  std::string authority;  // :authority and SNI
  std::string path = "/";
  bool tls = true;  // TLS with ALPN h2 (no certificate check, as h2load); else h2c prior knowledge
  int connections = 2;
  int streams = 8;  // concurrent per connection
  std::chrono::milliseconds duration{10000};
  // After the duration, how long requests in flight may take to finish.
  std::chrono::milliseconds drain{15000};
};

struct LoadResult {
  uint64_t completed = 0;  // responses received whole
  uint64_t ok_2xx = 0;
  uint64_t non_2xx = 0;
  // Streams that broke for another reason than the server refusing them (reset with another
  // code, the connection lost while they were in flight at or below the last-stream-id), and
  // requests still in flight when the drain time ended.
  uint64_t failed = 0;
  uint64_t retried = 0;  // unprocessed (above a GOAWAY's last-stream-id, or REFUSED_STREAM)
  uint64_t goaways = 0;
  uint64_t connections = 0;         // opened
  uint64_t connect_errors = 0;      // TCP connect, TLS handshake or ALPN failed
  std::vector<std::string> errors;  // the first few, to say why
  double seconds = 0;
};

// Runs the load for `options.duration`; an error only for options it cannot use.
absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options);

}  // namespace xgate::h2load
