// Session persistence (Gateway API GEP-1619) of a route rule: the answer to a request names
// the endpoint that served it in a cookie or response header; a later request carrying that
// value goes to the same endpoint while it is among the rule's backends and not ejected.
//
// The value is opaque and self-contained: a keyed hash of the endpoint ("ip:port", so a
// client learns nothing of it and cannot name an endpoint it was not given), when the
// session began and was last used, and a MAC over all of it (so the timeouts cannot be
// stretched). Nothing is kept per session: every worker reads it the same way, and it stays
// good across config swaps while its endpoint remains. The key is made at process start, so
// a restarted proxy starts new sessions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "api/config.pb.h"
#include "userspace-proxy/http/message.h"
#include "userspace-proxy/routing/session_value.h"

namespace xgate::proxy {

class Config;

struct SessionToken {
  uint64_t tag = 0;        // the endpoint's keyed hash
  uint64_t issued_ms = 0;  // Unix time the session began (absolute timeout)
  uint64_t used_ms = 0;    // Unix time of its last use (idle timeout)
};

class SessionCodec {
 public:
  static constexpr size_t kKeySize = 32;
  explicit SessionCodec(const std::array<unsigned char, kKeySize>& key) : key_(key) {}
  // The process's codec: a random key, made on first use, read-only after.
  static const SessionCodec& Process();
  static uint64_t NowMs();  // Unix time

  uint64_t Tag(std::string_view endpoint) const;
  std::string Encode(const SessionToken& token) const;  // base64url, no padding
  // nullopt unless `value` is a token this codec made.
  std::optional<SessionToken> Decode(std::string_view value) const;

 private:
  std::array<unsigned char, kKeySize> key_;
};

// The session a request holds: its token and where it points in the route.
struct SessionChoice {
  SessionToken token;
  int backend = -1;   // index in Route.backends
  int endpoint = -1;  // index in that backend's cluster endpoints
};

// The request's session, or nullopt when it has none, or it is forged, expired, or its
// endpoint is not among the route's backends or is `ejected`: the request is then balanced
// as usual and its answer starts a new session.
std::optional<SessionChoice> ResolveSession(
    const SessionCodec& codec, const api::Route& route, const Config& config,
    const http::HeaderMap& headers, uint64_t now_ms,
    absl::FunctionRef<bool(const std::string& endpoint)> ejected);

// Adds the session to the response of the endpoint whose SessionCodec::Tag is `tag` (the
// cluster's ClusterEndpoints::session_tags has it), when it starts a session (no `held` one,
// or another endpoint answered) or refreshes its idle time: Set-Cookie (HttpOnly,
// SameSite=Lax, Path=/, Secure over TLS, Max-Age when permanent) or the header.
void AddSessionToResponse(const SessionCodec& codec, const api::SessionPersistence& session,
                          const std::optional<SessionChoice>& held, uint64_t tag, bool tls,
                          uint64_t now_ms, http::HeaderMap& response);

}  // namespace xgate::proxy
