#include "userspace-proxy/routing/hostname_index.h"

#include "absl/strings/ascii.h"
#include "userspace-proxy/http/chars.h"
#include "userspace-proxy/routing/router.h"

namespace xgate::routing {
namespace {

std::string Lowercase(std::string_view s) {
  std::string out(s);
  absl::AsciiStrToLower(&out);
  return out;
}

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

bool IsWildcard(std::string_view pattern) { return pattern.size() > 2 && pattern[0] == '*'; }

int SelectByHostname(size_t count, absl::FunctionRef<std::string_view(size_t)> pattern_of,
                     std::string_view host) {
  int wildcard = -1, any = -1;
  size_t wildcard_len = 0;
  for (size_t i = 0; i < count; ++i) {
    std::string_view p = pattern_of(i);
    if (p.empty()) {
      if (any < 0) any = static_cast<int>(i);
    } else if (IsWildcard(p)) {
      if (p.size() > wildcard_len && HostnameMatches(p, host)) {
        wildcard = static_cast<int>(i);
        wildcard_len = p.size();
      }
    } else if (HostnameMatches(p, host)) {
      return static_cast<int>(i);
    }
  }
  return wildcard >= 0 ? wildcard : any;
}

HostnameIndex::HostnameIndex(const std::vector<std::string_view>& patterns) {
  for (size_t i = 0; i < patterns.size(); ++i) {
    std::string_view p = patterns[i];
    int index = static_cast<int>(i);
    if (p.empty()) {
      if (any_ < 0) any_ = index;
    } else if (!IsWildcard(p)) {
      exact_.try_emplace(Lowercase(p), index);
    } else if (p[1] == '.') {
      dotted_wildcards_.try_emplace(Lowercase(p.substr(1)), index);
    } else {
      other_wildcards_.emplace_back(std::string(p), index);
    }
  }
}

int HostnameIndex::Find(std::string_view host) const {
  // Lowercased on the stack: the request path does not allocate for a real hostname.
  char buffer[256];
  std::string long_host;
  std::string_view lower;
  if (host.size() <= sizeof(buffer)) {
    http::chars::CopyLower(buffer, host.data(), host.size());
    lower = std::string_view(buffer, host.size());
  } else {
    long_host = Lowercase(host);
    lower = long_host;
  }
  if (auto it = exact_.find(View(lower)); it != exact_.end()) return it->second;
  // The leftmost dot (after at least one character) gives the longest suffix.
  int wildcard = -1;
  size_t wildcard_len = 0;
  for (size_t dot = lower.find('.', 1); dot != std::string_view::npos;
       dot = lower.find('.', dot + 1)) {
    if (auto it = dotted_wildcards_.find(View(lower.substr(dot))); it != dotted_wildcards_.end()) {
      wildcard = it->second;
      wildcard_len = lower.size() - dot + 1;
      break;
    }
  }
  for (const auto& [pattern, index] : other_wildcards_) {
    if (pattern.size() > wildcard_len && HostnameMatches(pattern, host)) {
      wildcard = index;
      wildcard_len = pattern.size();
    }
  }
  return wildcard >= 0 ? wildcard : any_;
}

}  // namespace xgate::routing
