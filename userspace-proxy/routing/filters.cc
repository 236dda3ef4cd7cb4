#include "userspace-proxy/routing/filters.h"

#include <charconv>

#include "absl/random/distributions.h"
#include "absl/strings/ascii.h"

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

struct Origin {
  std::string scheme, host;
  uint32_t port = 0;
};

// "scheme://host[:port]" with scheme and host lowercased and the port made explicit.
std::optional<Origin> ParseOrigin(std::string_view text) {
  size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  Origin out{absl::AsciiStrToLower(std::string(text.substr(0, sep))), "", 0};
  std::string_view rest = text.substr(sep + 3);
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find(']') == std::string_view::npos) {
    std::string_view digits = rest.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.port);
    if (ec != std::errc() || end != digits.data() + digits.size() || out.port > 65535) {
      return std::nullopt;
    }
    rest = rest.substr(0, colon);
  } else {
    out.port = DefaultPort(out.scheme);
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
  out.host = absl::AsciiStrToLower(std::string(rest));
  return out;
}

bool OriginMatches(std::string_view pattern, const Origin& origin) {
  if (pattern == "*") return true;
  std::optional<Origin> want = ParseOrigin(pattern);
  if (!want || want->scheme != origin.scheme || want->port != origin.port) return false;
  if (want->host == "*") return true;
  if (want->host.rfind("*.", 0) == 0) {
    std::string_view suffix = std::string_view(want->host).substr(1);  // ".bar.com"
    return origin.host.size() > suffix.size() &&
           std::string_view(origin.host).substr(origin.host.size() - suffix.size()) == suffix;
  }
  return want->host == origin.host;
}

bool IsWildcard(const google::protobuf::RepeatedPtrField<std::string>& list) {
  return list.size() == 1 && list[0] == "*";
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& list) {
  std::string out;
  for (const std::string& item : list) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

}  // namespace

bool CorsOriginAllowed(const api::Cors& cors, std::string_view origin) {
  std::optional<Origin> parsed = ParseOrigin(origin);
  if (!parsed) return false;
  for (const std::string& pattern : cors.allow_origins()) {
    if (OriginMatches(pattern, *parsed)) return true;
  }
  return false;
}

std::vector<http::Header> CorsResponseHeaders(const api::Cors& cors,
                                              const http::RequestHead& request) {
  std::optional<std::string_view> origin = request.headers.Get("origin");
  if (!origin || !CorsOriginAllowed(cors, *origin)) return {};
  std::vector<http::Header> out = {{"Access-Control-Allow-Origin", std::string(*origin)},
                                   {"Vary", "Origin"}};
  if (cors.allow_credentials()) out.push_back({"Access-Control-Allow-Credentials", "true"});
  if (!cors.expose_headers().empty()) {
    out.push_back({"Access-Control-Expose-Headers", Joined(cors.expose_headers())});
  }
  return out;
}

std::optional<http::ResponseHead> CorsPreflight(const api::Cors& cors,
                                                const http::RequestHead& request) {
  if (request.method != "OPTIONS") return std::nullopt;
  std::optional<std::string_view> method = request.headers.Get("access-control-request-method");
  if (!method) return std::nullopt;
  std::vector<http::Header> headers = CorsResponseHeaders(cors, request);
  if (headers.empty()) return std::nullopt;
  http::ResponseHead out;
  out.status = 200;
  for (http::Header& h : headers) {
    if (!http::EqualsIgnoreCase(h.name, "Access-Control-Expose-Headers")) {
      out.headers.Add(h.name, h.value);
    }
  }
  out.headers.Set("Access-Control-Allow-Methods", IsWildcard(cors.allow_methods())
                                                      ? std::string(*method)
                                                      : Joined(cors.allow_methods()));
  std::optional<std::string> requested =
      request.headers.GetJoined("access-control-request-headers");
  if (IsWildcard(cors.allow_headers())) {
    if (requested) out.headers.Set("Access-Control-Allow-Headers", *requested);
  } else if (!cors.allow_headers().empty()) {
    out.headers.Set("Access-Control-Allow-Headers", Joined(cors.allow_headers()));
  }
  if (!cors.expose_headers().empty()) {
    out.headers.Set("Access-Control-Expose-Headers", Joined(cors.expose_headers()));
  }
  out.headers.Set("Access-Control-Max-Age", std::to_string(cors.max_age_seconds()));
  return out;
}

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
  // One look over the fields; most requests carry neither, and each is then added at once.
  bool has_for = false, has_proto = false;
  for (const http::HeaderView& h : request.headers.fields()) {
    has_for = has_for || http::EqualsIgnoreCase(h.name, "x-forwarded-for");
    has_proto = has_proto || http::EqualsIgnoreCase(h.name, "x-forwarded-proto");
  }
  std::optional<std::string> xff;
  if (has_for) xff = request.headers.GetJoined("x-forwarded-for");
  if (xff && !xff->empty()) {
    xff->append(", ");
    xff->append(context.client_address);
    request.headers.Set("X-Forwarded-For", *xff);
  } else if (has_for) {
    request.headers.Set("X-Forwarded-For", context.client_address);
  } else {
    request.headers.Add("X-Forwarded-For", context.client_address);
  }
  if (has_proto) {
    request.headers.Set("X-Forwarded-Proto", context.scheme);
  } else {
    request.headers.Add("X-Forwarded-Proto", context.scheme);
  }
}

FilterOutcome ApplyRequestFilters(const google::protobuf::RepeatedPtrField<api::Filter>& filters,
                                  const RequestContext& context, http::RequestHead& request,
                                  absl::BitGenRef rng) {
  FilterOutcome outcome;
  ApplyRequestFilters(filters, context, request, rng, outcome);
  return outcome;
}

void ApplyRequestFilters(const google::protobuf::RepeatedPtrField<api::Filter>& filters,
                         const RequestContext& context, http::RequestHead& request,
                         absl::BitGenRef rng, FilterOutcome& outcome) {
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
      case api::Filter::kCors:
        if (auto preflight = CorsPreflight(f.cors(), request)) {
          outcome.local = std::move(preflight);
        } else {
          for (http::Header& h : CorsResponseHeaders(f.cors(), request)) {
            outcome.response_headers.push_back(std::move(h));
          }
        }
        break;
      case api::Filter::KIND_NOT_SET:
        break;
    }
  }
}

void ApplyResponseFilters(const FilterOutcome& outcome, http::ResponseHead& response) {
  for (const http::Header& h : outcome.response_headers) {
    // Vary keeps what the upstream said varies.
    std::optional<std::string> vary;
    if (http::EqualsIgnoreCase(h.name, "Vary")) vary = response.headers.GetJoined("Vary");
    response.headers.Set(h.name, vary && !vary->empty() ? *vary + ", " + h.value : h.value);
  }
  for (const api::HeaderModifier* m : outcome.response_modifiers) {
    ApplyHeaderModifier(*m, response.headers);
  }
}

}  // namespace xgate::routing
