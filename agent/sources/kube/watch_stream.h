// The body of a watch answer, as its bytes arrive: one JSON event per line (a partial line
// waits for the rest). Pure decoding, no I/O: the client feeds it what curl receives, and the
// fuzz target (tests/fuzz/kube_fuzz.cc) feeds it arbitrary bytes.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace xgate::kube {

// One watch event: type ADDED, MODIFIED, DELETED, BOOKMARK or ERROR; `object` is the object
// (a metav1.Status for ERROR).
struct WatchEvent {
  std::string type;
  nlohmann::json object;
};

class WatchStream {
 public:
  // `origin` names the watch in logs (its path).
  explicit WatchStream(std::string origin) : origin_(std::move(origin)) {}

  // Appends `bytes` and calls `on_event` for each complete line that is a watch event; a line
  // that is not one is logged and skipped. Returns false as soon as `on_event` does (the
  // rest of the bytes given is dropped).
  bool Feed(std::string_view bytes, const std::function<bool(const WatchEvent&)>& on_event);

  // Bytes of a line not complete yet.
  size_t pending() const { return pending_.size(); }

 private:
  std::string origin_;
  std::string pending_;
};

}  // namespace xgate::kube
