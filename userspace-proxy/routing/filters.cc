#include "userspace-proxy/routing/filters.h"

#include <charconv>

#include "absl/random/distributions.h"

namespace xgate::routing {
namespace {

std::string_view StripTrailingSlashes(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

uint32_t DefaultPort(std::string_view scheme) {
  if (http::EqualsIgnoreCase(scheme, "http")) return 80;
  if (http::EqualsIgnoreCase(scheme, "https")) return 443;
  return 0;
}

void AppendNumber(std::string* out, uint32_t v) {
  char buf[16];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

// The request's path with `modifier` applied, or the path unchanged when there is none.
std::string NewPath(bool has_modifier, const api::PathModifier& modifier,
                    const http::RequestHead& request, std::string_view matched_prefix) {
  std::string_view path = request.PathOnly();
  return has_modifier ? ModifyPath(modifier, path, matched_prefix) : std::string(path);
}

}  // namespace

void ApplyHeaderModifier(const api::HeaderModifier& modifier, http::HeaderMap& headers) {
  for (const api::Header& h : modifier.set()) headers.Set(h.name(), h.value());
  for (const api::Header& h : modifier.add()) headers.Add(h.name(), h.value());
  for (const std::string& name : modifier.remove()) headers.Remove(name);
}

void ApplyRequestHeaderModifier(const api::HeaderModifier& modifier, http::RequestHead& request) {
  // Host lives apart from the other fields; an HTTP/1.1 request has exactly one.
  for (const api::Header& h : modifier.set()) {
    if (http::EqualsIgnoreCase(h.name(), "host")) {
      request.host = h.value();
    } else {
      request.headers.Set(h.name(), h.value());
    }
  }
  for (const api::Header& h : modifier.add()) {
    if (http::EqualsIgnoreCase(h.name(), "host")) {
      request.host = h.value();
    } else {
      request.headers.Add(h.name(), h.value());
    }
  }
  for (const std::string& name : modifier.remove()) request.headers.Remove(name);
}

std::string ModifyPath(const api::PathModifier& modifier, std::string_view path,
                       std::string_view matched_prefix) {
  if (modifier.type() == api::PathModifier::REPLACE_FULL_PATH) {
    return modifier.value().empty() ? std::string("/") : modifier.value();
  }
  std::string_view prefix = StripTrailingSlashes(matched_prefix);
  if (path.substr(0, prefix.size()) != prefix) return std::string(path);
  std::string_view rest = path.substr(prefix.size());  // "" or starts with '/'
  std::string out(StripTrailingSlashes(modifier.value()));
  out.append(rest);
  if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
  return out;
}

Redirect BuildRedirect(const api::RequestRedirect& redirect, const http::RequestHead& request,
                       const RequestContext& context) {
  Redirect r;
  r.status = redirect.status_code() != 0 ? static_cast<int>(redirect.status_code()) : 302;
  std::string_view scheme = redirect.scheme().empty() ? context.scheme : redirect.scheme();
  std::string_view host =
      redirect.hostname().empty() ? request.HostWithoutPort() : redirect.hostname();
  uint32_t port = redirect.port();
  if (port == 0) {
    uint32_t well_known = redirect.scheme().empty() ? 0 : DefaultPort(redirect.scheme());
    port = well_known != 0 ? well_known : context.listener_port;
  }
  r.location.append(scheme);
  r.location.append("://");
  r.location.append(host);
  if (port != DefaultPort(scheme)) {
    r.location.push_back(':');
    AppendNumber(&r.location, port);
  }
  r.location.append(NewPath(redirect.has_path(), redirect.path(), request, context.matched_prefix));
  if (request.path.find('?') != std::string::npos) {
    r.location.push_back('?');
    r.location.append(request.Query());
  }
  return r;
}

void ApplyUrlRewrite(const api::URLRewrite& rewrite, const RequestContext& context,
                     http::RequestHead& request) {
  if (!rewrite.hostname().empty()) request.host = rewrite.hostname();
  if (!rewrite.has_path()) return;
  std::string path = ModifyPath(rewrite.path(), request.PathOnly(), context.matched_prefix);
  if (request.path.find('?') != std::string::npos) {
    path.push_back('?');
    path.append(request.Query());
  }
  request.path = std::move(path);
}

bool ShouldMirror(const api::RequestMirror& mirror, absl::BitGenRef rng) {
  uint32_t denominator = mirror.denominator() == 0 ? 100 : mirror.denominator();
  if (mirror.numerator() == 0 && mirror.denominator() == 0) return true;
  if (mirror.numerator() >= denominator) return true;
  if (mirror.numerator() == 0) return false;
  return absl::Uniform<uint32_t>(rng, 0, denominator) < mirror.numerator();
}

void ApplyForwardedHeaders(const RequestContext& context, http::RequestHead& request) {
  std::optional<std::string> xff = request.headers.GetJoined("x-forwarded-for");
  if (xff && !xff->empty()) {
    xff->append(", ");
    xff->append(context.client_address);
    request.headers.Set("X-Forwarded-For", *xff);
  } else {
    request.headers.Set("X-Forwarded-For", context.client_address);
  }
  request.headers.Set("X-Forwarded-Proto", context.scheme);
}

FilterOutcome ApplyRequestFilters(const google::protobuf::RepeatedPtrField<api::Filter>& filters,
                                  const RequestContext& context, http::RequestHead& request,
                                  absl::BitGenRef rng) {
  FilterOutcome outcome;
  for (const api::Filter& f : filters) {
    switch (f.kind_case()) {
      case api::Filter::kRequestHeaderModifier:
        ApplyRequestHeaderModifier(f.request_header_modifier(), request);
        break;
      case api::Filter::kResponseHeaderModifier:
        outcome.response_modifiers.push_back(&f.response_header_modifier());
        break;
      case api::Filter::kRequestRedirect:
        outcome.redirect = BuildRedirect(f.request_redirect(), request, context);
        break;
      case api::Filter::kUrlRewrite:
        ApplyUrlRewrite(f.url_rewrite(), context, request);
        break;
      case api::Filter::kRequestMirror:
        if (ShouldMirror(f.request_mirror(), rng)) {
          outcome.mirror_clusters.push_back(f.request_mirror().cluster());
        }
        break;
      case api::Filter::KIND_NOT_SET:
        break;
    }
  }
  return outcome;
}

void ApplyResponseFilters(const FilterOutcome& outcome, http::ResponseHead& response) {
  for (const api::HeaderModifier* m : outcome.response_modifiers) {
    ApplyHeaderModifier(*m, response.headers);
  }
}

}  // namespace xgate::routing
