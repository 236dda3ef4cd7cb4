// Gateway API filters as pure functions over the request and response head models, and the
// X-Forwarded-* headers. No I/O: the server applies the returned decisions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "api/config.pb.h"
#include "userspace-proxy/http/message.h"

namespace xgate::routing {

// What the filters need to know about the request beyond its head.
struct RequestContext {
  std::string_view scheme = "http";  // "https" on a TLS listener
  uint32_t listener_port = 80;       // the Gateway listener's port
  std::string_view client_address;   // peer address, for X-Forwarded-For
  // The route's PathPrefix value when the route matched by prefix ("" otherwise): what
  // ReplacePrefixMatch replaces.
  std::string_view matched_prefix;
};

// RequestHeaderModifier / ResponseHeaderModifier: set, then add, then remove; names are
// case-insensitive. On a request, "Host" edits RequestHead::host.
void ApplyHeaderModifier(const api::HeaderModifier& modifier, http::HeaderMap& headers);
void ApplyRequestHeaderModifier(const api::HeaderModifier& modifier, http::RequestHead& request);

// The path after a PathModifier: ReplaceFullPath, or ReplacePrefixMatch of `matched_prefix`
// with the spec's slash handling ("/prefix/one" with prefix "/prefix" and replacement "/"
// gives "/one"; never ""). The query is not part of `path`.
std::string ModifyPath(const api::PathModifier& modifier, std::string_view path,
                       std::string_view matched_prefix);

struct Redirect {
  int status = 302;
  std::string location;
};

// RequestRedirect: Location = scheme://host[:port]path[?query]. The port is the filter's,
// else the well-known port of the filter's scheme when it sets one, else the listener's
// port; it is omitted when it is the default port of the Location's scheme.
Redirect BuildRedirect(const api::RequestRedirect& redirect, const http::RequestHead& request,
                       const RequestContext& context);

// URLRewrite: hostname (replaces Host) and path (query kept).
void ApplyUrlRewrite(const api::URLRewrite& rewrite, const RequestContext& context,
                     http::RequestHead& request);

// RequestMirror sampling: numerator/denominator of requests (denominator 0 means 100,
// numerator 0 with denominator 0 means every request, as an unset percentage).
bool ShouldMirror(const api::RequestMirror& mirror, absl::BitGenRef rng);

// CORS: whether `origin` ("scheme://host[:port]") is one of `allowed`: "*", an exact origin
// (scheme and host case-insensitive, the scheme's default port implied), or "scheme://*.host"
// matching any number of labels before host.
bool CorsOriginAllowed(const api::Cors& cors, std::string_view origin);

// The answer to a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) from
// an allowed origin, as Envoy gives it: 200, the origin echoed, the methods (the requested one
// for "*"), the headers (the requested ones for "*"), exposed headers, max age, credentials.
// nullopt when the request is not such a preflight: it is proxied as any other.
std::optional<http::ResponseHead> CorsPreflight(const api::Cors& cors,
                                                const http::RequestHead& request);

// The headers an allowed origin's proxied request gets on its response (none for others).
std::vector<http::Header> CorsResponseHeaders(const api::Cors& cors,
                                              const http::RequestHead& request);

// Appends the client address to X-Forwarded-For (or sets it) and sets X-Forwarded-Proto to
// the downstream scheme, as Envoy does.
void ApplyForwardedHeaders(const RequestContext& context, http::RequestHead& request);

// The result of running a route's (and its chosen backend's) filters on a request.
struct FilterOutcome {
  std::optional<Redirect> redirect;          // answer this; do not proxy
  std::optional<http::ResponseHead> local;   // answer this head (no body); do not proxy
  std::vector<std::string> mirror_clusters;  // send a copy of the request to each
  // Response header modifiers to apply, in order, to the upstream's response.
  std::vector<const api::HeaderModifier*> response_modifiers;
  // Headers added to the upstream's response before the modifiers run (CORS).
  std::vector<http::Header> response_headers;
};

// Applies `filters` in order to `request`. Call once with the route's filters, then (if
// proxying) once with the chosen backend's filters, merging the outcomes.
FilterOutcome ApplyRequestFilters(const google::protobuf::RepeatedPtrField<api::Filter>& filters,
                                  const RequestContext& context, http::RequestHead& request,
                                  absl::BitGenRef rng);
// The same, into `outcome` (what it holds already is kept): no outcome made and moved.
void ApplyRequestFilters(const google::protobuf::RepeatedPtrField<api::Filter>& filters,
                         const RequestContext& context, http::RequestHead& request,
                         absl::BitGenRef rng, FilterOutcome& outcome);

// Applies collected response modifiers to a response head.
void ApplyResponseFilters(const FilterOutcome& outcome, http::ResponseHead& response);

}  // namespace xgate::routing
