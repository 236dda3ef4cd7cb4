// Session persistence through the real proxy on loopback (two workers): the first answer
// starts a session naming the endpoint that served it; requests carrying it, each on a new
// connection (so on either worker), over HTTP/1.1 and HTTP/2, go to that endpoint, also after
// a config swap that keeps it; when it is removed or stops answering, the request goes
// elsewhere and the answer starts a new session.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "tests/proxy/server_fixture.h"
#include "tests/proxy/test_util.h"

namespace xgate::proxy {
namespace {

using testing::Get;
using testing::TestUpstream;

constexpr int kRequests = 30;

size_t CollectBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// Response header lines, lowercase names.
size_t CollectHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n ") + 1);
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

// One GET over HTTP/2 with prior knowledge, on a connection of its own.
testing::Response GetH2(uint16_t port, const std::string& header) {
  testing::Response out;
  CURL* curl = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/h2";
  curl_slist* headers = curl_slist_append(nullptr, header.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.headers);
  long version = 0;
  if (curl_easy_perform(curl) == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &version);
    out.status = version == CURL_HTTP_VERSION_2_0 ? static_cast<int>(status) : -1;
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return out;
}

class ProxySessionTest : public ProxyServerTest {
 protected:
  // One route to one cluster of `upstreams`, with session persistence of `type`.
  api::L7Config Sticky(const std::vector<TestUpstream*>& upstreams,
                       api::SessionPersistence::Type type = api::SessionPersistence::COOKIE) {
    api::L7Config config;
    api::Port* port = testing::AddHttpPort(config, port_);
    api::Route* route = testing::AddRoute(*testing::AddVirtualHost(*port, ""), "r", "/", "ns/up");
    route->mutable_session_persistence()->set_type(type);
    route->mutable_session_persistence()->set_name(SessionName(type));
    for (TestUpstream* upstream : upstreams) testing::AddCluster(config, "ns/up", *upstream);
    return config;
  }
  static std::string SessionName(api::SessionPersistence::Type type) {
    return type == api::SessionPersistence::COOKIE ? "sid" : "X-Session";
  }
  // The session value the answer `r` started ("" if none).
  static std::string Started(const testing::Response& r) {
    auto cookie = r.headers.find("set-cookie");
    if (cookie != r.headers.end()) {
      const std::string& v = cookie->second;
      if (v.rfind("sid=", 0) != 0) return "";
      return v.substr(4, v.find(';') - 4);
    }
    auto header = r.headers.find("x-session");
    return header == r.headers.end() ? "" : header->second;
  }
  // A new session (a request without one): its value and the upstream that answered.
  std::pair<std::string, std::string> NewSession() {
    testing::Response r = Get(port_, "h", "/start");
    EXPECT_EQ(r.status, 200);
    return {Started(r), r.headers["x-upstream"]};
  }
  // `n` requests carrying `value`, each on a new connection: the upstreams that answered and
  // whether any answer started another session.
  std::set<std::string> Follow(const std::string& value, int n, bool* restarted = nullptr,
                               const std::string& header_name = "") {
    std::set<std::string> answered;
    std::string extra =
        header_name.empty() ? "Cookie: theme=dark; sid=" + value : header_name + ": " + value;
    for (int i = 0; i < n; ++i) {
      testing::Response r = Get(port_, "h", "/next", extra + "\r\n");
      EXPECT_EQ(r.status, 200);
      answered.insert(r.headers["x-upstream"]);
      if (restarted && !Started(r).empty()) *restarted = true;
    }
    return answered;
  }
};

TEST_F(ProxySessionTest, CookieSticksOverNewConnectionsOnBothWorkers) {
  TestUpstream a("a");
  TestUpstream b("b");
  StartServer(2);
  Apply(Sticky({&a, &b}));
  // Without the cookie the endpoints take turns; each answer starts a session on its own.
  std::map<std::string, std::string> sessions;  // upstream -> value
  for (int i = 0; i < 20 && sessions.size() < 2; ++i) {
    auto [value, upstream] = NewSession();
    ASSERT_FALSE(value.empty());
    EXPECT_EQ(value.find("127.0.0.1"), std::string::npos);
    sessions[upstream] = value;
  }
  ASSERT_EQ(sessions.size(), 2u) << "both endpoints should have been chosen";
  for (const auto& [upstream, value] : sessions) {
    bool restarted = false;
    EXPECT_EQ(Follow(value, kRequests, &restarted), std::set<std::string>{upstream});
    EXPECT_FALSE(restarted) << "a held session is not sent again";
  }
  // A value the proxy did not make is no session: balanced as usual, a new one started.
  testing::Response forged = Get(port_, "h", "/", "Cookie: sid=MTI3LjAuMC4xOjgw\r\n");
  EXPECT_EQ(forged.status, 200);
  EXPECT_FALSE(Started(forged).empty());
}

TEST_F(ProxySessionTest, Http2RequestsKeepTheSessionToo) {
  TestUpstream a("a");
  TestUpstream b("b");
  StartServer(2);
  Apply(Sticky({&a, &b}));
  testing::Response first = GetH2(port_, "X-Test: 1");
  ASSERT_EQ(first.status, 200);
  std::string value = Started(first);
  ASSERT_FALSE(value.empty());
  std::string pinned = first.headers["x-upstream"];
  for (int i = 0; i < kRequests; ++i) {
    testing::Response r = GetH2(port_, "Cookie: sid=" + value);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["x-upstream"], pinned);
    EXPECT_TRUE(Started(r).empty());
  }
  // A session started over HTTP/2 holds over HTTP/1.1.
  EXPECT_EQ(Follow(value, 5), std::set<std::string>{pinned});
}

TEST_F(ProxySessionTest, HeaderSessionSticks) {
  TestUpstream a("a");
  TestUpstream b("b");
  StartServer(2);
  Apply(Sticky({&a, &b}, api::SessionPersistence::HEADER));
  testing::Response first = Get(port_, "h", "/");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.headers.count("set-cookie"), 0u);
  std::string value = Started(first);
  ASSERT_FALSE(value.empty());
  bool restarted = false;
  EXPECT_EQ(Follow(value, kRequests, &restarted, "X-Session"),
            std::set<std::string>{first.headers["x-upstream"]});
  EXPECT_FALSE(restarted);
}

TEST_F(ProxySessionTest, SurvivesASwapAndFallsBackWhenItsEndpointGoes) {
  TestUpstream a("a");
  TestUpstream b("b");
  TestUpstream c("c");
  StartServer(2);
  Apply(Sticky({&a, &b}));
  auto [value, pinned] = NewSession();
  ASSERT_FALSE(value.empty());
  TestUpstream* other = pinned == "a" ? &b : &a;

  // A new config that keeps the endpoint (and adds one): the session holds.
  Apply(Sticky({&a, &b, &c}));
  EXPECT_EQ(Follow(value, 10), std::set<std::string>{pinned});

  // The endpoint leaves the config: the next request goes elsewhere and starts a session.
  Apply(Sticky({other, &c}));
  testing::Response moved = Get(port_, "h", "/", "Cookie: sid=" + value + "\r\n");
  ASSERT_EQ(moved.status, 200);
  EXPECT_NE(moved.headers["x-upstream"], pinned);
  std::string next = Started(moved);
  ASSERT_FALSE(next.empty());
  std::string now_pinned = moved.headers["x-upstream"];
  EXPECT_EQ(Follow(next, 10), std::set<std::string>{now_pinned});

  // Its endpoint stops answering (connect refused): failed over, a new session started.
  (now_pinned == "c" ? &c : other)->Stop();
  testing::Response failed_over = Get(port_, "h", "/", "Cookie: sid=" + next + "\r\n");
  ASSERT_EQ(failed_over.status, 200);
  EXPECT_NE(failed_over.headers["x-upstream"], now_pinned);
  EXPECT_FALSE(Started(failed_over).empty());
}

}  // namespace
}  // namespace xgate::proxy
