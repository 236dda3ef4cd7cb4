// xgate-proxy started as root, as the agent starts it: it keeps only CAP_NET_BIND_SERVICE,
// CAP_NET_ADMIN and CAP_BPF (and with --user, that user's uid), and still opens a port below
// 1024 that a config swap adds after the drop.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "agent/l7/l7_applier.h"
#include "tests/netns/netns.h"
#include "tests/proxy/test_util.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;

using testing::ProcStatus;
using testing::WaitFor;

// A port below 1024 that nothing holds on 127.0.0.1 (0 when none).
uint16_t FreeLowPort() {
  for (uint16_t port = 1000; port > 900; --port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (free) return port;
  }
  return 0;
}

class ProxyPrivilegesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (e2e::PrivilegeRequired()) FAIL() << "needs root (XGATE_REQUIRE_PRIVILEGED=1)";
      GTEST_SKIP() << "needs root";
    }
    dir_ = std::filesystem::temp_directory_path() /
           ("xgate-proxy-privileges-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
};

TEST_P(ProxyPrivilegesTest, KeepsThreeCapabilitiesAndBindsALowPortAfterASwap) {
  const std::string user = GetParam();
  uid_t uid = 0;
  l7::L7ApplierOptions options;
  options.socket_path = (dir_ / "proxy.sock").string();
  options.proxy_binary = XGATE_PROXY_BINARY;
  options.proxy_args = {"--workers", "2", "--access-log", "off"};
  if (!user.empty()) {
    passwd* entry = getpwnam(user.c_str());
    ASSERT_NE(entry, nullptr) << user;
    uid = entry->pw_uid;
    options.proxy_args.insert(options.proxy_args.end(), {"--user", user});
  }
  auto applier = l7::L7Applier::Create(options);
  ASSERT_TRUE(applier.ok()) << applier.status();
  if (!user.empty()) {
    // The user's proxy reaches the agent's socket and makes its stats socket beside it.
    ASSERT_EQ(chown(dir_.c_str(), uid, static_cast<gid_t>(-1)), 0);
    ASSERT_EQ(chown(options.socket_path.c_str(), uid, static_cast<gid_t>(-1)), 0);
  }

  testing::TestUpstream up("up");
  compiler::Snapshot snapshot;
  snapshot.l7.set_generation(1);
  uint16_t high = testing::FreePort();
  api::Port* first = testing::AddHttpPort(snapshot.l7, high, {"127.0.0.1"});
  testing::AddRoute(*testing::AddVirtualHost(*first, ""), "r", "/", "ns/up:80");
  testing::AddCluster(snapshot.l7, "ns/up:80", up);
  ASSERT_TRUE((*applier)->Apply(snapshot).ok());
  ASSERT_TRUE(WaitFor([&] { return testing::Get(high, "h", "/first").status == 200; }));

  pid_t pid = (*applier)->proxy_pid();
  auto status = ProcStatus(pid);
  const std::string kept =
      "0000008000001400";  // CAP_BPF (39), NET_ADMIN (12), NET_BIND_SERVICE (10)
  static_assert(CAP_BPF == 39 && CAP_NET_ADMIN == 12 && CAP_NET_BIND_SERVICE == 10);
  std::string ids = std::to_string(uid);
  EXPECT_EQ(status["Uid"], ids + "\t" + ids + "\t" + ids + "\t" + ids);
  EXPECT_EQ(status["CapEff"], kept);
  EXPECT_EQ(status["CapPrm"], kept);
  EXPECT_EQ(status["CapBnd"], kept);
  EXPECT_EQ(status["CapInh"], "0000000000000000");
  EXPECT_EQ(status["CapAmb"], "0000000000000000");
  EXPECT_EQ(status["NoNewPrivs"], "1");

  // A swap adds a port below 1024: bound after the drop, with CAP_NET_BIND_SERVICE alone.
  uint16_t low = FreeLowPort();
  ASSERT_NE(low, 0) << "no free port in 901-1000 on 127.0.0.1";
  snapshot.l7.set_generation(2);
  api::Port* second = testing::AddHttpPort(snapshot.l7, low, {"127.0.0.1"});
  testing::AddRoute(*testing::AddVirtualHost(*second, ""), "r2", "/", "ns/up:80");
  ASSERT_TRUE((*applier)->Apply(snapshot).ok());
  EXPECT_TRUE(WaitFor([&] { return testing::Get(low, "h", "/low").status == 200; }))
      << "port " << low << " not served after the swap";
  EXPECT_EQ((*applier)->proxy_pid(), pid);
  EXPECT_EQ(ProcStatus(pid)["CapEff"], kept);
  (*applier)->Stop(true);
}

INSTANTIATE_TEST_SUITE_P(Users, ProxyPrivilegesTest, ::testing::Values("", "nobody"),
                         [](const auto& info) {
                           return info.param.empty() ? std::string("StartingUser") : info.param;
                         });

}  // namespace
}  // namespace xgate::proxy
