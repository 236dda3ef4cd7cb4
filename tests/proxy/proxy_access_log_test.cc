// The JSON access log: one line per request with route, cluster, endpoint, status and
// sizes, written to a file that is reopened (after rotation) on request.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "nlohmann/json.hpp"
#include "tests/proxy/test_util.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;

std::vector<nlohmann::json> ReadLines(const std::filesystem::path& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

template <typename Predicate>
bool WaitFor(Predicate predicate) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(ProxyAccessLogTest, OneJsonLinePerRequestAndReopen) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("xgate-access-log-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::path log = dir / "access.log";
  ASSERT_TRUE(AccessLog::Open(log.string()).ok());

  testing::TestUpstream up("up");
  uint16_t port = testing::FreePort();
  api::L7Config config;
  config.set_generation(1);
  api::Port* p = testing::AddHttpPort(config, port);
  api::VirtualHost* vhost = testing::AddVirtualHost(*p, "");
  testing::AddRoute(*vhost, "logged", "/", "ns/up:80");
  testing::AddCluster(config, "ns/up:80", up);
  ServerOptions options;
  Server server(options);
  server.Start();
  ASSERT_TRUE(server.Apply(config).ok());
  ASSERT_TRUE(server.WaitApplied(1, 5s));

  testing::Client client("127.0.0.1", port);
  client.Send("POST /first HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_EQ(client.Read("POST").status, 200);
  ASSERT_TRUE(WaitFor([&] { return ReadLines(log).size() == 1; }));
  nlohmann::json line = ReadLines(log)[0];
  EXPECT_EQ(line["route"], "test/logged");
  EXPECT_EQ(line["rule"], 0);
  EXPECT_EQ(line["cluster"], "ns/up:80");
  EXPECT_EQ(line["endpoint"], "127.0.0.1:" + std::to_string(up.port()));
  EXPECT_EQ(line["status"], 200);
  EXPECT_EQ(line["method"], "POST");
  EXPECT_EQ(line["path"], "/first");
  EXPECT_EQ(line["authority"], "example.com");
  EXPECT_EQ(line["bytes_in"], 3);
  EXPECT_EQ(line["bytes_out"], std::string("up /first").size());
  EXPECT_TRUE(line["client"].get<std::string>().starts_with("127.0.0.1:"));
  EXPECT_GE(line["duration_ms"].get<double>(), 0.0);

  // Rotation: move the file away, reopen, and the next line lands in a new file.
  std::filesystem::rename(log, dir / "access.log.1");
  ASSERT_TRUE(AccessLog::Reopen().ok());
  client.Send("GET /second HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(client.Read().status, 200);
  ASSERT_TRUE(WaitFor([&] { return ReadLines(log).size() == 1; }));
  EXPECT_EQ(ReadLines(log)[0]["path"], "/second");
  EXPECT_EQ(ReadLines(dir / "access.log.1").size(), 1u);

  server.Stop();
  AccessLog::Disable();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace xgate::proxy
