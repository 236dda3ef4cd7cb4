#include "tools/xgatectl/args.h"

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
}

TEST(XgatectlArgs, Refusals) {
  EXPECT_FALSE(ParseArgs({"xgatectl", "check", "-f"}).ok());
  EXPECT_FALSE(ParseArgs({"xgatectl", "check", "-o", "xml"}).ok());
  EXPECT_FALSE(ParseArgs({"xgatectl", "--bogus", "x", "check"}).ok());
  EXPECT_FALSE(ParseArgs({"xgatectl"}).ok());
}

}  // namespace
}  // namespace xgate::ctl
