// Session persistence's pieces without a server: the opaque token, finding it in a request,
// resolving it against a route's backends, and what the answer carries.
#include "userspace-proxy/server/session_persistence.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/proxy/test_util.h"
#include "userspace-proxy/server/config.h"

namespace xgate::proxy {
namespace {

std::array<unsigned char, SessionCodec::kKeySize> Key(unsigned char fill) {
  std::array<unsigned char, SessionCodec::kKeySize> key;
  key.fill(fill);
  return key;
}

http::HeaderMap Headers(std::vector<std::pair<std::string, std::string>> fields) {
  http::HeaderMap headers;
  for (const auto& [name, value] : fields) headers.Add(name, value);
  return headers;
}

TEST(SessionCodec, TokenRoundTripsAndNamesNoAddress) {
  SessionCodec codec(Key(1));
  SessionToken token{codec.Tag("198.18.0.10:8080"), 1000, 2000};
  std::string value = codec.Encode(token);
  EXPECT_EQ(value.find("198.18"), std::string::npos);
  EXPECT_EQ(
      value.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos)
      << value;  // cookie-safe
  auto back = codec.Decode(value);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->tag, token.tag);
  EXPECT_EQ(back->issued_ms, 1000u);
  EXPECT_EQ(back->used_ms, 2000u);
}

TEST(SessionCodec, ForgedOrOtherKeysTokensAreRefused) {
  SessionCodec codec(Key(1));
  SessionCodec other(Key(2));
  std::string value = codec.Encode({codec.Tag("198.18.0.10:8080"), 1000, 2000});
  EXPECT_FALSE(other.Decode(value));
  EXPECT_NE(codec.Tag("198.18.0.10:8080"), other.Tag("198.18.0.10:8080"));
  EXPECT_NE(codec.Tag("198.18.0.10:8080"), codec.Tag("198.18.0.11:8080"));
  for (size_t i = 0; i < value.size(); ++i) {  // any one character changed
    std::string bad = value;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(codec.Decode(bad)) << i;
  }
  EXPECT_FALSE(codec.Decode(""));
  EXPECT_FALSE(codec.Decode("198.18.0.10:8080"));
  EXPECT_FALSE(codec.Decode(value + "AA"));
}

TEST(SessionPersistence, FindsTheCookieAmongOthersAndAcrossCookieFields) {
  api::SessionPersistence cookie;
  cookie.set_name("sid");
  EXPECT_EQ(routing::FindSessionValue(cookie, Headers({{"Cookie", "a=1; sid=xyz; b=2"}})), "xyz");
  EXPECT_EQ(routing::FindSessionValue(cookie, Headers({{"cookie", "a=1"}, {"cookie", "sid=q"}})),
            "q");
  EXPECT_FALSE(routing::FindSessionValue(cookie, Headers({{"Cookie", "sidx=1; xsid=2"}})));
  EXPECT_FALSE(routing::FindSessionValue(cookie, Headers({{"sid", "1"}})));
  api::SessionPersistence header;
  header.set_type(api::SessionPersistence::HEADER);
  header.set_name("X-Session");
  EXPECT_EQ(routing::FindSessionValue(header, Headers({{"x-session", "abc"}})), "abc");
  EXPECT_FALSE(routing::FindSessionValue(header, Headers({{"Cookie", "X-Session=abc"}})));
}

// Two backends of one rule: "a" with two endpoints, "b" with one.
class ResolveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api::Port* port = testing::AddHttpPort(proto_, 8080);
    route_ = testing::AddRoute(*testing::AddVirtualHost(*port, ""), "r", "/", "a");
    api::WeightedCluster* b = route_->add_backends();
    b->set_cluster("b");
    b->set_weight(0);
    route_->mutable_session_persistence()->set_name("sid");
    testing::AddEndpoint(proto_, "a", "198.18.0.10", 8080);
    testing::AddEndpoint(proto_, "a", "198.18.0.11", 8080);
    testing::AddEndpoint(proto_, "b", "198.18.0.12", 8080);
    Build();
  }
  void Build() {
    auto built = Config::Build(proto_, false);
    ASSERT_TRUE(built.ok()) << built.status();
    config_ = *built;
  }
  const api::Route& Route() const {
    return config_->table().ports()[0].listeners[0].vhosts[0]->proto.routes(0);
  }
  std::optional<SessionChoice> Resolve(const std::string& value, uint64_t now,
                                       std::set<std::string> ejected = {}) {
    return ResolveSession(SessionCodec::Process(), Route(), *config_,
                          Headers({{"Cookie", "sid=" + value}}), now,
                          [&](const std::string& e) { return ejected.contains(e); });
  }
  std::string Token(const std::string& endpoint, uint64_t issued, uint64_t used) {
    const SessionCodec& codec = SessionCodec::Process();
    return codec.Encode({codec.Tag(endpoint), issued, used});
  }

  api::L7Config proto_;
  api::Route* route_ = nullptr;
  std::shared_ptr<const Config> config_;
};

TEST_F(ResolveTest, PointsAtTheEndpointWhateverItsBackendsWeight) {
  auto a1 = Resolve(Token("198.18.0.11:8080", 100, 100), 200);
  ASSERT_TRUE(a1);
  EXPECT_EQ(a1->backend, 0);
  EXPECT_EQ(a1->endpoint, 1);
  auto b0 = Resolve(Token("198.18.0.12:8080", 100, 100), 200);  // weight 0: still its session
  ASSERT_TRUE(b0);
  EXPECT_EQ(b0->backend, 1);
  EXPECT_EQ(b0->endpoint, 0);
  EXPECT_FALSE(Resolve("garbage", 200));
  EXPECT_FALSE(Resolve(Token("198.18.0.99:8080", 100, 100), 200));  // not this rule's
}

TEST_F(ResolveTest, EjectedOrRemovedEndpointsAndExpiredSessionsStartAgain) {
  std::string token = Token("198.18.0.11:8080", 100, 100);
  EXPECT_FALSE(Resolve(token, 200, {"198.18.0.11:8080"}));
  EXPECT_TRUE(Resolve(token, 200, {"198.18.0.10:8080"}));

  route_->mutable_session_persistence()->set_absolute_timeout_ms(1000);
  route_->mutable_session_persistence()->set_idle_timeout_ms(300);
  Build();
  EXPECT_TRUE(Resolve(Token("198.18.0.11:8080", 100, 800), 1099));
  EXPECT_FALSE(Resolve(Token("198.18.0.11:8080", 100, 800), 1100));  // absolute
  EXPECT_TRUE(Resolve(Token("198.18.0.11:8080", 100, 500), 799));
  EXPECT_FALSE(Resolve(Token("198.18.0.11:8080", 100, 500), 800));  // idle

  // A new config without the endpoint; the one that remains keeps its sessions.
  proto_.mutable_clusters(0)->mutable_endpoints()->DeleteSubrange(1, 1);
  Build();
  EXPECT_FALSE(Resolve(Token("198.18.0.11:8080", 100, 800), 900));
  auto kept = Resolve(Token("198.18.0.10:8080", 100, 800), 900);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->endpoint, 0);
}

TEST(SessionPersistence, AnswerStartsOrRefreshesTheSession) {
  const SessionCodec& codec = SessionCodec::Process();
  api::SessionPersistence session;
  session.set_name("sid");
  http::HeaderMap fresh;
  AddSessionToResponse(codec, session, std::nullopt, codec.Tag("198.18.0.10:8080"), false, 5000,
                       fresh);
  std::string cookie(*fresh.Get("Set-Cookie"));
  ASSERT_EQ(cookie.rfind("sid=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("; Path=/; HttpOnly; SameSite=Lax"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.find("Max-Age"), std::string::npos);  // a session cookie
  EXPECT_EQ(cookie.find("Secure"), std::string::npos);
  std::string value = cookie.substr(4, cookie.find(';') - 4);
  auto token = codec.Decode(value);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->tag, codec.Tag("198.18.0.10:8080"));
  EXPECT_EQ(token->issued_ms, 5000u);

  // The same endpoint answered the session: nothing to send.
  SessionChoice held{*token, 0, 0};
  http::HeaderMap same;
  AddSessionToResponse(codec, session, held, codec.Tag("198.18.0.10:8080"), false, 6000, same);
  EXPECT_FALSE(same.Has("Set-Cookie"));
  // Another one did (the first failed): a new session.
  http::HeaderMap moved;
  AddSessionToResponse(codec, session, held, codec.Tag("198.18.0.11:8080"), true, 6000, moved);
  ASSERT_TRUE(moved.Has("Set-Cookie"));
  EXPECT_NE(moved.Get("Set-Cookie")->find("; Secure"), std::string::npos);

  // Permanent: Max-Age is what is left of the absolute timeout; idle: refreshed every time,
  // keeping when the session began.
  session.set_permanent(true);
  session.set_absolute_timeout_ms(10000);
  session.set_idle_timeout_ms(3000);
  http::HeaderMap refreshed;
  AddSessionToResponse(codec, session, held, codec.Tag("198.18.0.10:8080"), false, 8000, refreshed);
  std::string again(*refreshed.Get("Set-Cookie"));
  EXPECT_NE(again.find("; Max-Age=7"), std::string::npos) << again;
  // cookie.path (Gateway API main): the cookie's Path.
  session.set_cookie_path("/shop");
  http::HeaderMap scoped;
  AddSessionToResponse(codec, session, std::nullopt, codec.Tag("198.18.0.10:8080"), false, 8000,
                       scoped);
  EXPECT_NE(scoped.Get("Set-Cookie")->find("; Path=/shop; HttpOnly"), std::string::npos)
      << *scoped.Get("Set-Cookie");
  auto renewed = codec.Decode(again.substr(4, again.find(';') - 4));
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->issued_ms, 5000u);
  EXPECT_EQ(renewed->used_ms, 8000u);

  api::SessionPersistence header;
  header.set_type(api::SessionPersistence::HEADER);
  header.set_name("X-Session");
  http::HeaderMap by_header;
  AddSessionToResponse(codec, header, std::nullopt, codec.Tag("198.18.0.10:8080"), false, 5000,
                       by_header);
  EXPECT_FALSE(by_header.Has("Set-Cookie"));
  ASSERT_TRUE(by_header.Has("X-Session"));
  EXPECT_TRUE(codec.Decode(*by_header.Get("X-Session")));
}

}  // namespace
}  // namespace xgate::proxy
