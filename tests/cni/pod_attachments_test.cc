// The agent's store of pod attachments: what it reads from xgate-cni's state folder at
// start, and the events the plugin reports.
#include "agent/pods/pod_attachments.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace xgate::pods {
namespace {

namespace fs = std::filesystem;

cni::PodRecord Record(const std::string& network, const std::string& container) {
  cni::PodRecord r;
  r.set_network(network);
  r.set_container_id(container);
  r.set_ifname("eth0");
  r.set_netns("/run/netns/" + container);
  r.add_host_interfaces("veth" + container);
  r.add_addresses("198.18.7.2");
  return r;
}

class PodAttachmentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("xgate-pods-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> Containers(const PodAttachments& pods) {
    std::vector<std::string> out;
    for (const auto& r : pods.List()) out.push_back(r.network() + "/" + r.container_id());
    return out;
  }
  fs::path dir_;
};

TEST_F(PodAttachmentsTest, AnEmptyOrMissingFolderHoldsNone) {
  PodAttachments pods(dir_.string());
  EXPECT_TRUE(pods.LoadStateDir().empty());
  EXPECT_TRUE(pods.List().empty());
}

TEST_F(PodAttachmentsTest, ReadsEveryNetworksRecordsAndSkipsBrokenOnes) {
  ASSERT_TRUE(cni::WriteRecord(dir_, Record("net-a", "c1")).ok());
  ASSERT_TRUE(cni::WriteRecord(dir_, Record("net-b", "c2")).ok());
  fs::path broken = cni::RecordPath(dir_, "net-a", "c3", "eth0");
  std::ofstream(broken) << "{\"network\": 5}";
  std::ofstream(dir_ / "net-a" / "c4:eth0.json.tmp77") << "half";  // a write in progress
  PodAttachments pods(dir_.string());
  auto errors = pods.LoadStateDir();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(broken.string()), std::string::npos) << errors[0];
  EXPECT_EQ(Containers(pods), (std::vector<std::string>{"net-a/c1", "net-b/c2"}));
  auto listed = pods.List();
  EXPECT_TRUE(cni::SameAttachment(listed[0], Record("net-a", "c1")));
}

TEST_F(PodAttachmentsTest, ReportedEventsAddReplaceAndRemove) {
  PodAttachments pods(dir_.string());
  pods.Added(Record("net", "c1"));
  pods.Added(Record("net", "c2"));
  cni::PodRecord moved = Record("net", "c1");
  moved.set_addresses(0, "198.18.7.9");
  pods.Added(moved);  // ADD again for the same key: the newer one
  EXPECT_EQ(Containers(pods), (std::vector<std::string>{"net/c1", "net/c2"}));
  EXPECT_EQ(pods.List()[0].addresses(0), "198.18.7.9");
  cni::PodRecord key;
  key.set_network("net");
  key.set_container_id("c1");
  key.set_ifname("eth0");
  pods.Removed(key);
  pods.Removed(key);  // twice: nothing more to do
  EXPECT_EQ(Containers(pods), (std::vector<std::string>{"net/c2"}));
}

}  // namespace
}  // namespace xgate::pods
