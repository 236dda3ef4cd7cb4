// The runner's test bed for real (root): namespaces and links made, echo pods reachable,
// client sockets in the client namespace, everything gone after Teardown.
#include "tools/conformance/testbed.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tools/conformance/checks.h"
#include "tools/conformance/process.h"

namespace xgate::conformance {
namespace {

bool Privileged() { return geteuid() == 0; }

bool RequirePrivileged() {
  const char* v = std::getenv("XGATE_REQUIRE_PRIVILEGED");
  return v != nullptr && std::string(v) == "1";
}

std::string Suffix() {
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 5; ++i) s += "0123456789abcdef"[rd() % 16];
  return s;
}

bool WaitForFile(const std::string& path) {
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!std::filesystem::exists(path)) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::string NetnsList() {
  absl::StatusOr<CommandResult> r = RunCommand({"ip", "netns", "list"});
  return r.ok() ? r->out : "";
}

TEST(ConformanceTestBed, BuildsReachesAndRemovesEverything) {
  if (!Privileged()) {
    if (RequirePrivileged()) FAIL() << "needs root (XGATE_REQUIRE_PRIVILEGED=1)";
    GTEST_SKIP() << "needs root";
  }
  std::string suffix = Suffix();
  std::string dir = absl::StrCat("/tmp/xgc-test-", suffix);
  std::filesystem::create_directories(dir);
  absl::StatusOr<std::unique_ptr<TestBed>> bed = TestBed::Create(suffix);
  ASSERT_TRUE(bed.ok()) << bed.status();
  std::string pod_ns;
  absl::StatusOr<std::string> ip = (*bed)->AddPod(&pod_ns);
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(*ip, "198.19.0.2");

  absl::StatusOr<pid_t> pod = Spawn({XGATE_ECHO_BIN, "--listen", "0.0.0.0:3000", "--namespace",
                                     "ns", "--pod", "web-0", "--ready-file", dir + "/pod.ready"},
                                    pod_ns, dir + "/pod.out");
  ASSERT_TRUE(pod.ok()) << pod.status();
  // An echo on the node's side of the client link stands for what the agent serves.
  absl::StatusOr<pid_t> node = Spawn({XGATE_ECHO_BIN, "--listen", "198.18.0.1:3001", "--pod",
                                      "node-0", "--ready-file", dir + "/node.ready"},
                                     (*bed)->node_ns(), dir + "/node.out");
  ASSERT_TRUE(node.ok()) << node.status();
  ASSERT_TRUE(WaitForFile(dir + "/pod.ready"));
  ASSERT_TRUE(WaitForFile(dir + "/node.ready"));

  std::string req = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
  Client from_client((*bed)->ClientSockets(), "");
  absl::StatusOr<Response> r =
      from_client.Http("198.18.0.1", 3001, false, "", req, absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ParseEcho(r->body)->pod, "node-0");
  // The client has no route to the pods, only to the Gateway range through the node.
  EXPECT_FALSE(from_client.Http(*ip, 3000, false, "", req, absl::Seconds(2)).ok());
  absl::StatusOr<CommandResult> routes = RunCommand({"ip", "-n", (*bed)->client_ns(), "route"});
  ASSERT_TRUE(routes.ok());
  EXPECT_NE(routes->out.find("198.18.100.0/24 via 198.18.0.1"), std::string::npos) << routes->out;
  // The client's and the pod's ends take redirected frames (an XDP program of their own).
  for (const std::string& ns : {(*bed)->client_ns(), pod_ns}) {
    absl::StatusOr<CommandResult> link = RunCommand({"ip", "-n", ns, "link", "show"});
    ASSERT_TRUE(link.ok());
    EXPECT_NE(link->out.find("xdp"), std::string::npos) << link->out;
  }

  int node_fd =
      open(absl::StrCat("/var/run/netns/", (*bed)->node_ns()).c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(node_fd, 0);
  Client from_node([node_fd](int d, int t) { return SocketInNamespace(node_fd, d, t); }, "");
  r = from_node.Http(*ip, 3000, false, "", req, absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ParseEcho(r->body)->pod, "web-0");
  close(node_fd);

  Stop(*node);
  EXPECT_NE(NetnsList().find(suffix), std::string::npos);
  // Teardown also stops what is still running in the namespaces (the pod's echo here).
  (*bed)->Teardown();
  EXPECT_EQ(NetnsList().find(suffix), std::string::npos) << NetnsList();
  EXPECT_NE(kill(*pod, 0), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace xgate::conformance
