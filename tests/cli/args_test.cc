#include "tools/xgatectl/args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace xgate::ctl {
namespace {

TEST(XgatectlArgs, FlagsBeforeAndAfterTheCommand) {
  auto args = ParseArgs({"xgatectl", "--socket", "/tmp/a.sock", "get", "routes", "-o=yaml"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->command, "get");
  EXPECT_EQ(args->positional, std::vector<std::string>{"routes"});
  EXPECT_EQ(args->socket, "/tmp/a.sock");
  EXPECT_EQ(args->output, "yaml");
}

TEST(XgatectlArgs, CheckWithFolder) {
  auto args = ParseArgs({"xgatectl", "check", "-f", "dir", "-o", "json"});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->file, "dir");
  EXPECT_EQ(args->output, "json");
  EXPECT_EQ(args->socket, kDefaultSocket);
  EXPECT_EQ(args->max_gateway_listeners, 10000u);
  args = ParseArgs({"xgatectl", "check", "-f", "dir", "--max-gateway-listeners", "3"});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->max_gateway_listeners, 3u);
  EXPECT_FALSE(ParseArgs({"xgatectl", "check", "-f", "dir", "--max-gateway-listeners", "0"}).ok());
}

TEST(XgatectlArgs, KubectlStyleGet) {
  auto args = ParseArgs({"xgatectl", "get", "routes", "baz", "-l", "team=web", "-n", "foo", "-o",
                         "wide", "-s", "unix:///run/a.sock", "--no-headers"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->positional, (std::vector<std::string>{"routes", "baz"}));
  EXPECT_EQ(args->name, "baz");
  EXPECT_EQ(args->selector, "team=web");
  EXPECT_EQ(args->ns, "foo");
  EXPECT_TRUE(args->wide);
  EXPECT_EQ(args->output, "");
  EXPECT_EQ(args->socket, "/run/a.sock");
  EXPECT_TRUE(args->no_headers);
  args = ParseArgs({"xgatectl", "get", "gateways", "-n", "foo", "-A"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->ns, "");
}

TEST(XgatectlArgs, ExplainFlagsBelongToTheirCommand) {
  auto args = ParseArgs({"xgatectl", "explain", "request", "--listener", "198.18.0.1:443", "-H",
                         "a: b", "-H=c: d", "--socket=/s"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->command, "explain");
  EXPECT_EQ(args->positional, std::vector<std::string>{"request"});
  EXPECT_EQ(args->headers, (std::vector<std::string>{"a: b", "c: d"}));
  EXPECT_EQ(args->socket, "/s");
  auto wrong = ParseArgs({"xgatectl", "explain", "packet", "--listener", "x"});
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(std::string(wrong.status().message()), ::testing::HasSubstr("--listener"));
}

TEST(XgatectlArgs, Refusals) {
  EXPECT_FALSE(ParseArgs({"xgatectl", "check", "-f"}).ok());
  EXPECT_FALSE(ParseArgs({"xgatectl", "check", "-o", "xml"}).ok());
  EXPECT_FALSE(ParseArgs({"xgatectl", "--bogus", "x", "check"}).ok());
  EXPECT_FALSE(ParseArgs({"xgatectl"}).ok());
  EXPECT_FALSE(ParseArgs({"xgatectl", "get", "pets"}).ok());
  EXPECT_FALSE(ParseArgs({"xgatectl", "check", "-o", "wide"}).ok());
}

}  // namespace
}  // namespace xgate::ctl
