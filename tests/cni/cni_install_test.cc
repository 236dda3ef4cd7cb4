// xgate-cni-install's edits of a node's CNI folders, on folders made by each test.
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cni-hooks/install/installer.h"
#include "cni-hooks/install/watch.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xgate::cni_install {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kBridgeConflist[] = R"({
  "cniVersion": "1.0.0",
  "name": "podnet",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "subnet": "198.18.0.0/24"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
)";
constexpr char kPtpConf[] =
    R"({"cniVersion":"0.4.0","name":"ptpnet","type":"ptp","ipam":{"type":"host-local","subnet":"198.18.1.0/24"}})";

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void Write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

class CniInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("xgate-cni-install-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "net.d");
    fs::create_directories(root_ / "bin");
    Write(root_ / "xgate-cni.src", "#!/bin/sh\necho plugin v1\n");
    options_.conf_dir = (root_ / "net.d").string();
    options_.bin_dir = (root_ / "bin").string();
    options_.plugin_binary = (root_ / "xgate-cni.src").string();
    options_.entry = Json{{"type", "xgate-cni"}, {"stateDir", "/run/xgate/cni"}};
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path Conf(const std::string& name) const { return root_ / "net.d" / name; }
  Json ReadJson(const std::string& name) const { return Json::parse(Read(Conf(name))); }

  fs::path root_;
  Options options_;
};

TEST_F(CniInstallTest, AppendsXgateLastToTheActiveListAndCopiesTheBinary) {
  Write(Conf("10-bridge.conflist"), kBridgeConflist);
  auto done = Install(options_);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->conf_file, Conf("10-bridge.conflist").string());
  EXPECT_TRUE(done->conf_written);
  EXPECT_TRUE(done->binary_written);

  Json want = Json::parse(kBridgeConflist);
  want["plugins"].push_back(options_.entry);
  EXPECT_EQ(ReadJson("10-bridge.conflist"), want);
  fs::path binary = root_ / "bin" / "xgate-cni";
  EXPECT_EQ(Read(binary), Read(options_.plugin_binary));
  struct stat st {};
  ASSERT_EQ(stat(binary.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

TEST_F(CniInstallTest, RunningAgainWritesNothing) {
  Write(Conf("10-bridge.conflist"), kBridgeConflist);
  ASSERT_TRUE(Install(options_).ok());
  std::string before = Read(Conf("10-bridge.conflist"));
  auto ino = [](const fs::path& p) {
    struct stat st {};
    stat(p.c_str(), &st);
    return st.st_ino;
  };
  auto conf_inode = ino(Conf("10-bridge.conflist"));
  auto bin_inode = ino(root_ / "bin" / "xgate-cni");

  auto again = Install(options_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->conf_written);
  EXPECT_FALSE(again->binary_written);
  EXPECT_EQ(Read(Conf("10-bridge.conflist")), before);
  // Replacing is a rename, so an unchanged inode means nothing was written.
  EXPECT_EQ(ino(Conf("10-bridge.conflist")), conf_inode);
  EXPECT_EQ(ino(root_ / "bin" / "xgate-cni"), bin_inode);
}

TEST_F(CniInstallTest, AStaleEntryIsUpdatedAndMovedLast) {
  Json list = Json::parse(kBridgeConflist);
  list["plugins"].insert(list["plugins"].begin() + 1,
                         Json{{"type", "xgate-cni"}, {"stateDir", "/old"}});
  Write(Conf("10-bridge.conflist"), list.dump());
  Write(root_ / "xgate-cni.src", "#!/bin/sh\necho plugin v2\n");
  Write(root_ / "bin" / "xgate-cni", "#!/bin/sh\necho plugin v1\n");
  auto done = Install(options_);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->binary_written);
  Json got = ReadJson("10-bridge.conflist");
  ASSERT_EQ(got["plugins"].size(), 3u);
  EXPECT_EQ(got["plugins"][0]["type"], "bridge");
  EXPECT_EQ(got["plugins"][1]["type"], "portmap");
  EXPECT_EQ(got["plugins"][2], options_.entry);
  EXPECT_EQ(Read(root_ / "bin" / "xgate-cni"), "#!/bin/sh\necho plugin v2\n");
}

TEST_F(CniInstallTest, OnlyTheFirstFileInNameOrderIsEdited) {
  Write(Conf("05-first.conflist"), kBridgeConflist);
  Write(Conf("10-second.conflist"), kBridgeConflist);
  Write(Conf("README"), "not a configuration");
  ASSERT_TRUE(Install(options_).ok());
  EXPECT_TRUE(HasPlugin(ReadJson("05-first.conflist")));
  EXPECT_EQ(Read(Conf("10-second.conflist")), kBridgeConflist);
}

TEST_F(CniInstallTest, ASinglePluginConfBecomesAListAndUninstallRestoresIt) {
  Write(Conf("20-ptp.conf"), kPtpConf);
  Write(Conf("30-other.conflist"), kBridgeConflist);
  auto done = Install(options_);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->conf_file, Conf("20-ptp.conflist").string());
  EXPECT_FALSE(fs::exists(Conf("20-ptp.conf")));
  EXPECT_EQ(Read(Conf("20-ptp.conf.xgate-orig")), kPtpConf);
  auto active = ActiveConfFile(options_.conf_dir);
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(*active, Conf("20-ptp.conflist").string());

  Json got = ReadJson("20-ptp.conflist");
  EXPECT_EQ(got["cniVersion"], "0.4.0");
  EXPECT_EQ(got["name"], "ptpnet");
  ASSERT_EQ(got["plugins"].size(), 2u);
  Json ptp = Json::parse(kPtpConf);
  ptp.erase("cniVersion");
  ptp.erase("name");
  EXPECT_EQ(got["plugins"][0], ptp);
  EXPECT_EQ(got["plugins"][1], options_.entry);
  EXPECT_FALSE(Install(options_)->conf_written);

  ASSERT_TRUE(Uninstall(options_).ok());
  EXPECT_EQ(Read(Conf("20-ptp.conf")), kPtpConf);
  EXPECT_FALSE(fs::exists(Conf("20-ptp.conflist")));
  EXPECT_FALSE(fs::exists(Conf("20-ptp.conf.xgate-orig")));
  EXPECT_EQ(Read(Conf("30-other.conflist")), kBridgeConflist);
  EXPECT_FALSE(fs::exists(root_ / "bin" / "xgate-cni"));
}

TEST_F(CniInstallTest, UninstallTakesOnlyXgateOutOfAList) {
  Write(Conf("10-bridge.conflist"), kBridgeConflist);
  ASSERT_TRUE(Install(options_).ok());
  ASSERT_TRUE(Uninstall(options_).ok());
  EXPECT_EQ(ReadJson("10-bridge.conflist"), Json::parse(kBridgeConflist));
  EXPECT_FALSE(fs::exists(root_ / "bin" / "xgate-cni"));
  // Nothing installed: uninstalling again is fine and changes nothing.
  ASSERT_TRUE(Uninstall(options_).ok());
  EXPECT_EQ(ReadJson("10-bridge.conflist"), Json::parse(kBridgeConflist));
}

TEST_F(CniInstallTest, MalformedConfigurationsAreRefusedWithTheirFieldAndLeftAsTheyWere) {
  struct Case {
    std::string file, text, error;
  } cases[] = {
      {"10-a.conflist", "{\n  \"name\": \"x\",\n  \"plugins\": [\n", "line 4"},
      {"10-a.conflist", R"({"cniVersion":"1.0.0","name":"x"})", "plugins"},
      {"10-a.conflist", R"({"cniVersion":"1.0.0","name":"x","plugins":[{"type":"bridge"},{}]})",
       "plugins[1].type"},
      {"10-a.conflist", R"({"name":"x","plugins":[{"type":"bridge"}]})", "cniVersion"},
      {"10-a.conf", R"({"cniVersion":"1.0.0","name":"x"})", "type"},
      {"10-a.conf", R"(["not", "an", "object"])", "not a JSON object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    fs::remove_all(root_ / "net.d");
    fs::create_directories(root_ / "net.d");
    Write(Conf(c.file), c.text);
    auto done = Install(options_);
    ASSERT_FALSE(done.ok());
    EXPECT_EQ(done.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(done.status().message()), HasSubstr(Conf(c.file).string()));
    EXPECT_THAT(std::string(done.status().message()), HasSubstr(c.error));
    EXPECT_EQ(Read(Conf(c.file)), c.text);
    EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "net.d"), fs::directory_iterator()), 1);
  }
}

TEST_F(CniInstallTest, NoConfigurationIsNotFound) {
  auto done = Install(options_);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.status().code(), absl::StatusCode::kNotFound);
  WatchOptions once{.once = true, .wait = std::chrono::milliseconds(0)};
  EXPECT_EQ(Watch(options_, once).code(), absl::StatusCode::kNotFound);
}

TEST_F(CniInstallTest, WaitsForTheNodesConfigurationToAppear) {
  WatchOptions once{.once = true, .wait = std::chrono::seconds(60)};
  // The primary CNI writes its configuration while the installer waits (or before it
  // looks: either way it ends installed).
  std::thread primary([&] { Write(Conf("10-bridge.conflist"), kBridgeConflist); });
  absl::Status done = Watch(options_, once);
  primary.join();
  ASSERT_TRUE(done.ok()) << done;
  EXPECT_TRUE(HasPlugin(ReadJson("10-bridge.conflist")));
}

TEST_F(CniInstallTest, WatchPutsXgateBackWhenThePrimaryRewritesItsList) {
  Write(Conf("10-bridge.conflist"), kBridgeConflist);
  int stop = eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(stop, 0);
  absl::Status result;
  std::thread watcher([&] { result = Watch(options_, {.stop_fd = stop}); });
  auto installed = [&] {
    for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         std::chrono::steady_clock::now() < end;
         std::this_thread::sleep_for(std::chrono::milliseconds(10))) {
      auto j = Json::parse(Read(Conf("10-bridge.conflist")), nullptr, false);
      if (!j.is_discarded() && HasPlugin(j)) return true;
    }
    return false;
  };
  EXPECT_TRUE(installed());
  for (int i = 0; i < 3; ++i) {
    // As Calico or Cilium do on restart: their own list written again, without ours.
    fs::path tmp = root_ / "net.d" / ".primary.tmp";
    Write(tmp, kBridgeConflist);
    fs::rename(tmp, Conf("10-bridge.conflist"));
    EXPECT_TRUE(installed()) << "round " << i;
  }
  uint64_t one = 1;
  ASSERT_EQ(write(stop, &one, sizeof one), 8);
  watcher.join();
  close(stop);
  EXPECT_TRUE(result.ok()) << result;
  Json want = Json::parse(kBridgeConflist);
  want["plugins"].push_back(options_.entry);
  EXPECT_EQ(ReadJson("10-bridge.conflist"), want);
}

}  // namespace
}  // namespace xgate::cni_install
