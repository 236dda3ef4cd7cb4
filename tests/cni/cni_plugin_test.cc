#include "cni-hooks/xgate-cni/cni_plugin.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace xgate::cni {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A bridge plugin's result: host veth, container eth0 with one IPv4 and one IPv6 address.
const json kPrevResult = json::parse(R"({
  "cniVersion": "1.0.0",
  "interfaces": [
    {"name": "cni0", "mac": "00:11:22:33:44:55"},
    {"name": "veth1234", "mac": "00:11:22:33:44:66"},
    {"name": "eth0", "mac": "00:11:22:33:44:77", "sandbox": "/var/run/netns/pod1"}
  ],
  "ips": [
    {"address": "198.18.5.7/24", "gateway": "198.18.5.1", "interface": 2},
    {"address": "fd00:5::7/64", "interface": 2}
  ],
  "routes": [{"dst": "0.0.0.0/0"}]
})");

class CniPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spool_ = fs::temp_directory_path() / ("xgate-cni-test-" + std::to_string(getpid()));
    fs::remove_all(spool_);
  }
  void TearDown() override { fs::remove_all(spool_); }

  std::map<std::string, std::string> Env(const std::string& command) {
    return {{"CNI_COMMAND", command},
            {"CNI_CONTAINERID", "c0ffee"},
            {"CNI_NETNS", "/var/run/netns/pod1"},
            {"CNI_IFNAME", "eth0"},
            {"CNI_PATH", "/opt/cni/bin"}};
  }
  std::string Conf(bool with_prev = true) {
    json conf = {{"cniVersion", "1.0.0"},
                 {"name", "podnet"},
                 {"type", "xgate-cni"},
                 {"spoolDir", spool_.string()}};
    if (with_prev) conf["prevResult"] = kPrevResult;
    return conf.dump();
  }
  fs::path spool_;
};

TEST_F(CniPluginTest, VersionListsSupportedVersions) {
  Outcome out = RunPlugin({{"CNI_COMMAND", "VERSION"}}, "");
  ASSERT_EQ(out.exit_code, 0);
  json v = json::parse(out.stdout_text);
  EXPECT_EQ(v["cniVersion"], "1.0.0");
  EXPECT_NE(std::find(v["supportedVersions"].begin(), v["supportedVersions"].end(), "1.0.0"),
            v["supportedVersions"].end());
}

TEST_F(CniPluginTest, AddPassesPrevResultOnAndRecordsTheAttachment) {
  Outcome out = RunPlugin(Env("ADD"), Conf());
  ASSERT_EQ(out.exit_code, 0) << out.stdout_text;
  EXPECT_EQ(json::parse(out.stdout_text), kPrevResult);

  std::ifstream in(spool_ / "c0ffee-eth0.json");
  json record = json::parse(in);
  EXPECT_EQ(record["hostInterfaces"], json({"cni0", "veth1234"}));
  EXPECT_EQ(record["addresses"], json({"198.18.5.7", "fd00:5::7"}));
  EXPECT_EQ(record["netns"], "/var/run/netns/pod1");

  EXPECT_EQ(RunPlugin(Env("CHECK"), Conf()).exit_code, 0);
}

TEST_F(CniPluginTest, DelRemovesTheRecordAndNeverFails) {
  ASSERT_EQ(RunPlugin(Env("ADD"), Conf()).exit_code, 0);
  EXPECT_EQ(RunPlugin(Env("DEL"), Conf(false)).exit_code, 0);
  EXPECT_FALSE(fs::exists(spool_ / "c0ffee-eth0.json"));
  EXPECT_EQ(RunPlugin(Env("DEL"), Conf(false)).exit_code, 0);  // again: still fine
  Outcome check = RunPlugin(Env("CHECK"), Conf());
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_EQ(json::parse(check.stdout_text)["code"], kUnknownContainer);
}

TEST_F(CniPluginTest, RefusesBadInputWithCniErrors) {
  auto code = [](const Outcome& o) { return json::parse(o.stdout_text)["code"].get<int>(); };
  Outcome not_json = RunPlugin(Env("ADD"), "{nope");
  EXPECT_EQ(not_json.exit_code, 1);
  EXPECT_EQ(code(not_json), kDecodingFailure);

  json old = json::parse(Conf());
  old["cniVersion"] = "0.2.0";
  EXPECT_EQ(code(RunPlugin(Env("ADD"), old.dump())), kIncompatibleVersion);

  EXPECT_EQ(code(RunPlugin(Env("ADD"), Conf(false))), kInvalidConfig);  // not chained

  auto env = Env("ADD");
  env["CNI_CONTAINERID"] = "../escape";
  EXPECT_EQ(code(RunPlugin(env, Conf())), kInvalidEnvironment);
  env = Env("BOGUS");
  EXPECT_EQ(code(RunPlugin(env, Conf())), kInvalidEnvironment);
  EXPECT_FALSE(fs::exists(spool_));
}

}  // namespace
}  // namespace xgate::cni
