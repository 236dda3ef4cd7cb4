// The gRPC pieces of the proxy's local answers: which requests are gRPC, the status mapping,
// grpc-message's encoding.
#include "userspace-proxy/http/grpc_status.h"

#include <gtest/gtest.h>

namespace xgate::http {
namespace {

TEST(GrpcStatus, ContentTypes) {
  EXPECT_TRUE(IsGrpcContentType("application/grpc"));
  EXPECT_TRUE(IsGrpcContentType("application/grpc+proto"));
  EXPECT_TRUE(IsGrpcContentType("Application/GRPC;charset=utf-8"));
  EXPECT_FALSE(IsGrpcContentType("application/grpc-web"));
  EXPECT_FALSE(IsGrpcContentType("application/grpcx"));
  EXPECT_FALSE(IsGrpcContentType("application/json"));
  EXPECT_FALSE(IsGrpcContentType(""));
}

TEST(GrpcStatus, LocalRepliesMapAsEnvoyDoes) {
  EXPECT_EQ(GrpcStatusForHttp(404), 12);
  EXPECT_EQ(GrpcStatusForHttp(503), 14);
  EXPECT_EQ(GrpcStatusForHttp(502), 14);
  EXPECT_EQ(GrpcStatusForHttp(500), 14);
  EXPECT_EQ(GrpcStatusForHttp(504), 4);
  EXPECT_EQ(GrpcStatusForHttp(400), 13);
  EXPECT_EQ(GrpcStatusForHttp(413), 2);
}

TEST(GrpcStatus, MessagePercentEncoding) {
  EXPECT_EQ(GrpcPercentEncode("no route"), "no route");
  EXPECT_EQ(GrpcPercentEncode("100%\n"), "100%25%0A");
  EXPECT_EQ(GrpcPercentEncode("caf\xc3\xa9"), "caf%C3%A9");
}

}  // namespace
}  // namespace xgate::http
