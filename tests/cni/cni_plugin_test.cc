#include "cni-hooks/xgate-cni/cni_plugin.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cni-hooks/xgate-cni/record.h"

namespace xgate::cni {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A bridge plugin's result: bridge, host veth, container eth0 with an IPv4 and an IPv6 address.
// Keys deliberately out of alphabetical order: the result goes back out in the same order.
constexpr char kPrevResult[] = R"({
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
  "routes": [{"dst": "0.0.0.0/0"}],
  "dns": {}
})";

class CniPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = fs::temp_directory_path() / ("xgate-cni-test-" + std::to_string(getpid()));
    fs::remove_all(state_);
  }
  void TearDown() override { fs::remove_all(state_); }

  std::map<std::string, std::string> Env(const std::string& command) {
    return {{"CNI_COMMAND", command},
            {"CNI_CONTAINERID", "c0ffee"},
            {"CNI_NETNS", "/var/run/netns/pod1"},
            {"CNI_IFNAME", "eth0"},
            {"CNI_PATH", "/opt/cni/bin"}};
  }
  std::string Conf(bool with_prev = true, const std::string& version = "1.0.0") {
    nlohmann::ordered_json conf = {{"cniVersion", version},
                                   {"name", "podnet"},
                                   {"type", "xgate-cni"},
                                   {"stateDir", state_.string()},
                                   {"adminSocket", (state_ / "admin.sock").string()}};
    if (with_prev) conf["prevResult"] = nlohmann::ordered_json::parse(kPrevResult);
    return conf.dump();
  }
  Outcome Run(const std::map<std::string, std::string>& env, const std::string& conf) {
    return RunPlugin(env, conf, report_);
  }
  fs::path Record() { return RecordPath(state_, "podnet", "c0ffee", "eth0"); }
  int Code(const Outcome& o) { return json::parse(o.stdout_text)["code"].get<int>(); }

  fs::path state_;
  std::vector<api::ReportPodAttachmentRequest> reported_;
  absl::Status agent_answer_ = absl::OkStatus();
  AgentReporter report_ = [this](const std::string&, const api::ReportPodAttachmentRequest& e) {
    reported_.push_back(e);
    return agent_answer_;
  };
};

TEST_F(CniPluginTest, VersionListsSupportedVersions) {
  Outcome out = Run({{"CNI_COMMAND", "VERSION"}}, R"({"cniVersion":"1.0.0"})");
  ASSERT_EQ(out.exit_code, 0);
  json v = json::parse(out.stdout_text);
  EXPECT_EQ(v["cniVersion"], "1.1.0");
  EXPECT_EQ(v["supportedVersions"], json({"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}));
}

TEST_F(CniPluginTest, AddPassesPrevResultOnUnchangedAndRecordsTheAttachment) {
  Outcome out = Run(Env("ADD"), Conf());
  ASSERT_EQ(out.exit_code, 0) << out.stdout_text;
  EXPECT_EQ(out.stdout_text, nlohmann::ordered_json::parse(kPrevResult).dump());

  auto record = ReadRecord(Record());
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(RecordToJson(*record)["hostInterfaces"], json({"cni0", "veth1234"}));
  EXPECT_EQ(RecordToJson(*record)["addresses"], json({"198.18.5.7", "fd00:5::7"}));
  EXPECT_EQ(record->netns(), "/var/run/netns/pod1");
  ASSERT_EQ(reported_.size(), 1u);
  EXPECT_TRUE(SameAttachment(reported_[0].added(), *record));

  EXPECT_EQ(Run(Env("CHECK"), Conf()).exit_code, 0);
}

TEST_F(CniPluginTest, AnAgentThatIsAwayDoesNotFailTheAdd) {
  agent_answer_ = absl::UnavailableError("connection refused");
  Outcome out = Run(Env("ADD"), Conf());
  EXPECT_EQ(out.exit_code, 0) << out.stdout_text;
  EXPECT_TRUE(fs::exists(Record()));
}

TEST_F(CniPluginTest, DelRemovesTheRecordAndNeverFails) {
  ASSERT_EQ(Run(Env("ADD"), Conf()).exit_code, 0);
  Outcome del = Run(Env("DEL"), Conf(false));
  EXPECT_EQ(del.exit_code, 0);
  EXPECT_EQ(del.stdout_text, "");
  EXPECT_FALSE(fs::exists(Record()));
  ASSERT_EQ(reported_.size(), 2u);
  EXPECT_EQ(reported_[1].removed().container_id(), "c0ffee");
  EXPECT_EQ(Run(Env("DEL"), Conf(false)).exit_code, 0);  // again: still fine
  auto no_netns = Env("DEL");
  no_netns.erase("CNI_NETNS");
  EXPECT_EQ(Run(no_netns, Conf(false)).exit_code, 0);
  Outcome check = Run(Env("CHECK"), Conf());
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_EQ(Code(check), kNoRecord);
}

TEST_F(CniPluginTest, RefusesBadInputWithCniErrors) {
  Outcome not_json = Run(Env("ADD"), "{nope");
  EXPECT_EQ(not_json.exit_code, 1);
  EXPECT_EQ(Code(not_json), kDecodingFailure);
  EXPECT_EQ(Code(Run(Env("ADD"), Conf(true, "0.2.0"))), kIncompatibleVersion);
  EXPECT_EQ(Code(Run(Env("CHECK"), Conf(true, "0.3.1"))), kIncompatibleVersion);  // no CHECK
  EXPECT_EQ(Code(Run(Env("STATUS"), Conf(false, "1.0.0"))), kIncompatibleVersion);
  EXPECT_EQ(Code(Run(Env("ADD"), Conf(false))), kInvalidConfig);  // not chained
  json no_name = json::parse(Conf());
  no_name.erase("name");
  EXPECT_EQ(Code(Run(Env("ADD"), no_name.dump())), kInvalidConfig);

  auto env = Env("ADD");
  env["CNI_CONTAINERID"] = "../escape";
  EXPECT_EQ(Code(Run(env, Conf())), kInvalidEnvironment);
  env = Env("ADD");
  env["CNI_IFNAME"] = "much-too-long-name";
  EXPECT_EQ(Code(Run(env, Conf())), kInvalidEnvironment);
  EXPECT_EQ(Code(Run(Env("BOGUS"), Conf())), kInvalidEnvironment);
  EXPECT_FALSE(fs::exists(state_));
  EXPECT_TRUE(reported_.empty());
}

TEST_F(CniPluginTest, GcKeepsOnlyTheValidAttachments) {
  ASSERT_EQ(Run(Env("ADD"), Conf()).exit_code, 0);
  auto other = Env("ADD");
  other["CNI_CONTAINERID"] = "beef";
  ASSERT_EQ(Run(other, Conf()).exit_code, 0);
  json gc = json::parse(Conf(false, "1.1.0"));
  gc["cni.dev/valid-attachments"] = json::array({{{"containerID", "beef"}, {"ifname", "eth0"}}});
  std::map<std::string, std::string> env = {{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/opt/cni/bin"}};
  EXPECT_EQ(Run(env, gc.dump()).exit_code, 0);
  EXPECT_FALSE(fs::exists(Record()));
  EXPECT_TRUE(fs::exists(RecordPath(state_, "podnet", "beef", "eth0")));
  EXPECT_EQ(reported_.back().removed().container_id(), "c0ffee");
}

TEST_F(CniPluginTest, StatusSaysWhetherRecordsCanBeWritten) {
  std::map<std::string, std::string> env = {{"CNI_COMMAND", "STATUS"},
                                            {"CNI_PATH", "/opt/cni/bin"}};
  EXPECT_EQ(Run(env, Conf(false, "1.1.0")).exit_code, 0);
  json blocked = json::parse(Conf(false, "1.1.0"));
  blocked["stateDir"] = "/proc/version/nowhere";
  Outcome out = Run(env, blocked.dump());
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(Code(out), kPluginNotAvailable);
}

}  // namespace
}  // namespace xgate::cni
