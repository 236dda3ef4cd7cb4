// explain, get conntrack and get counters through the admin API and the xgatectl binary, the
// service in this process over the seed scenario with no data plane (no --attach).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "agent/admin/server.h"
#include "tests/ops/seed_state.h"
#include "tools/xgatectl/inspect.h"

namespace xgate {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

struct CtlRun {
  int code = -1;
  std::string out, err;
};

class AdminOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(seed_.reload_status().ok()) << seed_.reload_status();
    socket_ = (seed_.tmp() / "run" / "admin.sock").string();
    auto server = admin::AdminServer::Start(socket_, seed_.pipeline());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  CtlRun Ctl(const std::string& args) {
    auto out = seed_.tmp() / "ctl.out", err = seed_.tmp() / "ctl.err";
    std::string cmd = std::string(XGATECTL_PATH) + " --socket " + socket_ + " " + args + " >" +
                      out.string() + " 2>" + err.string();
    int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, fixtures::ReadFile(out),
            fixtures::ReadFile(err)};
  }

  testing::SeedState seed_;
  std::string socket_;
  std::unique_ptr<admin::AdminServer> server_;
};

TEST_F(AdminOpsTest, ExplainRequestTable) {
  CtlRun run =
      Ctl("explain request --listener 198.18.0.1:443 --sni bar.example.com --path / "
          "-H 'env: canary'");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("Outcome:   routed"));
  EXPECT_THAT(run.out, HasSubstr("Listener:  default/prod-web/https (HTTPS)"));
  EXPECT_THAT(run.out, HasSubstr("Route:     HTTPRoute bar/bar-route rule 1 match 0"));
  EXPECT_THAT(run.out, HasSubstr("bar/bar-v2"));
  EXPECT_THAT(run.out, HasSubstr("198.18.2.21:8080"));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("198.18.2.11")));
}

TEST_F(AdminOpsTest, ExplainRequestJsonAndYaml) {
  CtlRun run =
      Ctl("explain request --listener 198.18.0.1:443 --sni foo.example.com --path /loginx -o json");
  ASSERT_EQ(run.code, 0) << run.err;
  json j = json::parse(run.out);
  EXPECT_EQ(j["request"]["route"], "HTTPRoute foo/foo-route");
  EXPECT_EQ(j["request"]["ruleIndex"], 2);
  bool login = false;
  for (const auto& s : j["request"]["steps"]) {
    if (s["reason"] == "path /loginx does not match PathPrefix /login") login = true;
  }
  EXPECT_TRUE(login) << run.out;
  run = Ctl("explain request --listener 198.18.0.1:443 --sni foo.example.com -o yaml");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("route: HTTPRoute foo/foo-route"));
}

TEST_F(AdminOpsTest, ExplainPacketFromTheSnapshot) {
  CtlRun run =
      Ctl("explain packet --src 198.18.0.50:40000 --dst 198.18.100.10:5432 --proto tcp -o json");
  ASSERT_EQ(run.code, 0) << run.err;
  json j = json::parse(run.out)["packet"];
  EXPECT_EQ(j["outcome"], "forward");
  EXPECT_EQ(j["source"], "snapshot");
  EXPECT_EQ(j["listener"], "default/edge/pg");
  run = Ctl("explain packet --src 198.18.0.50:40000 --dst 198.18.100.10:5432 --proto tcp");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("Maglev slot " + std::to_string(j["maglevSlot"].get<int>())));
  EXPECT_THAT(run.out, HasSubstr("Conntrack: not read (the agent runs without --attach)"));
}

TEST_F(AdminOpsTest, ConntrackAndCountersNeedTheFastPath) {
  for (const char* what : {"get conntrack", "get counters", "get conntrack --limit 5"}) {
    CtlRun run = Ctl(what);
    EXPECT_EQ(run.code, 1) << what;
    EXPECT_THAT(run.err, HasSubstr("without --attach")) << what;
  }
}

TEST_F(AdminOpsTest, UsageErrorsExitTwoWithAReason) {
  struct Case {
    const char* args;
    const char* says;
  } cases[] = {
      {"explain", "request or packet"},
      {"explain request --sni foo.example.com", "--listener ADDR:PORT"},
      {"explain request --listener 198.18.0.1", "ADDR:PORT"},
      {"explain request --listener 198.18.0.1:443 -H novalue", "Name: value"},
      {"explain packet --src 198.18.0.50:1 --dst 198.18.100.10:5432", "--proto"},
      {"explain packet --src 198.18.0.50:1 --dst 198.18.100.10:5432 --proto icmp", "tcp or udp"},
      {"get conntrack --limit x", "--limit"},
  };
  for (const Case& c : cases) {
    CtlRun run = Ctl(c.args);
    EXPECT_EQ(run.code, 2) << c.args;
    EXPECT_THAT(run.err, HasSubstr(c.says)) << c.args;
  }
  // The agent refuses what it cannot parse: exit 1 with its reason.
  CtlRun run = Ctl("explain packet --src 198.18.0.50:1 --dst fd00::1:5 --proto tcp");
  EXPECT_EQ(run.code, 2);
  run = Ctl("explain packet --src 198.18.0.50:1 --dst [fd00::1]:5 --proto tcp");
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("not the same IP family"));
}

TEST(XgatectlHostPort, V4AndBracketedV6) {
  auto v4 = ctl::ParseHostPort("198.18.0.1:443", "--listener");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->first, "198.18.0.1");
  EXPECT_EQ(v4->second, 443u);
  auto v6 = ctl::ParseHostPort("[fd00::1]:80", "--dst");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "fd00::1");
  EXPECT_FALSE(ctl::ParseHostPort("fd00::1:80", "--dst").ok());
  EXPECT_FALSE(ctl::ParseHostPort("198.18.0.1:0", "--dst").ok());
  EXPECT_FALSE(ctl::ParseHostPort(":80", "--dst").ok());
}

}  // namespace
}  // namespace xgate
