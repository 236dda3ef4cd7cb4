#include "agent/admin/metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/fixtures/fixtures.h"

namespace xgate::admin {
namespace {

using ::testing::HasSubstr;

// Sends `request` to 127.0.0.1:port and returns everything the server answers.
std::string Exchange(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "connect failed";
  }
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
  close(fd);
  return out;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixtures::WriteSeedV1(dir_.path());
    pipeline_ =
        std::make_unique<standalone::Pipeline>(dir_.path(), std::vector<std::string>{"198.18.0.1"},
                                               std::vector<std::unique_ptr<appliers::Applier>>{});
    auto server =
        MetricsServer::Start("127.0.0.1:0", [this] { return RenderAgentMetrics(*pipeline_); });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  fixtures::TempDir dir_;
  std::unique_ptr<standalone::Pipeline> pipeline_;
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsTest, ScrapeShowsTheAppliedState) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  ASSERT_TRUE(pipeline_->Reload().ok());  // unchanged
  std::string response = Exchange(server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(response, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_snapshot_generation 1\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_reloads_total{result=\"applied\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_reloads_total{result=\"unchanged\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_objects{kind=\"HTTPRoute\"} 2\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_refused_documents 0\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_conditions{type=\"Accepted\",status=\"True\"} "));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_last_reload_ok 1\n"));
}

TEST_F(MetricsTest, UnreadableFolderIsCounted) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  std::filesystem::remove_all(dir_.path());
  EXPECT_FALSE(pipeline_->Reload().ok());
  std::string response = Exchange(server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_reloads_total{result=\"unreadable\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_last_reload_ok 0\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_snapshot_generation 1\n"));
}

TEST_F(MetricsTest, OtherRequestsAreRefused) {
  EXPECT_THAT(Exchange(server_->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
              HasSubstr("HTTP/1.1 404"));
  EXPECT_THAT(Exchange(server_->port(), "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
              HasSubstr("HTTP/1.1 405"));
  EXPECT_THAT(Exchange(server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n bad\r\n\r\n"),
              HasSubstr("HTTP/1.1 400"));
}

TEST(MetricsServer, BadAddressIsRefused) {
  EXPECT_FALSE(MetricsServer::Start("no-port", [] { return ""; }).ok());
  EXPECT_FALSE(MetricsServer::Start("300.1.1.1:9000", [] { return ""; }).ok());
}

}  // namespace
}  // namespace xgate::admin
