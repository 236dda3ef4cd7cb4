// Transport over TLS: SSL_read/SSL_write are not preceded by a check of the thread's OpenSSL
// error queue, so an error an earlier call left there must not turn a retry (nothing to read,
// a full socket) or the peer's close_notify into a failure, and must not outlive the failure
// path. A TLS server Transport and an OpenSSL client over a socket pair.
#include "userspace-proxy/server/transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/proxy/hostile.h"
#include "userspace-proxy/server/tls.h"

namespace xgate::proxy {
namespace {

// An error on this thread's queue, as a failed call elsewhere on the worker would leave.
void LeaveStaleError() {
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_PACKET);
  ASSERT_NE(ERR_peek_error(), 0u);
}

class TransportTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::Pem pem = testing::MakeCertificate("t", "DNS:t.example");
    auto context = MakeCertificateContext(pem.cert, pem.key, /*offer_h2=*/false);
    ASSERT_TRUE(context.ok()) << context.status();
    server_context_ = *context;
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    server_ = std::make_unique<Transport>(fds[0], SSL_new(server_context_.get()));
    SSL_set_accept_state(server_->ssl());
    client_fd_ = fds[1];
    client_context_.reset(SSL_CTX_new(TLS_client_method()));
    client_.reset(SSL_new(client_context_.get()));
    SSL_set_fd(client_.get(), client_fd_);
    SSL_set_connect_state(client_.get());
    // Both sides step in turn; a handshake over a socket pair needs a few rounds.
    bool client_done = false;
    for (int i = 0; i < 20 && !(client_done && server_->handshake_done()); ++i) {
      if (!client_done) {
        int rc = SSL_do_handshake(client_.get());
        int error = SSL_get_error(client_.get(), rc);
        ASSERT_TRUE(rc == 1 || error == SSL_ERROR_WANT_READ) << error;
        client_done = rc == 1;
      }
      ASSERT_NE(server_->Handshake(), Transport::Io::kError);
    }
    ASSERT_TRUE(client_done && server_->handshake_done());
  }
  void TearDown() override {
    ERR_clear_error();  // the next test's thread state
    client_.reset();
    if (client_fd_ >= 0) close(client_fd_);
  }

  std::shared_ptr<SSL_CTX> server_context_;
  std::unique_ptr<Transport> server_;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> client_context_{nullptr, SSL_CTX_free};
  std::unique_ptr<SSL, decltype(&SSL_free)> client_{nullptr, SSL_free};
  int client_fd_ = -1;
};

TEST_F(TransportTlsTest, NothingToReadIsARetryWhateverTheQueueHolds) {
  LeaveStaleError();
  Buffer in;
  EXPECT_EQ(server_->Read(in, 1 << 16), Transport::Io::kWouldBlock);
  EXPECT_TRUE(server_->drained());
  EXPECT_EQ(ERR_peek_error(), 0u);  // the failure path leaves the queue empty

  // The connection still works: bytes the client sends next are read.
  ASSERT_EQ(SSL_write(client_.get(), "ping", 4), 4);
  LeaveStaleError();
  EXPECT_EQ(server_->Read(in, 1 << 16), Transport::Io::kOk);
  EXPECT_EQ(in.view(), "ping");
}

TEST_F(TransportTlsTest, ClientCloseNotifyIsEndOfStreamWhateverTheQueueHolds) {
  ASSERT_EQ(SSL_write(client_.get(), "last", 4), 4);
  ASSERT_GE(SSL_shutdown(client_.get()), 0);  // close_notify sent
  Buffer in;
  // The data first (the read stops at the close_notify), then end of stream.
  Transport::Io io = server_->Read(in, 1 << 16);
  ASSERT_TRUE(io == Transport::Io::kOk || io == Transport::Io::kEof);
  EXPECT_EQ(in.view(), "last");
  LeaveStaleError();
  EXPECT_EQ(server_->Read(in, 1 << 16), Transport::Io::kEof);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(TransportTlsTest, FullSocketIsARetryWhateverTheQueueHolds) {
  // Writes until the socket pair's buffers are full (the client reads nothing).
  Buffer out;
  std::string chunk(64 * 1024, 'x');
  Transport::Io io = Transport::Io::kOk;
  for (int i = 0; i < 1000 && io == Transport::Io::kOk; ++i) {
    out.Append(chunk);
    LeaveStaleError();
    io = server_->Write(out);
  }
  EXPECT_EQ(io, Transport::Io::kWouldBlock);
  EXPECT_FALSE(out.empty());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(TransportTlsTest, BrokenRecordIsAnError) {
  // Bytes that are no TLS record: a failure of this call, not a retry.
  ASSERT_EQ(write(client_fd_, "\x17\x03\x03\x00\x05hello", 10), 10);
  Buffer in;
  EXPECT_EQ(server_->Read(in, 1 << 16), Transport::Io::kError);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace xgate::proxy
