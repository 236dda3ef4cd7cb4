// The agent's whole /metrics page in every mode at once (the pipeline, the proxy's listen
// reports and counters, the fast path's counters, the Kubernetes informers, the Lease and the
// status writes), with label values that need escaping, checked by Prometheus's own promtool
// (Debian package prometheus) and against the families docs/metrics.md lists.
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "agent/admin/metrics.h"
#include "agent/l7/listen_reports.h"
#include "tests/fixtures/fixtures.h"
#include "tests/fixtures/folder_pipeline.h"

namespace xgate::admin {
namespace {

template <typename Message>
Message FromText(const std::string& text) {
  Message m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

const char kFastPath[] = R"pb(
  listeners {
    address: "198.18.100.10"
    port: 5432
    protocol: "tcp"
    kind: "l4"
    listener: "default/edge/pg"
    route: "TCPRoute default/pg"
    packets: 40
    bytes: 2400
  }
  listeners {
    address: "fd00::10"
    port: 443
    protocol: "tcp"
    kind: "punt"
    listener: "default/a\"b\\c\nd/https"
    packets: 3
    bytes: 180
  }
  backends {
    id: 0
    address: "198.18.3.11"
    port: 5432
    service: "default/pg-primary"
    listener: "198.18.100.10:5432/tcp"
    packets: 10
    bytes: 600
  }
  backends { id: 1 address: "fd00::3:1" port: 8443 listener: "fd00::10:443/tcp" packets: 5 }
  paths { name: "conntrack_hit" packets: 7 bytes: 420 }
  drops { name: "no_backend" packets: 2 bytes: 120 }
  steering { name: "listener" packets: 4 bytes: 240 }
  xmit_drops { name: "p1" packets: 9 }
)pb";

const char kProxy[] = R"pb(
  generation: 7
  workers: 2
  requests { route: "ns/web" backend: "ns/we\"b\\:80\n" code: 200 count: 5 }
  requests { route: "" backend: "" code: 404 count: 1 }
  route_latency {
    route: "ns/web"
    duration {
      bounds: [ 0.001, 0.01 ]
      bucket_counts: [ 2, 0, 1 ]
      sum: 0.0125
      count: 3
    }
  }
  clusters {
    cluster: "ns/web:80"
    connections_open: 3
    connections_idle: 2
    connections_active: 1
    connects: 4
    connect_errors: 1
    ejections: 1
    retries: 2
    reuses: 6
    upstream_duration {
      bounds: [ 0.001 ]
      bucket_counts: [ 1, 1 ]
      sum: 0.5
      count: 2
    }
  }
  tls_handshakes { result: "ok" count: 1 }
  tls_handshakes { result: "failed" reason: "protocol_version" count: 1 }
  parse_refusals { reason: "obs_fold" code: 400 count: 2 }
  downstream { protocol: "https" connections_total: 9 connections_open: 1 }
  h2_streams_total: 4
  h2_streams_open: 1
  h2_abuse { kind: "rapid_reset" code: 11 count: 1 }
  downstream_overflow: 1
  route_retries { route: "ns/web" reason: "status" count: 3 }
  retry_budget_exhausted: 2
  upgrades_total: 2
  upgrades_open: 1
)pb";

// The page as xgate-agent's scrape handler builds it (agent/cmd/main.cc), every part present.
std::string FullPage(const fixtures::TempDir& dir) {
  std::filesystem::create_directories(dir.path() / "manifests");
  fixtures::WriteSeedV1(dir.path() / "manifests");
  fixtures::FolderPipeline pipeline(dir.path() / "manifests", {"198.18.0.1"}, {});
  EXPECT_TRUE(pipeline.Reload().ok());
  l7::ListenReports listen;
  listen.Update(FromText<api::ListenReport>(R"pb(
    results { address: "198.18.0.1" port: 443 bound: true }
    results {
      address: "198.18.100.30"
      port: 80
      steered: true
      bound: false
      failures: 2
      error: "no steer socket map"
    }
  )pb"));
  // No proxy answers on this socket and no maps are pinned there: xgate_proxy_up and
  // xgate_fastpath_maps_readable are 0, and the counters follow from the messages above.
  std::string page = RenderAgentMetrics(pipeline, (dir.path() / "no-pin-root").string(),
                                        (dir.path() / "proxy-stats.sock").string(), &listen);
  page += RenderProxyMetrics(FromText<api::ProxyStats>(kProxy));
  page += RenderFastPathMetrics(FromText<api::GetCountersResponse>(kFastPath));
  page += RenderInformerMetrics(
      {{"HTTPRoute", "gateway.networking.k8s.io/v1", true, 3, 1}, {"TCPRoute", "", false, 0, 0}});
  page += RenderLeaderStatusMetrics({true, 1, 5, 1, 0, 2});
  page += RenderLocalityMetrics(
      {{pods::LocalityMismatch::Kind::kNoRecord, "198.19.72.3", "default/pg-1", "node-a"}});
  return page;
}

struct CheckResult {
  int exit_code = -1;
  std::string output;
};

// `promtool check metrics` on `page`: its exit code and what it printed (lint problems).
CheckResult Promtool(const fixtures::TempDir& dir, const std::string& page) {
  std::filesystem::path file = dir.path() / "page.prom";
  std::ofstream(file) << page;
  std::string command = "promtool check metrics <'" + file.string() + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  CheckResult result;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) result.output.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::set<std::string> PageFamilies(const std::string& page) {
  std::set<std::string> families;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string hash, type, name;
    if (words >> hash >> type >> name && hash == "#" && type == "TYPE") families.insert(name);
  }
  return families;
}

// The families named in the first column of docs/metrics.md's tables.
std::set<std::string> DocumentedFamilies() {
  std::ifstream doc(XGATE_METRICS_DOC);
  EXPECT_TRUE(doc.good()) << XGATE_METRICS_DOC;
  std::set<std::string> families;
  const std::regex name("`(xgate_[a-z0-9_]+)`");
  for (std::string line; std::getline(doc, line);) {
    if (line.rfind("| `xgate_", 0) != 0) continue;
    std::string first_cell = line.substr(0, line.find(" |", 2));
    for (std::sregex_iterator it(first_cell.begin(), first_cell.end(), name), end; it != end;
         ++it) {
      families.insert((*it)[1]);
    }
  }
  return families;
}

TEST(FullMetricsPage, PromtoolFindsNoProblem) {
  fixtures::TempDir dir;
  std::string page = FullPage(dir);
  CheckResult check = Promtool(dir, page);
  EXPECT_EQ(check.exit_code, 0) << "promtool (Debian package prometheus; ./tools/setup installs "
                                   "it) said:\n"
                                << check.output << "\non:\n"
                                << page;
  EXPECT_EQ(check.output, "");
}

TEST(FullMetricsPage, PromtoolRefusesWhatItShould) {
  // The check above can fail: promtool reports a counter without _total and a missing HELP.
  fixtures::TempDir dir;
  CheckResult check = Promtool(dir, "# TYPE xgate_things counter\nxgate_things 1\n");
  EXPECT_NE(check.exit_code, 0);
  EXPECT_NE(check.output.find("_total"), std::string::npos) << check.output;
  EXPECT_NE(check.output.find("no help text"), std::string::npos) << check.output;
}

TEST(FullMetricsPage, EveryFamilyIsDocumentedAndEveryDocumentedFamilyExists) {
  fixtures::TempDir dir;
  std::set<std::string> on_page = PageFamilies(FullPage(dir));
  std::set<std::string> documented = DocumentedFamilies();
  EXPECT_GT(on_page.size(), 45u);  // the page was read
  for (const std::string& family : on_page) {
    EXPECT_TRUE(documented.count(family)) << family << " is not in docs/metrics.md";
  }
  for (const std::string& family : documented) {
    EXPECT_TRUE(on_page.count(family)) << family << " is in docs/metrics.md but on no page";
  }
}

}  // namespace
}  // namespace xgate::admin
