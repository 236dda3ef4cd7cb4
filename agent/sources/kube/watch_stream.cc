#include "agent/sources/kube/watch_stream.h"

#include "absl/strings/ascii.h"
#include "agent/model/json_text.h"
#include "spdlog/spdlog.h"

namespace xgate::kube {

bool WatchStream::Feed(std::string_view bytes,
                       const std::function<bool(const WatchEvent&)>& on_event) {
  pending_.append(bytes);
  size_t start = 0;
  for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = pending_.substr(start, nl - start);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    auto j = model::ParseJson(line);
    if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string()) {
      spdlog::warn("watch {}: not a watch event: {}", origin_, line.substr(0, 200));
      continue;
    }
    WatchEvent event{j["type"].get<std::string>(), std::move(j["object"])};
    if (!on_event(event)) {
      pending_.clear();
      return false;
    }
  }
  pending_.erase(0, start);
  return true;
}

}  // namespace xgate::kube
