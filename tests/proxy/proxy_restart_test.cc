// A graceful proxy restart: the agent's L7Applier runs build/xgate-proxy, which is SIGTERMed
// several times while clients load it over HTTP and HTTPS (HTTP/1.1 keep-alive, a new
// connection per request, HTTP/2). Each stopping proxy hands its listening sockets to the
// agent's listener store and drains; the next one takes them. Not one request may fail and
// not one connect may be refused.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/l7/l7_applier.h"
#include "tests/proxy/hostile.h"
#include "tests/proxy/test_util.h"

namespace xgate::proxy::testing {
namespace {

using namespace std::chrono_literals;

enum class Mode { kKeepAlive, kNewConnection, kHttp2 };

// One client thread: GETs in a loop until stopped, with libcurl (no retry of its own: a
// keep-alive connection that dies without a `Connection: close` is counted as a failure, as
// wrk counts it).
class LoadClient {
 public:
  LoadClient(std::string name, std::string url, Mode mode)
      : name_(std::move(name)), url_(std::move(url)), mode_(mode) {
    thread_ = std::thread([this] { Run(); });
  }
  ~LoadClient() { Stop(); }
  void Stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int served() const { return served_; }
  int failed() const { return failed_; }
  int refused() const { return refused_; }
  std::string Summary() const {
    return name_ + ": " + std::to_string(served_) + " served, " + std::to_string(failed_) +
           " failed, " + std::to_string(refused_) + " connects refused, " +
           std::to_string(reconnects_) + " new connections" +
           (first_error_.empty() ? "" : " (first failure: " + first_error_ + ")");
  }

 private:
  static size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    std::string line(data, size * count);
    for (char& c : line) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) {
      *static_cast<bool*>(user) = true;
    }
    return size * count;
  }
  static size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

  void Fail(const std::string& why) {
    ++failed_;
    if (first_error_.empty()) first_error_ = why;
  }

  void Run() {
    CURL* curl = curl_easy_init();
    bool closing = false;  // the last response said Connection: close
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &closing);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION,
                     mode_ == Mode::kHttp2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    if (mode_ == Mode::kNewConnection) {
      curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
    }
    bool first = true;
    while (!stopping_) {
      bool was_closing = closing;
      closing = false;
      CURLcode rc = curl_easy_perform(curl);
      long status = 0, connects = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
      if (connects > 0) ++reconnects_;
      if (rc == CURLE_COULDNT_CONNECT) {
        ++refused_;
        Fail(curl_easy_strerror(rc));
      } else if (rc != CURLE_OK) {
        Fail(curl_easy_strerror(rc));
      } else if (status != 200) {
        Fail("status " + std::to_string(status));
      } else if (mode_ == Mode::kKeepAlive && connects > 0 && !first && !was_closing) {
        // libcurl found its kept connection dead and opened another: the proxy closed it
        // without saying so first (wrk would have counted an error).
        Fail("keep-alive connection closed without Connection: close");
      } else {
        ++served_;
      }
      first = false;
    }
    curl_easy_cleanup(curl);
  }

  std::string name_;
  std::string url_;
  Mode mode_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> served_{0};
  std::atomic<int> failed_{0};
  std::atomic<int> refused_{0};
  std::atomic<int> reconnects_{0};
  std::string first_error_;  // written by the client's thread, read after Stop
  std::thread thread_;
};

class ProxyRestartTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  static void TearDownTestSuite() { curl_global_cleanup(); }
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("xgate-proxy-restart-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(ProxyRestartTest, RestartsUnderLoadLoseNothing) {
  constexpr int kRestarts = 5;
  TestUpstream up("up");
  uint16_t http_port = FreePort();
  uint16_t https_port = FreePort();
  l7::L7ApplierOptions options;
  options.socket_path = (dir_ / "proxy.sock").string();
  options.proxy_binary = XGATE_PROXY_BINARY;
  options.proxy_args = {"--workers", "2", "--access-log", "off", "--drain-timeout", "10"};
  auto applier = l7::L7Applier::Create(options);
  ASSERT_TRUE(applier.ok()) << applier.status();

  compiler::Snapshot snapshot;
  snapshot.l7 = HttpAndHttpsConfig(http_port, https_port, up);
  ASSERT_TRUE((*applier)->Apply(snapshot).ok());
  ASSERT_TRUE(WaitFor([&] { return Get(http_port, "h", "/").status == 200; }))
      << "the proxy never served";

  std::string http = "http://127.0.0.1:" + std::to_string(http_port) + "/";
  std::string tls = "https://127.0.0.1:" + std::to_string(https_port) + "/";
  std::vector<std::unique_ptr<LoadClient>> clients;
  clients.push_back(std::make_unique<LoadClient>("HTTP keep-alive", http, Mode::kKeepAlive));
  clients.push_back(
      std::make_unique<LoadClient>("HTTP new connections", http, Mode::kNewConnection));
  clients.push_back(std::make_unique<LoadClient>("HTTPS keep-alive", tls, Mode::kKeepAlive));
  clients.push_back(
      std::make_unique<LoadClient>("HTTPS new connections", tls, Mode::kNewConnection));
  clients.push_back(std::make_unique<LoadClient>("HTTP/2", tls, Mode::kHttp2));
  // Every client is served by the proxy of the moment before it is restarted.
  auto all_served_more = [&](std::vector<int>& marks) {
    bool all = WaitFor(
        [&] {
          for (size_t i = 0; i < clients.size(); ++i) {
            if (clients[i]->served() < marks[i] + 20) return false;
          }
          return true;
        },
        30s);
    for (size_t i = 0; i < clients.size(); ++i) marks[i] = clients[i]->served();
    return all;
  };
  std::vector<int> marks(clients.size(), 0);
  ASSERT_TRUE(all_served_more(marks));
  for (int restart = 1; restart <= kRestarts; ++restart) {
    pid_t old = (*applier)->proxy_pid();
    ASSERT_GT(old, 0);
    ASSERT_EQ(kill(old, SIGTERM), 0);
    ASSERT_TRUE(WaitFor([&] {
      pid_t now = (*applier)->proxy_pid();
      return now > 0 && now != old;
    })) << "no successor after restart "
        << restart;
    EXPECT_TRUE(all_served_more(marks)) << "not every client was served after restart " << restart;
    // The old proxy drains and exits by itself.
    EXPECT_TRUE(WaitFor([&] { return (*applier)->draining_proxies() == 0; }, 15s))
        << "the proxy of before restart " << restart << " did not exit";
  }
  EXPECT_EQ((*applier)->proxy_starts(), 1 + kRestarts);
  for (auto& client : clients) client->Stop();
  for (auto& client : clients) {
    std::printf("%s\n", client->Summary().c_str());
    EXPECT_EQ(client->failed(), 0) << client->Summary();
    EXPECT_EQ(client->refused(), 0) << client->Summary();
    EXPECT_GT(client->served(), 20 * (kRestarts + 1)) << client->Summary();
  }
  (*applier)->Stop(true);
}

}  // namespace
}  // namespace xgate::proxy::testing
