// What one client may cost the proxy: connections, head and body sizes, HTTP/2 settings and
// the thresholds at which an HTTP/2 peer counts as abusive, timeouts and buffer caps.
// Defaults follow Envoy's edge best practice where it gives a value (README "Limits").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "userspace-proxy/http/message.h"
#include "userspace-proxy/server/retry_budget.h"

namespace xgate::proxy {

struct H2Limits {
  uint32_t max_concurrent_streams = 100;
  uint32_t initial_stream_window = 64 * 1024;
  uint32_t initial_connection_window = 1 << 20;
  uint32_t max_frame_size = 16 * 1024;        // what we accept; larger frames: FRAME_SIZE_ERROR
  uint32_t header_table_size = 4096;          // HPACK dynamic table the client may use
  uint32_t max_header_list_size = 60 * 1024;  // decoded, per request; beyond: 431
  // Abuse thresholds (GOAWAY, xgate_proxy_h2_abuse_total{kind}).
  size_t max_continuations = 8;             // CONTINUATION frames after one HEADERS
  size_t reset_check_min_streams = 100;     // rapid reset: judged after this many streams,
  size_t max_premature_reset_percent = 50;  // ... reset by the client before their response
  size_t control_frame_burst = 100;         // SETTINGS and PING each: a token bucket
  size_t control_frames_per_second = 10;
  size_t max_consecutive_empty_frames = 1;  // DATA/HEADERS/CONTINUATION without payload
  size_t hpack_max_expansion = 32;          // decoded header bytes per wire byte of a large block
  std::chrono::milliseconds stalled_window_timeout{60000};  // output held by a zero window
};

struct ProxyLimits {
  size_t max_connections = 50000;         // downstream, all workers
  size_t max_connections_per_worker = 0;  // 0: max_connections spread over the workers
  http::Limits head{.max_request_line = 8 * 1024, .max_head_bytes = 60 * 1024};
  uint64_t max_request_body = 0;  // bytes, 0: no limit (bodies stream with backpressure)
  std::chrono::milliseconds request_timeout{300000};  // routes without timeouts.request; 0: none
  RetryBudgetOptions retry_budget;                    // per worker
  H2Limits h2;
};

}  // namespace xgate::proxy
