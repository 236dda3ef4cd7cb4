#include "agent/inspect/explain_request.h"

#include "absl/strings/str_cat.h"
#include "userspace-proxy/routing/filters.h"
#include "userspace-proxy/routing/router.h"
#include "userspace-proxy/routing/session_value.h"

namespace xgate::inspect {
namespace {

std::string_view OutcomeName(routing::RouteDecision::Outcome o) {
  switch (o) {
    case routing::RouteDecision::Outcome::kRouted:
      return "routed";
    case routing::RouteDecision::Outcome::kNoPort:
      return "no_port";
    case routing::RouteDecision::Outcome::kNoListener:
      return "no_listener";
    case routing::RouteDecision::Outcome::kNotFound:
      return "not_found";
    case routing::RouteDecision::Outcome::kNoBackend:
      return "no_backend";
  }
  return "unknown";
}

std::string_view StageName(routing::TraceEntry::Stage s) {
  switch (s) {
    case routing::TraceEntry::Stage::kPort:
      return "port";
    case routing::TraceEntry::Stage::kListener:
      return "listener";
    case routing::TraceEntry::Stage::kVirtualHost:
      return "virtual host";
    case routing::TraceEntry::Stage::kRoute:
      return "route";
    case routing::TraceEntry::Stage::kBackend:
      return "backend";
  }
  return "unknown";
}

void AddBackends(const routing::RouteTable& table, const routing::CompiledRoute& route,
                 api::RequestExplanation& out) {
  for (const api::WeightedCluster& b : route.route->backends()) {
    api::ExplainBackend* eb = out.add_backends();
    eb->set_cluster(b.cluster());
    eb->set_service(b.service());
    eb->set_weight(b.weight());
    eb->set_share_percent(route.total_weight == 0
                              ? 0.0
                              : 100.0 * b.weight() / static_cast<double>(route.total_weight));
    if (const api::Cluster* c = table.FindCluster(b.cluster())) {
      *eb->mutable_endpoints() = c->endpoints();
    }
  }
}

// What the route's CORS filter does with the request, as the proxy's filter code decides it: a
// preflight answered by the proxy itself, or the response's CORS headers, or neither.
void AddCorsSteps(const api::Route& route, const http::RequestHead& head,
                  api::RequestExplanation& out) {
  std::optional<std::string_view> seen = head.headers.Get("origin");
  const std::string origin = seen ? std::string(*seen) : "";
  for (const api::Filter& f : route.filters()) {
    if (!f.has_cors()) continue;
    api::ExplainStep* step = out.add_steps();
    step->set_stage("filter");
    step->set_subject("CORS");
    if (!seen) {
      step->set_reason("no Origin header: not a cross-origin request, proxied as it is");
      continue;
    }
    if (std::optional<http::ResponseHead> answer = routing::CorsPreflight(f.cors(), head)) {
      step->set_matched(true);
      step->set_reason(absl::StrCat("a preflight from the allowed origin ", origin,
                                    ": answered by the proxy with ", answer->status,
                                    ", not proxied"));
      continue;
    }
    bool allowed = routing::CorsOriginAllowed(f.cors(), origin);
    step->set_matched(allowed);
    step->set_reason(
        allowed ? absl::StrCat("origin ", origin,
                               " allowed: proxied, the response gets "
                               "Access-Control-Allow-Origin")
                : absl::StrCat("origin ", origin, " not allowed: proxied without CORS headers"));
  }
}

// The rule's session persistence: where the session travels and whether the request carries
// one. Which endpoint a value names only the proxy can read (its own key seals it).
void AddSessionStep(const api::Route& route, const http::RequestHead& head,
                    api::RequestExplanation& out) {
  if (!route.has_session_persistence()) return;
  const api::SessionPersistence& session = route.session_persistence();
  api::ExplainStep* step = out.add_steps();
  step->set_stage("session");
  step->set_subject(absl::StrCat(
      session.type() == api::SessionPersistence::COOKIE ? "cookie " : "header ", session.name()));
  bool carried = routing::FindSessionValue(session, head.headers).has_value();
  step->set_matched(carried);
  std::string reason =
      carried ? "the request carries a session: the proxy sends it to the endpoint the value "
                "names while that endpoint is among the rule's backends and not ejected, "
                "whatever the weights; else the backend is chosen by weight and the answer "
                "starts a new session"
              : "no session in the request: the backend is chosen by weight and the answer "
                "starts a session";
  if (session.absolute_timeout_ms() > 0) {
    absl::StrAppend(&reason, "; a session ends ", session.absolute_timeout_ms(),
                    " ms after it began", session.permanent() ? " (the cookie's Max-Age)" : "");
  }
  if (session.idle_timeout_ms() > 0) {
    absl::StrAppend(&reason, "; a session unused for ", session.idle_timeout_ms(),
                    " ms ends (each answer renews it)");
  }
  absl::StrAppend(&reason,
                  "; sessions do not outlive the proxy process (its key is made at start)");
  step->set_reason(std::move(reason));
}

}  // namespace

absl::StatusOr<http::RequestHead> ProbeHead(const api::RequestProbe& probe) {
  if (probe.listener_address().empty() || probe.listener_port() == 0 ||
      probe.listener_port() > 65535) {
    return absl::InvalidArgumentError(
        "the listener address and port (1-65535) the request reaches are required");
  }
  http::RequestHead head;
  head.method = probe.method().empty() ? "GET" : probe.method();
  head.path = probe.path().empty() ? "/" : probe.path();
  if (head.path.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("path \"", head.path, "\": an origin-form target starts with /"));
  }
  head.host = !probe.host().empty()  ? probe.host()
              : !probe.sni().empty() ? probe.sni()
                                     : probe.listener_address();
  for (const api::Header& h : probe.headers()) {
    if (h.name().empty()) return absl::InvalidArgumentError("a header without a name");
    if (http::EqualsIgnoreCase(h.name(), "host")) {
      head.host = h.value();  // the proxy takes Host from the header line
      continue;
    }
    head.headers.Add(h.name(), h.value());
  }
  return head;
}

absl::StatusOr<api::RequestExplanation> ExplainRequest(const api::L7Config& config,
                                                       const api::RequestProbe& probe) {
  auto head = ProbeHead(probe);
  if (!head.ok()) return head.status();
  auto table = routing::RouteTable::Build(config);
  if (!table.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the proxy's route table does not build: ", table.status().message()));
  }
  routing::MatchInput input;
  input.local_address = probe.listener_address();
  input.local_port = static_cast<uint16_t>(probe.listener_port());
  input.sni = probe.sni();
  input.request = &*head;
  routing::MatchTrace trace;
  routing::RouteDecision d = (*table)->Match(input, &trace);

  api::RequestExplanation out;
  out.set_outcome(std::string(OutcomeName(d.outcome)));
  out.set_status(d.status);
  if (d.port != nullptr) out.set_port_protocol(api::Port::Protocol_Name(d.port->port->protocol()));
  if (d.listener != nullptr) {
    const api::Listener& l = *d.listener->listener;
    out.set_listener(absl::StrCat(l.gateway_namespace(), "/", l.gateway_name(), "/", l.name()));
  }
  if (d.vhost != nullptr) out.set_virtual_host(d.vhost->vhost->hostname());
  if (d.route != nullptr) {
    const api::Route& r = *d.route->route;
    out.set_route(absl::StrCat(r.route_kind().empty() ? "HTTPRoute" : r.route_kind(), " ",
                               r.route_namespace(), "/", r.route_name()));
    out.set_rule_index(r.rule_index());
    out.set_match_index(r.match_index());
    out.set_redirect(d.route->has_redirect);
    AddBackends(**table, *d.route, out);
  }
  for (const routing::TraceEntry& e : trace.entries) {
    api::ExplainStep* step = out.add_steps();
    step->set_stage(std::string(StageName(e.stage)));
    step->set_subject(e.subject);
    step->set_matched(e.matched);
    step->set_reason(e.reason);
  }
  if (d.route != nullptr) {
    AddCorsSteps(*d.route->route, *head, out);
    AddSessionStep(*d.route->route, *head, out);
  }
  return out;
}

}  // namespace xgate::inspect
