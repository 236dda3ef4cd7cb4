#include "userspace-proxy/server/h2_guard.h"

#include <algorithm>

namespace xgate::proxy {

bool H2Guard::Bucket::Take(const H2Limits& limits, Clock::time_point now) {
  double elapsed = std::chrono::duration<double>(now - refilled).count();
  refilled = now;
  tokens = std::min(static_cast<double>(limits.control_frame_burst),
                    tokens + elapsed * static_cast<double>(limits.control_frames_per_second));
  if (tokens < 1) return false;
  tokens -= 1;
  return true;
}

H2Guard::H2Guard(const H2Limits& limits, Clock::time_point now)
    : limits_(limits),
      settings_{static_cast<double>(limits.control_frame_burst), now},
      pings_{static_cast<double>(limits.control_frame_burst), now} {}

H2Guard::Verdict H2Guard::OnFrameHeader(const nghttp2_frame_hd& hd,
                                        std::optional<Clock::time_point> now) {
  bool ack = hd.flags & NGHTTP2_FLAG_ACK;
  switch (hd.type) {
    case NGHTTP2_SETTINGS:
      if (!ack && !settings_.Take(limits_, now.value_or(Clock::now()))) {
        return stats::H2Abuse::kSettingsFlood;
      }
      break;
    case NGHTTP2_PING:
      if (!ack && !pings_.Take(limits_, now.value_or(Clock::now()))) {
        return stats::H2Abuse::kPingFlood;
      }
      break;
    case NGHTTP2_HEADERS:
      block_wire_ = hd.length;
      block_decoded_ = 0;
      break;
    case NGHTTP2_CONTINUATION:
      block_wire_ += hd.length;
      break;
    default:
      break;
  }
  // Envoy's max_consecutive_inbound_frames_with_empty_payload: a frame that carries nothing
  // and ends nothing does no work for the peer, only for us.
  bool may_be_empty =
      hd.type == NGHTTP2_DATA || hd.type == NGHTTP2_HEADERS || hd.type == NGHTTP2_CONTINUATION;
  if (may_be_empty) {
    bool ends = hd.flags & (NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS);
    if (hd.length == 0 && !ends) {
      if (++empty_run_ > limits_.max_consecutive_empty_frames) return stats::H2Abuse::kEmptyFrames;
    } else {
      empty_run_ = 0;
    }
  }
  return std::nullopt;
}

H2Guard::Verdict H2Guard::OnPrematureReset() {
  ++premature_resets_;
  // Envoy's premature reset check: judged once enough streams were opened, so a client that
  // cancels a few requests (a browser leaving a page) is never cut.
  if (streams_ >= limits_.reset_check_min_streams &&
      premature_resets_ * 100 > streams_ * limits_.max_premature_reset_percent) {
    return stats::H2Abuse::kRapidReset;
  }
  return std::nullopt;
}

H2Guard::Verdict H2Guard::OnHeaderField(size_t size) {
  block_decoded_ += size;
  // A block may decode to more than it carries (indexed fields); one that decodes past the
  // header list cap at a ratio no real client reaches is a bomb.
  if (block_decoded_ > limits_.max_header_list_size &&
      block_decoded_ > limits_.hpack_max_expansion * std::max<size_t>(block_wire_, 1)) {
    return stats::H2Abuse::kHpack;
  }
  return std::nullopt;
}

}  // namespace xgate::proxy
