#include "userspace-proxy/cmd/limit_flags.h"

#include <cstdint>
#include <limits>
#include <string>

namespace xgate::proxy {
namespace {

constexpr int64_t kMaxWindow = (int64_t{1} << 31) - 1;  // RFC 9113 6.9.1

// A count or byte size ("64KiB", "1MiB" accepted) within [min, max].
template <typename T>
void AddSize(CLI::App& app, const std::string& name, T& value, int64_t min, int64_t max,
             const std::string& help) {
  app.add_option(name, value, help + " [" + std::to_string(min) + ".." + std::to_string(max) + "]")
      ->transform(CLI::AsSizeValue(false).description(""))
      ->check(CLI::Range(min, max).description(""))
      ->capture_default_str()
      ->type_name("N")
      ->group("Limits");
}

// Milliseconds, at least `min`, at most a day.
void AddMillis(CLI::App& app, const std::string& name, std::chrono::milliseconds& value,
               int64_t min, const std::string& help) {
  app.add_option_function<int64_t>(
         name, [&value](int64_t ms) { value = std::chrono::milliseconds(ms); }, help)
      ->check(CLI::Range(min, int64_t{24} * 3600 * 1000).description(""))
      ->default_str(std::to_string(value.count()))
      ->type_name("MS")
      ->group("Limits");
}

}  // namespace

void AddLimitFlags(CLI::App& app, ServerOptions& options) {
  ProxyLimits& l = options.limits;
  H2Limits& h2 = l.h2;
  constexpr int64_t kBig = std::numeric_limits<int32_t>::max();
  AddSize(app, "--max-connections", l.max_connections, 1, kBig,
          "client connections open at once, all workers; more are closed at accept");
  AddSize(app, "--max-connections-per-worker", l.max_connections_per_worker, 0, kBig,
          "client connections per worker (0: --max-connections spread over the workers)");
  AddSize(app, "--max-request-line", l.head.max_request_line, 64, 1 << 20,
          "HTTP/1.1 request line bytes; beyond: 414");
  AddSize(app, "--max-header-bytes", l.head.max_head_bytes, 1024, 1 << 24,
          "HTTP/1.1 request head bytes, request line included; beyond: 431");
  AddSize(app, "--max-headers", l.head.max_headers, 1, 10000,
          "header fields per request; beyond: 431");
  AddSize(app, "--max-request-body", l.max_request_body, 0, std::numeric_limits<int64_t>::max(),
          "request body bytes (0: no limit); beyond: 413");
  AddSize(app, "--buffer-limit", options.upstream.buffer_limit, 16 * 1024, 1 << 30,
          "bytes buffered per connection and direction before the producer is paused");
  AddSize(app, "--upstream-max-connections", options.upstream.max_connections_per_cluster, 0, kBig,
          "connections to one backend (cluster), all workers (0: none); beyond: 503");
  AddMillis(app, "--connect-timeout", options.upstream.connect_timeout, 1,
            "a connect to an upstream endpoint not answered within this fails (the endpoint's "
            "failure; the request goes to another)");
  AddMillis(app, "--upstream-user-timeout", options.upstream.user_timeout, 0,
            "TCP_USER_TIMEOUT on backend connections: bytes sent and unacknowledged this long "
            "abort the connection (a silent backend; its request is tried elsewhere); 0: the "
            "kernel's");
  AddMillis(app, "--upstream-h2-stall-timeout", options.upstream.h2_stall_timeout, 0,
            "an HTTP/2 backend that takes none of a stream's waiting request body (window held "
            "at zero) this long: the stream is reset, the request answered 504; 0: none");
  AddMillis(app, "--upstream-keepalive-idle", options.upstream.keepalive_idle, 0,
            "TCP keepalive probes on a backend connection silent this long (whole seconds; 0: "
            "off)");
  AddMillis(app, "--upstream-keepalive-interval", options.upstream.keepalive_interval, 1000,
            "between TCP keepalive probes on backend connections (whole seconds)");
  AddMillis(app, "--idle-timeout", options.idle_timeout, 1,
            "a client connection with no request in flight is closed after");
  AddMillis(app, "--header-timeout", options.header_timeout, 1,
            "a started request head must be complete within; else 408 (slowloris)");
  AddMillis(app, "--request-timeout", l.request_timeout, 0,
            "whole request, for routes without timeouts.request (0: none); beyond: 504");
  AddSize(app, "--retry-budget-percent", l.retry_budget.percent, 0, 100,
          "requests being retried, in percent of the requests in flight (per worker); more "
          "retries are refused and the request gets its failure");
  AddSize(app, "--retry-budget-min-concurrency", l.retry_budget.min_concurrency, 0, kBig,
          "requests that may be retried at once (per worker) whatever the percent");
  AddSize(app, "--h2-max-concurrent-streams", h2.max_concurrent_streams, 1, kBig,
          "HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS");
  AddSize(app, "--h2-max-header-list-size", h2.max_header_list_size, 1024, 1 << 24,
          "HTTP/2 decoded header list bytes per request; beyond: 431");
  AddSize(app, "--h2-max-frame-size", h2.max_frame_size, 16384, (1 << 24) - 1,
          "HTTP/2 SETTINGS_MAX_FRAME_SIZE");
  AddSize(app, "--h2-initial-stream-window", h2.initial_stream_window, 1024, kMaxWindow,
          "HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE (per stream)");
  AddSize(app, "--h2-initial-connection-window", h2.initial_connection_window, 65535, kMaxWindow,
          "HTTP/2 connection flow-control window");
  AddSize(app, "--h2-header-table-size", h2.header_table_size, 0, 1 << 20,
          "HTTP/2 SETTINGS_HEADER_TABLE_SIZE (HPACK dynamic table)");
  AddSize(app, "--h2-max-continuations", h2.max_continuations, 1, 1024,
          "CONTINUATION frames after one HEADERS; more: GOAWAY (continuation_flood)");
  AddSize(app, "--h2-reset-check-streams", h2.reset_check_min_streams, 1, kBig,
          "streams opened before the rapid reset check applies");
  AddSize(app, "--h2-max-premature-reset-percent", h2.max_premature_reset_percent, 1, 100,
          "streams reset by the client before their response, in percent; more: GOAWAY "
          "(rapid_reset)");
  AddSize(app, "--h2-control-frame-burst", h2.control_frame_burst, 1, kBig,
          "SETTINGS and PING frames each, in a burst; more: GOAWAY (settings_flood, ping_flood)");
  AddSize(app, "--h2-control-frames-per-second", h2.control_frames_per_second, 0, kBig,
          "SETTINGS and PING frames each, per second after the burst");
  AddSize(app, "--h2-max-empty-frames", h2.max_consecutive_empty_frames, 0, 1000,
          "consecutive frames without payload; more: GOAWAY (empty_frames)");
  AddSize(app, "--h2-hpack-max-expansion", h2.hpack_max_expansion, 2, 4096,
          "decoded header bytes per wire byte of a block over the header list size; more: "
          "GOAWAY (hpack)");
  AddMillis(app, "--h2-stall-timeout", h2.stalled_window_timeout, 1,
            "response bytes buffered without progress (window held at zero) for this long: "
            "GOAWAY (zero_window)");
}

}  // namespace xgate::proxy
