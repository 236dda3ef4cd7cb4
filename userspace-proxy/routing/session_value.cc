#include "userspace-proxy/routing/session_value.h"

#include <algorithm>

namespace xgate::routing {

std::optional<std::string_view> FindSessionValue(const api::SessionPersistence& session,
                                                 const http::HeaderMap& headers) {
  if (session.type() == api::SessionPersistence::HEADER) return headers.Get(session.name());
  // HTTP/2 clients may split cookies over several fields (RFC 9113 8.2.3).
  for (const http::HeaderView& field : headers.fields()) {
    if (!http::EqualsIgnoreCase(field.name, "cookie")) continue;
    std::string_view rest = field.value;
    while (!rest.empty()) {
      size_t end = std::min(rest.find(';'), rest.size());
      std::string_view pair = rest.substr(0, end);
      rest.remove_prefix(std::min(end + 1, rest.size()));
      while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == session.name()) {
        std::string_view value = pair.substr(eq + 1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
          value.remove_suffix(1);
        return value;
      }
    }
  }
  return std::nullopt;
}

}  // namespace xgate::routing
