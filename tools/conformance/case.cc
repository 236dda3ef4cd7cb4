#include "tools/conformance/case.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace xgate::conformance {
namespace {

// Parse failures carry their own message; thrown inside this file only and turned into
// absl::Status at the entry points.
struct ParseError {
  std::string message;
};

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void Fail(const YAML::Node& at, absl::string_view field,
                         absl::string_view msg) const {
    int line = at.IsDefined() ? at.Mark().line + 1 : 0;
    throw ParseError{absl::StrCat(file_, ":", line, ": ", field, ": ", msg)};
  }

  void OnlyKeys(const YAML::Node& n, absl::string_view what,
                const std::set<std::string>& keys) const {
    if (!n.IsMap()) Fail(n, what, "must be a mapping");
    for (const auto& kv : n) {
      std::string k = kv.first.Scalar();
      if (!keys.contains(k)) Fail(kv.first, absl::StrCat(what, ".", k), "unknown key");
    }
  }

  std::string Str(const YAML::Node& n, absl::string_view field) const {
    if (!n.IsScalar()) Fail(n, field, "must be a string");
    return n.Scalar();
  }
  std::optional<std::string> OptStr(const YAML::Node& parent, const char* key,
                                    absl::string_view where) const {
    YAML::Node n = parent[key];
    if (!n.IsDefined() || n.IsNull()) return std::nullopt;
    return Str(n, absl::StrCat(where, ".", key));
  }
  std::string ReqStr(const YAML::Node& parent, const char* key, absl::string_view where) const {
    YAML::Node n = parent[key];
    if (!n.IsDefined() || n.IsNull()) Fail(parent, absl::StrCat(where, ".", key), "is required");
    return Str(n, absl::StrCat(where, ".", key));
  }
  int64_t Int(const YAML::Node& n, absl::string_view field) const {
    try {
      if (n.IsScalar()) return n.as<int64_t>();
    } catch (const YAML::Exception&) {
    }
    Fail(n, field, "must be a whole number");
  }
  std::optional<int64_t> OptInt(const YAML::Node& parent, const char* key,
                                absl::string_view where) const {
    YAML::Node n = parent[key];
    if (!n.IsDefined() || n.IsNull()) return std::nullopt;
    return Int(n, absl::StrCat(where, ".", key));
  }
  double Number(const YAML::Node& n, absl::string_view field) const {
    try {
      if (n.IsScalar()) return n.as<double>();
    } catch (const YAML::Exception&) {
    }
    Fail(n, field, "must be a number");
  }
  std::vector<std::string> StrList(const YAML::Node& n, absl::string_view field) const {
    if (!n.IsSequence()) Fail(n, field, "must be a list of strings");
    std::vector<std::string> out;
    for (const auto& x : n) out.push_back(Str(x, field));
    return out;
  }
  Pairs StrMap(const YAML::Node& n, absl::string_view field) const {
    if (!n.IsDefined() || n.IsNull()) return {};
    if (!n.IsMap()) Fail(n, field, "must map names to values");
    Pairs out;
    for (const auto& kv : n) out.emplace_back(kv.first.Scalar(), Str(kv.second, field));
    return out;
  }
  std::vector<std::pair<std::string, double>> Shares(const YAML::Node& n,
                                                     absl::string_view field) const {
    if (!n.IsMap() || n.size() == 0) Fail(n, field, "must map Service names to numbers");
    std::vector<std::pair<std::string, double>> out;
    for (const auto& kv : n) {
      double v = Number(kv.second, field);
      if (v < 0) Fail(kv.second, field, "must not be negative");
      out.emplace_back(kv.first.Scalar(), v);
    }
    return out;
  }
  std::pair<std::string, std::string> NsName(const YAML::Node& n, absl::string_view field) const {
    std::string v = Str(n, field);
    std::vector<std::string> parts = absl::StrSplit(v, '/');
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      Fail(n, field, "must be NAMESPACE/NAME");
    }
    return {parts[0], parts[1]};
  }

  void Manifests(const YAML::Node& doc, Manifested& m) const {
    if (YAML::Node n = doc["manifests"]; n.IsDefined() && !n.IsNull()) {
      m.manifests = Str(n, "manifests");
      m.manifests_line = n.Mark().line + 2;
    }
    if (YAML::Node certs = doc["certificates"]; certs.IsDefined() && !certs.IsNull()) {
      if (!certs.IsSequence()) Fail(certs, "certificates", "must be a list");
      for (const auto& c : certs) {
        OnlyKeys(c, "certificates[]", {"name", "namespace", "hosts", "ca"});
        CertificateSpec spec{ReqStr(c, "name", "certificates[]"),
                             ReqStr(c, "namespace", "certificates[]"),
                             StrList(c["hosts"], "certificates[].hosts"),
                             OptStr(c, "ca", "certificates[]").value_or("")};
        if (spec.hosts.empty()) Fail(c, "certificates[].hosts", "must not be empty");
        m.certificates.push_back(std::move(spec));
      }
    }
    if (YAML::Node tb = doc["tlsBackends"]; tb.IsDefined() && !tb.IsNull()) {
      if (!tb.IsSequence()) Fail(tb, "tlsBackends", "must be a list");
      for (const auto& b : tb) {
        OnlyKeys(b, "tlsBackends[]",
                 {"service", "namespace", "secret", "requireClientCertificate", "clientCa"});
        TlsBackend backend;
        backend.service = ReqStr(b, "service", "tlsBackends[]");
        backend.ns = ReqStr(b, "namespace", "tlsBackends[]");
        backend.secret = ReqStr(b, "secret", "tlsBackends[]");
        if (YAML::Node r = b["requireClientCertificate"]; r.IsDefined()) {
          if (!r.IsScalar() || (r.Scalar() != "true" && r.Scalar() != "false")) {
            Fail(r, "tlsBackends[].requireClientCertificate", "true or false");
          }
          backend.require_client_certificate = r.Scalar() == "true";
        }
        backend.client_ca = OptStr(b, "clientCa", "tlsBackends[]").value_or("");
        if (!backend.client_ca.empty() && !backend.require_client_certificate) {
          Fail(b["clientCa"], "tlsBackends[].clientCa", "needs requireClientCertificate: true");
        }
        m.tls_backends.push_back(std::move(backend));
      }
    }
    if (YAML::Node cms = doc["caConfigMaps"]; cms.IsDefined() && !cms.IsNull()) {
      if (!cms.IsSequence()) Fail(cms, "caConfigMaps", "must be a list");
      for (const auto& c : cms) {
        OnlyKeys(c, "caConfigMaps[]", {"name", "namespace", "ca"});
        m.ca_config_maps.push_back({ReqStr(c, "name", "caConfigMaps[]"),
                                    ReqStr(c, "namespace", "caConfigMaps[]"),
                                    OptStr(c, "ca", "caConfigMaps[]").value_or("")});
      }
    }
  }

  StatusCheck Status(const YAML::Node& s, absl::string_view where) const {
    OnlyKeys(s, where,
             {"kind", "namespace", "name", "parent", "parentKind", "parentCount", "sectionName",
              "listener", "type", "status", "reason", "observedGeneration", "attachedRoutes",
              "supportedKinds", "listeners", "attachedListenerSets"});
    StatusCheck c;
    c.line = s.Mark().line + 1;
    c.kind = ReqStr(s, "kind", where);
    static const std::set<std::string> kKinds = {"Gateway",   "GatewayClass", "ListenerSet",
                                                 "HTTPRoute", "TLSRoute",     "TCPRoute",
                                                 "UDPRoute",  "GRPCRoute",    "BackendTLSPolicy"};
    if (!kKinds.contains(c.kind)) Fail(s["kind"], absl::StrCat(where, ".kind"), "unknown kind");
    c.name = ReqStr(s, "name", where);
    if (c.kind != "GatewayClass") c.ns = ReqStr(s, "namespace", where);
    // X9: a BackendTLSPolicy's `parent` is the ancestor Gateway of its status.ancestors entry.
    bool route = absl::EndsWith(c.kind, "Route");
    if (route || c.kind == "BackendTLSPolicy") {
      if (!s["parent"].IsDefined())
        Fail(s, absl::StrCat(where, ".parent"), "a route or policy entry needs it");
      std::tie(c.parent_ns, c.parent_name) = NsName(s["parent"], absl::StrCat(where, ".parent"));
    }
    // X13: a route's parent may be a ListenerSet; parentCount counts all its parents.
    if (auto k = OptStr(s, "parentKind", where)) {
      if (!route) Fail(s["parentKind"], absl::StrCat(where, ".parentKind"), "only for routes");
      if (*k != "Gateway" && *k != "ListenerSet") {
        Fail(s["parentKind"], absl::StrCat(where, ".parentKind"), "Gateway or ListenerSet");
      }
      c.parent_kind = *k;
    }
    c.parent_count = OptInt(s, "parentCount", where);
    if (c.parent_count && (!route || *c.parent_count < 0)) {
      Fail(s["parentCount"], absl::StrCat(where, ".parentCount"),
           "a count (0 or more) of a route's parents");
    }
    c.section_name = OptStr(s, "sectionName", where);
    c.listener = OptStr(s, "listener", where);
    c.type = OptStr(s, "type", where);
    c.status = OptStr(s, "status", where);
    c.reason = OptStr(s, "reason", where);
    c.observed_generation = OptInt(s, "observedGeneration", where);
    c.attached_routes = OptInt(s, "attachedRoutes", where);
    if (s["supportedKinds"].IsDefined()) {
      c.supported_kinds = StrList(s["supportedKinds"], absl::StrCat(where, ".supportedKinds"));
    }
    if (s["listeners"].IsDefined()) {
      c.listeners = StrList(s["listeners"], absl::StrCat(where, ".listeners"));
    }
    c.attached_listener_sets = OptInt(s, "attachedListenerSets", where);
    if (c.attached_listener_sets && (c.kind != "Gateway" || c.listener)) {
      Fail(s["attachedListenerSets"], absl::StrCat(where, ".attachedListenerSets"),
           "only for a Gateway, without listener");
    }
    if (c.type.has_value() != c.status.has_value()) {
      Fail(s, where, "type and status go together");
    }
    if (!c.type && (c.reason || c.observed_generation)) {
      Fail(s, where, "reason and observedGeneration go with type");
    }
    if (!c.type && !c.attached_routes && !c.supported_kinds && !c.listeners &&
        !c.attached_listener_sets && !c.parent_count) {
      Fail(s, where, "checks nothing");
    }
    if ((c.attached_routes || c.supported_kinds) && !c.listener) {
      Fail(s, where, "attachedRoutes and supportedKinds need listener");
    }
    return c;
  }

  std::vector<StatusCheck> StatusList(const YAML::Node& n, absl::string_view where) const {
    std::vector<StatusCheck> out;
    if (!n.IsDefined() || n.IsNull()) return out;
    if (!n.IsSequence()) Fail(n, where, "must be a list");
    for (size_t i = 0; i < n.size(); ++i)
      out.push_back(Status(n[i], absl::StrCat(where, "[", i, "]")));
    return out;
  }

  Expect ExpectOf(const YAML::Node& e, absl::string_view where) const {
    OnlyKeys(e, where,
             {"status", "backend", "namespace", "request", "headers", "absentHeaders", "redirect",
              "mirror", "weights", "mirrorShares", "tolerance", "headerValues", "fromGateway",
              "grpcStatus", "tlsFailure"});
    Expect x;
    if (auto v = OptInt(e, "status", where)) x.status = static_cast<int>(*v);
    if (auto v = OptInt(e, "grpcStatus", where)) {
      if (*v < 0 || *v > 16) Fail(e["grpcStatus"], absl::StrCat(where, ".grpcStatus"), "0 to 16");
      x.grpc_status = static_cast<int>(*v);
    }
    x.backend = OptStr(e, "backend", where);
    x.ns = OptStr(e, "namespace", where);
    if (YAML::Node r = e["request"]; r.IsDefined() && !r.IsNull()) {
      std::string w = absl::StrCat(where, ".request");
      OnlyKeys(r, w,
               {"path", "host", "method", "proto", "sni", "clientCertificate", "headers",
                "absentHeaders"});
      x.request.path = OptStr(r, "path", w);
      x.request.host = OptStr(r, "host", w);
      x.request.method = OptStr(r, "method", w);
      x.request.proto = OptStr(r, "proto", w);
      x.request.sni = OptStr(r, "sni", w);
      if (r["clientCertificate"].IsDefined()) {
        auto [ns, name] = NsName(r["clientCertificate"], absl::StrCat(w, ".clientCertificate"));
        x.request.client_certificate = ns + "/" + name;
      }
      x.request.headers = StrMap(r["headers"], absl::StrCat(w, ".headers"));
      if (r["absentHeaders"].IsDefined()) {
        x.request.absent_headers = StrList(r["absentHeaders"], absl::StrCat(w, ".absentHeaders"));
      }
    }
    x.headers = StrMap(e["headers"], absl::StrCat(where, ".headers"));
    if (e["absentHeaders"].IsDefined()) {
      x.absent_headers = StrList(e["absentHeaders"], absl::StrCat(where, ".absentHeaders"));
    }
    if (YAML::Node hv = e["headerValues"]; hv.IsDefined() && !hv.IsNull()) {
      std::string w = absl::StrCat(where, ".headerValues");
      if (!hv.IsMap()) Fail(hv, w, "a map of header name to a list of values");
      for (const auto& kv : hv) {
        std::string name = kv.first.as<std::string>();
        x.header_values.emplace_back(name, StrList(kv.second, absl::StrCat(w, ".", name)));
      }
    }
    if (YAML::Node g = e["fromGateway"]; g.IsDefined()) {
      if (!g.IsScalar() || (g.Scalar() != "true" && g.Scalar() != "false")) {
        Fail(g, absl::StrCat(where, ".fromGateway"), "true or false");
      }
      x.from_gateway = g.Scalar() == "true";
      if (x.from_gateway && x.backend) {
        Fail(g, absl::StrCat(where, ".fromGateway"), "cannot go with backend");
      }
    }
    if (YAML::Node f = e["tlsFailure"]; f.IsDefined()) {
      if (!f.IsScalar() || f.Scalar() != "true") {
        Fail(f, absl::StrCat(where, ".tlsFailure"), "true (or leave it out)");
      }
      x.tls_failure = true;
      if (e.size() != 1) Fail(f, absl::StrCat(where, ".tlsFailure"), "goes alone in expect");
    }
    if (YAML::Node r = e["redirect"]; r.IsDefined() && !r.IsNull()) {
      std::string w = absl::StrCat(where, ".redirect");
      OnlyKeys(r, w, {"scheme", "host", "port", "path"});
      RedirectExpect rd;
      rd.scheme = OptStr(r, "scheme", w);
      rd.host = OptStr(r, "host", w);
      if (auto p = OptInt(r, "port", w)) rd.port = static_cast<int>(*p);
      rd.path = OptStr(r, "path", w);
      x.redirect = rd;
    }
    if (YAML::Node m = e["mirror"]; m.IsDefined() && !m.IsNull()) {
      x.mirror = m.IsScalar() ? std::vector<std::string>{m.Scalar()}
                              : StrList(m, absl::StrCat(where, ".mirror"));
    }
    if (e["weights"].IsDefined()) x.weights = Shares(e["weights"], absl::StrCat(where, ".weights"));
    if (e["mirrorShares"].IsDefined()) {
      x.mirror_shares = Shares(e["mirrorShares"], absl::StrCat(where, ".mirrorShares"));
    }
    if (e["tolerance"].IsDefined()) {
      x.tolerance = Number(e["tolerance"], absl::StrCat(where, ".tolerance"));
      if (x.tolerance <= 0 || x.tolerance >= 1) {
        Fail(e["tolerance"], absl::StrCat(where, ".tolerance"),
             "must be a fraction between 0 and 1");
      }
    }
    if (x.backend && !x.weights.empty()) Fail(e, where, "backend and weights exclude each other");
    return x;
  }

  Request RequestOf(const YAML::Node& r, absl::string_view where) const {
    OnlyKeys(r, where,
             {"gateway", "scheme", "host", "method", "path", "port", "headers",
              "backendResponseHeaders", "samples", "attempts", "expect", "backendFailures",
              "websocket", "websocketHttp2", "grpc", "session", "clientCertificate"});
    Request q;
    q.line = r.Mark().line + 1;
    if (!r["gateway"].IsDefined()) Fail(r, absl::StrCat(where, ".gateway"), "is required");
    std::tie(q.gateway_ns, q.gateway_name) = NsName(r["gateway"], absl::StrCat(where, ".gateway"));
    q.scheme = OptStr(r, "scheme", where).value_or("http");
    if (q.scheme != "http" && q.scheme != "https" && q.scheme != "udp") {
      Fail(r["scheme"], absl::StrCat(where, ".scheme"), "must be http, https or udp");
    }
    q.host = OptStr(r, "host", where).value_or("");
    q.method = OptStr(r, "method", where).value_or("GET");
    q.path = OptStr(r, "path", where).value_or("/");
    if (q.scheme != "udp" && !absl::StartsWith(q.path, "/")) {
      Fail(r["path"], absl::StrCat(where, ".path"), "must start with /");
    }
    if (auto p = OptInt(r, "port", where)) {
      if (*p < 1 || *p > 65535) Fail(r["port"], absl::StrCat(where, ".port"), "must be 1 to 65535");
      q.port = static_cast<int>(*p);
    }
    if (q.scheme == "udp" && !q.port)
      Fail(r, absl::StrCat(where, ".port"), "a udp request needs it");
    q.headers = StrMap(r["headers"], absl::StrCat(where, ".headers"));
    q.backend_response_headers =
        StrMap(r["backendResponseHeaders"], absl::StrCat(where, ".backendResponseHeaders"));
    if (YAML::Node f = r["backendFailures"]; f.IsDefined() && !f.IsNull()) {
      std::string w = absl::StrCat(where, ".backendFailures");
      OnlyKeys(f, w, {"count", "status"});
      std::optional<int64_t> count = OptInt(f, "count", w);
      if (!count || *count < 1 || *count > 100)
        Fail(f, absl::StrCat(w, ".count"), "must be 1 to 100");
      q.backend_failures = static_cast<int>(*count);
      if (auto st = OptInt(f, "status", w)) {
        if (*st < 400 || *st > 599)
          Fail(f["status"], absl::StrCat(w, ".status"), "must be 400 to 599");
        q.backend_failure_status = static_cast<int>(*st);
      }
    }
    q.websocket = OptStr(r, "websocket", where);
    const char* websocket_key = "websocket";
    if (r["websocketHttp2"].IsDefined()) {
      if (q.websocket) Fail(r, where, "websocket and websocketHttp2 exclude each other");
      websocket_key = "websocketHttp2";
      q.websocket = OptStr(r, websocket_key, where);
      q.websocket_h2 = true;
    }
    if (q.websocket && (q.websocket->empty() || q.scheme == "udp")) {
      Fail(r[websocket_key], absl::StrCat(where, ".", websocket_key),
           "bytes to send (not empty), over http or https");
    }
    if (YAML::Node g = r["grpc"]; g.IsDefined() && !g.IsNull()) {
      std::string w = absl::StrCat(where, ".grpc");
      OnlyKeys(g, w, {"method"});
      q.grpc_method = OptStr(g, "method", w);
      if (!q.grpc_method || (*q.grpc_method != "Echo" && *q.grpc_method != "EchoTwo" &&
                             *q.grpc_method != "EchoThree")) {
        Fail(g, absl::StrCat(w, ".method"), "must be Echo, EchoTwo or EchoThree");
      }
      if ((q.scheme != "http" && q.scheme != "https") || q.websocket || q.backend_failures > 0 ||
          r["method"].IsDefined() || r["path"].IsDefined()) {
        Fail(g, w,
             "goes with scheme http or https only, and without method, path, websocket or "
             "backendFailures");
      }
    }
    if (r["clientCertificate"].IsDefined()) {
      std::string w = absl::StrCat(where, ".clientCertificate");
      auto [ns, name] = NsName(r["clientCertificate"], w);
      q.client_certificate = ns + "/" + name;
      if (q.scheme != "https") Fail(r["clientCertificate"], w, "only for scheme https");
    }
    if (auto s = OptInt(r, "samples", where)) {
      if (*s < 1 || *s > 500)
        Fail(r["samples"], absl::StrCat(where, ".samples"), "must be 1 to 500");
      q.samples = static_cast<int>(*s);
    }
    if (auto a = OptInt(r, "attempts", where)) {
      if (*a < 1 || *a > 10)
        Fail(r["attempts"], absl::StrCat(where, ".attempts"), "must be 1 to 10");
      q.attempts = static_cast<int>(*a);
    }
    if (!r["expect"].IsDefined()) Fail(r, absl::StrCat(where, ".expect"), "is required");
    q.expect = ExpectOf(r["expect"], absl::StrCat(where, ".expect"));
    if (YAML::Node session = r["session"]; session.IsDefined() && !session.IsNull()) {
      std::string w = absl::StrCat(where, ".session");
      OnlyKeys(session, w, {"cookie", "header"});
      q.session_cookie = OptStr(session, "cookie", w);
      q.session_header = OptStr(session, "header", w);
      if (q.session_cookie.has_value() == q.session_header.has_value() ||
          q.session_cookie.value_or(q.session_header.value_or("")).empty()) {
        Fail(session, w, "names one cookie or one header");
      }
      if (q.samples < 2 || q.grpc_method || q.websocket || q.scheme == "udp" ||
          !q.expect.weights.empty()) {
        Fail(session, w, "goes with samples (2 or more), over http or https, without weights");
      }
    }
    if ((!q.expect.weights.empty() || !q.expect.mirror_shares.empty()) && q.samples == 0) {
      Fail(r, where, "weights and mirrorShares need samples");
    }
    if (q.expect.grpc_status && !q.grpc_method) {
      Fail(r["expect"], absl::StrCat(where, ".expect.grpcStatus"), "only for a grpc request");
    }
    if (q.grpc_method && q.expect.status) {
      Fail(r["expect"], absl::StrCat(where, ".expect.status"), "a grpc request has grpcStatus");
    }
    if (q.grpc_method && !q.expect.grpc_status) q.expect.grpc_status = 0;
    if (q.expect.tls_failure && (q.scheme != "https" || q.samples > 0 || q.websocket)) {
      Fail(r["expect"], absl::StrCat(where, ".expect.tlsFailure"),
           "only for a single https request");
    }
    if (!q.grpc_method && q.scheme != "udp" && !q.expect.status && q.expect.weights.empty() &&
        q.expect.mirror_shares.empty() && !q.expect.tls_failure) {
      Fail(r["expect"], absl::StrCat(where, ".expect.status"), "is required");
    }
    return q;
  }

  std::vector<Request> RequestList(const YAML::Node& n, absl::string_view where) const {
    std::vector<Request> out;
    if (!n.IsDefined() || n.IsNull()) return out;
    if (!n.IsSequence()) Fail(n, where, "must be a list");
    for (size_t i = 0; i < n.size(); ++i)
      out.push_back(RequestOf(n[i], absl::StrCat(where, "[", i, "]")));
    return out;
  }

  Step StepOf(const YAML::Node& s, absl::string_view where) const {
    OnlyKeys(s, where, {"apply", "delete", "status", "requests"});
    Step st;
    st.line = s.Mark().line + 1;
    if (YAML::Node a = s["apply"]; a.IsDefined() && !a.IsNull()) {
      st.apply = Str(a, absl::StrCat(where, ".apply"));
      st.apply_line = a.Mark().line + 2;
    }
    if (YAML::Node d = s["delete"]; d.IsDefined() && !d.IsNull()) {
      if (!d.IsSequence()) Fail(d, absl::StrCat(where, ".delete"), "must be a list");
      for (const auto& x : d) {
        std::string w = absl::StrCat(where, ".delete[]");
        OnlyKeys(x, w, {"kind", "namespace", "name"});
        st.deletes.push_back(
            {ReqStr(x, "kind", w), OptStr(x, "namespace", w).value_or(""), ReqStr(x, "name", w)});
      }
    }
    if (st.apply.empty() && st.deletes.empty()) Fail(s, where, "a step needs apply or delete");
    st.status = StatusList(s["status"], absl::StrCat(where, ".status"));
    st.requests = RequestList(s["requests"], absl::StrCat(where, ".requests"));
    if (st.status.empty() && st.requests.empty()) Fail(s, where, "a step needs status or requests");
    return st;
  }

  std::string file_;
};

YAML::Node LoadDoc(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ParseError{absl::StrCat(file, ":", e.mark.line + 1, ": does not parse: ", e.msg)};
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string StatusCheck::Describe() const {
  std::string out = absl::StrCat(kind, " ", ns.empty() ? "" : ns + "/", name);
  if (!parent_name.empty()) {
    absl::StrAppend(&out, " parent ", parent_kind == "Gateway" ? "" : parent_kind + " ", parent_ns,
                    "/", parent_name);
  }
  if (section_name) absl::StrAppend(&out, " sectionName ", *section_name);
  if (listener) absl::StrAppend(&out, " listener ", *listener);
  return out;
}

absl::StatusOr<Base> ParseBase(const std::string& text, const std::string& file) {
  try {
    Reader r(file);
    YAML::Node doc = LoadDoc(text, file);
    Base b;
    b.file = file;
    r.OnlyKeys(doc, "base", {"manifests", "certificates", "tlsBackends", "caConfigMaps"});
    r.Manifests(doc, b);
    return b;
  } catch (const ParseError& e) {
    return absl::InvalidArgumentError(e.message);
  }
}

absl::StatusOr<Case> ParseCase(const std::string& text, const std::string& file) {
  try {
    Reader r(file);
    YAML::Node doc = LoadDoc(text, file);
    Case c;
    c.file = file;
    r.OnlyKeys(doc, "case",
               {"name", "feature", "support", "description", "features", "upstream", "manifests",
                "certificates", "tlsBackends", "caConfigMaps", "status", "requests", "steps"});
    c.name = r.ReqStr(doc, "name", "case");
    c.feature = r.ReqStr(doc, "feature", "case");
    c.support = r.ReqStr(doc, "support", "case");
    if (c.support != "core" && c.support != "extended") {
      r.Fail(doc["support"], "support", "must be core or extended");
    }
    c.description = r.OptStr(doc, "description", "case").value_or("");
    c.upstream = r.OptStr(doc, "upstream", "case").value_or("");
    if (doc["features"].IsDefined()) c.features = r.StrList(doc["features"], "features");
    r.Manifests(doc, c);
    c.status = r.StatusList(doc["status"], "status");
    c.requests = r.RequestList(doc["requests"], "requests");
    if (YAML::Node steps = doc["steps"]; steps.IsDefined() && !steps.IsNull()) {
      if (!steps.IsSequence()) r.Fail(steps, "steps", "must be a list");
      for (size_t i = 0; i < steps.size(); ++i) {
        c.steps.push_back(r.StepOf(steps[i], absl::StrCat("steps[", i, "]")));
      }
    }
    if (c.status.empty() && c.requests.empty()) r.Fail(doc, "case", "needs status or requests");
    std::string stem = std::filesystem::path(file).stem().string();
    if (c.name != stem)
      r.Fail(doc["name"], "name", absl::StrCat("differs from the file name ", stem));
    return c;
  } catch (const ParseError& e) {
    return absl::InvalidArgumentError(e.message);
  }
}

absl::StatusOr<Base> LoadBase(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseBase(*text, path);
}

absl::StatusOr<Case> LoadCase(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseCase(*text, path);
}

absl::StatusOr<std::vector<std::string>> CaseFiles(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (e.is_regular_file() && absl::EndsWith(name, ".yaml") && name != "base.yaml") {
      out.push_back(e.path().string());
    }
  }
  if (ec) return absl::NotFoundError(absl::StrCat(dir, ": ", ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::string> FindBase(const std::string& dir, const std::string& given) {
  namespace fs = std::filesystem;
  if (!given.empty()) {
    if (fs::is_regular_file(given)) return given;
    return absl::NotFoundError(absl::StrCat(given, ": no such base file"));
  }
  for (fs::path p : {fs::path(dir) / "base.yaml", fs::path(dir) / ".." / "base.yaml"}) {
    if (fs::is_regular_file(p)) return p.lexically_normal().string();
  }
  return absl::NotFoundError(
      absl::StrCat("no base for ", dir, " (--base FILE, or base.yaml in it or its parent)"));
}

}  // namespace xgate::conformance
