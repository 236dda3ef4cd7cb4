#include "tools/conformance/checks.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "nlohmann/json.hpp"

namespace xgate::conformance {

std::optional<EchoSeen> ParseEcho(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("pod") || !j["pod"].is_string()) {
    return std::nullopt;
  }
  EchoSeen e;
  auto str = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : "";
  };
  e.path = str("path");
  e.host = str("host");
  e.method = str("method");
  e.proto = str("proto");
  if (j.contains("tls") && j["tls"].is_object()) {
    const nlohmann::json& tls = j["tls"];
    if (tls.contains("serverName") && tls["serverName"].is_string()) {
      e.sni = tls["serverName"].get<std::string>();
    }
    if (tls.contains("peerCertificates") && tls["peerCertificates"].is_array()) {
      for (const auto& pem : tls["peerCertificates"]) {
        if (pem.is_string()) e.peer_certificates.push_back(pem.get<std::string>());
      }
    }
    if (tls.contains("peerCertificateSubject") && tls["peerCertificateSubject"].is_string()) {
      e.peer_subject = tls["peerCertificateSubject"].get<std::string>();
    }
  }
  e.ns = str("namespace");
  e.pod = str("pod");
  e.service = ServiceOfPod(e.pod);
  if (j.contains("headers") && j["headers"].is_object()) {
    for (const auto& [name, values] : j["headers"].items()) {
      if (values.is_array()) {
        for (const auto& v : values) {
          if (v.is_string()) e.headers.push_back({name, v.get<std::string>()});
        }
      } else if (values.is_string()) {
        e.headers.push_back({name, values.get<std::string>()});
      }
    }
  }
  return e;
}

std::string CheckClientCertificate(const EchoSeen& seen, const std::string& want,
                                   const std::string& want_leaf_pem) {
  auto bare = [](absl::string_view pem) { return absl::StripAsciiWhitespace(pem); };
  for (const std::string& pem : seen.peer_certificates) {
    if (bare(pem) == bare(want_leaf_pem)) return "";
  }
  if (seen.peer_certificates.empty()) {
    return absl::StrCat("the backend received no client certificate, want ", want);
  }
  return absl::StrCat("the backend received client certificate \"", seen.peer_subject, "\", not ",
                      want);
}

std::string ServiceOfPod(const std::string& pod) {
  size_t dash = pod.rfind('-');
  int n = 0;
  if (dash == std::string::npos || !absl::SimpleAtoi(pod.substr(dash + 1), &n)) return pod;
  return pod.substr(0, dash);
}

std::string ExpectedBackendPath(const Request& req) {
  return req.expect.request.path.value_or(req.path);
}

namespace {

std::string CheckHeaders(const Pairs& want, const std::vector<std::string>& absent,
                         const echo::Headers& got, absl::string_view where,
                         const std::string& backend) {
  for (const auto& [name, value] : want) {
    std::string expected = absl::StrReplaceAll(value, {{"${backend}", backend}});
    bool found = false;
    std::string actual = echo::JoinedHeader(got, name, &found);
    if (!found)
      return absl::StrCat(where, " header ", name, " is missing (want \"", expected, "\")");
    if (actual != expected) {
      return absl::StrCat(where, " header ", name, " is \"", actual, "\", want \"", expected, "\"");
    }
  }
  for (const std::string& name : absent) {
    bool found = false;
    std::string actual = echo::JoinedHeader(got, name, &found);
    if (found)
      return absl::StrCat(where, " header ", name, " is present (\"", actual,
                          "\"), want it absent");
  }
  return "";
}

struct Url {
  std::string scheme, host, path;
  std::optional<int> port;
};

std::optional<Url> ParseUrl(absl::string_view s) {
  Url u;
  size_t colon = s.find("://");
  if (colon == absl::string_view::npos) return std::nullopt;
  u.scheme = absl::AsciiStrToLower(s.substr(0, colon));
  s.remove_prefix(colon + 3);
  size_t slash = s.find_first_of("/?#");
  absl::string_view authority = s.substr(0, slash);
  absl::string_view rest = slash == absl::string_view::npos ? "" : s.substr(slash);
  if (size_t at = authority.rfind('@'); at != absl::string_view::npos)
    authority.remove_prefix(at + 1);
  size_t pc = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (pc != absl::string_view::npos && (bracket == absl::string_view::npos || pc > bracket)) {
    int port = 0;
    if (!absl::SimpleAtoi(authority.substr(pc + 1), &port)) return std::nullopt;
    u.port = port;
    authority = authority.substr(0, pc);
  }
  u.host = std::string(authority);
  absl::string_view path = rest.substr(0, rest.find_first_of("?#"));
  u.path = path.empty() ? std::string("/") : std::string(path.data(), path.size());
  return u;
}

}  // namespace

std::string CheckRedirect(const Request& req, const RedirectExpect& want,
                          const std::string& location) {
  std::optional<Url> u = ParseUrl(location);
  if (!u) return absl::StrCat("Location \"", location, "\" is not an absolute URL");
  std::string scheme = want.scheme.value_or(req.scheme);
  if (u->scheme != scheme) {
    return absl::StrCat("Location \"", location, "\" has scheme ", u->scheme, ", want ", scheme);
  }
  if (want.host && !absl::EqualsIgnoreCase(u->host, *want.host)) {
    return absl::StrCat("Location \"", location, "\" has host ", u->host, ", want ", *want.host);
  }
  if (want.port) {
    if (u->port != want.port) {
      return absl::StrCat("Location \"", location, "\" has ",
                          u->port ? absl::StrCat("port ", *u->port) : "no port", ", want port ",
                          *want.port);
    }
  } else if (u->port) {
    int def = u->scheme == "https" ? 443 : 80;
    if (*u->port != def) {
      return absl::StrCat("Location \"", location, "\" has port ", *u->port, ", want none or ",
                          def);
    }
  }
  std::string path = want.path.value_or(req.path.substr(0, req.path.find('?')));
  if (u->path != path) {
    return absl::StrCat("Location \"", location, "\" has path ", u->path, ", want ", path);
  }
  return "";
}

std::string CheckHttpAnswer(const Request& req, const Response& resp, EchoSeen* answered) {
  const Expect& e = req.expect;
  bool sampled_share = !e.weights.empty() || !e.mirror_shares.empty();
  // X4: a WebSocket's answer is the 101 (over HTTP/2 the 200 of the extended CONNECT), and the
  // echo's JSON line follows it.
  int answered_status = req.websocket && !req.websocket_h2 ? 101 : 200;
  int want_status = e.status.value_or(answered_status);
  if (!e.status && !sampled_share && e.backend) want_status = answered_status;
  std::optional<EchoSeen> seen;
  if (resp.status == answered_status) seen = ParseEcho(resp.body);
  if (seen && answered != nullptr) *answered = *seen;
  if (resp.status != want_status) {
    std::string from = seen ? absl::StrCat(" from ", seen->ns, "/", seen->service) : "";
    return absl::StrCat("status ", resp.status, from, ", want ", want_status);
  }
  std::string ns = req.ExpectNamespace();
  if (e.from_gateway) {
    if (seen)
      return absl::StrCat("answered by backend ", seen->ns, "/", seen->service,
                          ", want an answer from the gateway itself");
  } else if (want_status == answered_status) {
    if (!seen) {
      return absl::StrCat("the answer (status ", answered_status, ") is not from an echo backend");
    }
    if (req.websocket && resp.websocket_echo != *req.websocket) {
      return absl::StrCat("the WebSocket echoed \"", resp.websocket_echo, "\", want \"",
                          *req.websocket, "\"");
    }
    if (e.backend && (seen->service != *e.backend || seen->ns != ns)) {
      return absl::StrCat("answered by ", seen->ns, "/", seen->service, ", want ", ns, "/",
                          *e.backend);
    }
    std::string path = ExpectedBackendPath(req);
    if (seen->path != path)
      return absl::StrCat("the backend saw path ", seen->path, ", want ", path);
    std::string method = e.request.method.value_or(req.method);
    if (seen->method != method) {
      return absl::StrCat("the backend saw method ", seen->method, ", want ", method);
    }
    if (e.request.proto && seen->proto != *e.request.proto) {
      return absl::StrCat("the backend was spoken ", seen->proto, ", want ", *e.request.proto);
    }
    if (e.request.sni && seen->sni != *e.request.sni) {
      return absl::StrCat("the backend received SNI \"", seen->sni, "\", want \"", *e.request.sni,
                          "\"");
    }
    if (e.request.host && seen->host != *e.request.host) {
      return absl::StrCat("the backend saw host ", seen->host, ", want ", *e.request.host);
    }
    std::string diff = CheckHeaders(e.request.headers, e.request.absent_headers, seen->headers,
                                    "request", seen->service);
    if (!diff.empty()) return diff;
  } else if (e.backend) {
    return absl::StrCat("backend ", *e.backend, " expected with a status other than 200");
  } else if (std::optional<EchoSeen> any = ParseEcho(resp.body)) {
    return absl::StrCat("answered by backend ", any->ns, "/", any->service, " with status ",
                        resp.status);
  }
  std::string diff = CheckHeaders(e.headers, e.absent_headers, resp.headers, "response",
                                  seen ? seen->service : "");
  if (!diff.empty()) return diff;
  for (const auto& [name, values] : e.header_values) {
    bool found = false;
    std::string actual = echo::JoinedHeader(resp.headers, name, &found);
    if (!found) return absl::StrCat("response header ", name, " is missing");
    auto squeezed = [](std::string s) {
      s.erase(std::remove_if(s.begin(), s.end(), absl::ascii_isspace), s.end());
      return s;
    };
    bool ok = false;
    for (const std::string& v : values) ok |= squeezed(v) == squeezed(actual);
    if (!ok) {
      return absl::StrCat("response header ", name, " is \"", actual, "\", want one of \"",
                          absl::StrJoin(values, "\", \""), "\"");
    }
  }
  if (e.redirect) {
    bool found = false;
    std::string location = echo::JoinedHeader(resp.headers, "Location", &found);
    if (!found) return "no Location header in the redirect";
    return CheckRedirect(req, *e.redirect, location);
  }
  return "";
}

std::string CheckGrpcAnswer(const Request& req, const GrpcAnswer& got) {
  const Expect& e = req.expect;
  int want = e.grpc_status.value_or(0);
  if (got.code != want) {
    return absl::StrCat("gRPC status ", got.code, " (", got.message, "), want ", want);
  }
  if (want != 0) return "";
  std::string service = ServiceOfPod(got.pod);
  std::string ns = req.ExpectNamespace();
  if (e.backend && (service != *e.backend || got.ns != ns)) {
    return absl::StrCat("answered by ", got.ns, "/", service, ", want ", ns, "/", *e.backend);
  }
  std::string method =
      absl::StrCat("/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/", *req.grpc_method);
  if (got.fully_qualified_method != method) {
    return absl::StrCat("the backend served ", got.fully_qualified_method, ", want ", method);
  }
  if (e.request.host && got.authority != *e.request.host) {
    return absl::StrCat("the backend saw authority ", got.authority, ", want ", *e.request.host);
  }
  echo::Headers seen;
  for (const auto& [name, value] : got.metadata) seen.push_back({name, value});
  return CheckHeaders(e.request.headers, e.request.absent_headers, seen, "metadata", service);
}

std::string CheckUdpAnswer(const Request& req, const std::string& payload) {
  nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("pod") || !j["pod"].is_string()) {
    return absl::StrCat("the UDP answer is not from an echo backend: ", payload.substr(0, 80));
  }
  std::string service = ServiceOfPod(j["pod"].get<std::string>());
  std::string ns = j.value("namespace", "");
  std::string want_ns = req.ExpectNamespace();
  if (req.expect.backend && (service != *req.expect.backend || ns != want_ns)) {
    return absl::StrCat("answered by ", ns, "/", service, ", want ", want_ns, "/",
                        *req.expect.backend);
  }
  return "";
}

std::string CheckShares(const std::vector<std::pair<std::string, double>>& want,
                        const std::map<std::string, int>& counts, int total, double tolerance,
                        bool percent, bool exclusive) {
  if (total <= 0) return "no samples";
  double sum = 0;
  for (const auto& [name, w] : want) sum += w;
  for (const auto& [name, w] : want) {
    auto it = counts.find(name);
    int got = it == counts.end() ? 0 : it->second;
    double share = static_cast<double>(got) / total;
    double expected = percent ? w / 100.0 : (sum > 0 ? w / sum : 0);
    if (w == 0 && got > 0) {
      return absl::StrCat(name, " got ", got, " of ", total, " samples, want none (weight 0)");
    }
    if (std::fabs(share - expected) > tolerance + 1e-9) {
      return absl::StrFormat("%s got %.1f%% (%d of %d), want %.1f%% +- %.1f", name, share * 100,
                             got, total, expected * 100, tolerance * 100);
    }
  }
  if (exclusive) {
    for (const auto& [name, n] : counts) {
      bool listed = false;
      for (const auto& [w, _] : want) listed = listed || w == name;
      if (!listed && n > 0)
        return absl::StrCat(name, " answered ", n, " samples but is not in weights");
    }
  }
  return "";
}

}  // namespace xgate::conformance
