// Tells an abusive HTTP/2 peer from a busy one, from the frames it sends: rapid reset
// (CVE-2023-44487), SETTINGS and PING floods, runs of empty frames and HPACK bombs, with the
// thresholds of H2Limits. Pure bookkeeping for one connection; the connection acts on it.
#pragma once

#include <nghttp2/nghttp2.h>

#include <optional>

#include "userspace-proxy/server/event_loop.h"
#include "userspace-proxy/server/limits.h"
#include "userspace-proxy/server/stats.h"

namespace xgate::proxy {

class H2Guard {
 public:
  using Verdict = std::optional<stats::H2Abuse>;

  explicit H2Guard(const H2Limits& limits, Clock::time_point now = Clock::now());

  // Every frame header the peer sends (CONTINUATION included). The clock is read (when `now`
  // is not given) only for the frames that are rate limited, not for every frame.
  Verdict OnFrameHeader(const nghttp2_frame_hd& hd,
                        std::optional<Clock::time_point> now = std::nullopt);
  // A request stream opened; one reset by the client before its response ended.
  void OnStreamOpened() { ++streams_; }
  Verdict OnPrematureReset();
  // A decoded header field of the current header block (name + value + 32, as RFC 7541 counts).
  Verdict OnHeaderField(size_t size);

 private:
  // A token bucket: `burst` tokens, refilled at `per_second`.
  struct Bucket {
    double tokens;
    Clock::time_point refilled;
    bool Take(const H2Limits& limits, Clock::time_point now);
  };

  const H2Limits& limits_;
  size_t streams_ = 0;
  size_t premature_resets_ = 0;
  size_t empty_run_ = 0;
  Bucket settings_;
  Bucket pings_;
  size_t block_wire_ = 0;  // payload bytes of the current HEADERS + CONTINUATION frames
  size_t block_decoded_ = 0;
};

}  // namespace xgate::proxy
