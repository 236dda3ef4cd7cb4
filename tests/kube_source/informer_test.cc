// The informer's list/watch state machine and the Kubernetes source against a local HTTPS
// peer that speaks the API server's wire format (tests/kube_source/api_peer.h).
#include "agent/sources/kube/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "agent/sources/kube/kube_source.h"
#include "tests/fixtures/fixtures.h"
#include "tests/kube_source/api_peer.h"

namespace xgate::kube {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr auto kDeadline = std::chrono::seconds(20);

// Polls `done` until it holds or the deadline passes.
template <typename F>
bool Eventually(F done) {
  auto end = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

class RecordingSink : public InformerSink {
 public:
  void Replace(const std::string& kind, std::vector<json> objects) override {
    std::lock_guard lock(mu_);
    objects_.clear();
    for (auto& o : objects) objects_[Name(o)] = o;
    ++replaces_;
  }
  void Upsert(const std::string&, json object) override {
    std::lock_guard lock(mu_);
    objects_[Name(object)] = object;
  }
  void Remove(const std::string&, const json& object) override {
    std::lock_guard lock(mu_);
    objects_.erase(Name(object));
  }
  std::map<std::string, json> objects() const {
    std::lock_guard lock(mu_);
    return objects_;
  }
  int replaces() const {
    std::lock_guard lock(mu_);
    return replaces_;
  }
  bool Has(const std::string& name, int weight = -1) const {
    auto all = objects();
    auto it = all.find(name);
    if (it == all.end()) return false;
    return weight < 0 || it->second["spec"]["weight"] == weight;
  }

 private:
  static std::string Name(const json& o) {
    return o["metadata"]["namespace"].get<std::string>() + "/" +
           o["metadata"]["name"].get<std::string>();
  }
  mutable std::mutex mu_;
  std::map<std::string, json> objects_;
  int replaces_ = 0;
};

json Spec(int weight) { return {{"weight", weight}}; }

class InformerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    peer_ = std::make_unique<kubetest::ApiPeer>(tmp_.path());
    WriteToken("token-1");
    peer_->SetToken("token-1");
    config_.server = peer_->url();
    config_.ca_file = peer_->ca_file().string();
    config_.token_file = (tmp_.path() / "token").string();
    config_.origin = "test";
  }
  void TearDown() override { StopInformer(); }

  // As the kubelet rotates a projected token: a new file renamed over the old one.
  void WriteToken(const std::string& token) {
    fixtures::WriteFile(tmp_.path() / "token.new", token);
    fs::rename(tmp_.path() / "token.new", tmp_.path() / "token");
  }

  void StartInformer() {
    auto client = Client::Create(config_);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    InformerOptions options;
    options.page_size = 2;
    options.min_watch_timeout = std::chrono::seconds(60);
    options.backoff = {std::chrono::milliseconds(10), std::chrono::milliseconds(200), 0.2};
    informer_ = std::make_unique<Informer>(
        *client_, Resource{"gateway.networking.k8s.io", "v1", "httproutes", true}, "HTTPRoute",
        sink_, options);
    thread_ = std::thread([this] { informer_->Run(stop_); });
  }
  void StopInformer() {
    stop_.Stop();
    if (thread_.joinable()) thread_.join();
  }

  // The whole source on the peer, discovery re-checked every 50 ms.
  std::unique_ptr<KubeSource> StartSource(sources::ObjectStore& store) {
    auto client = Client::Create(config_);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    client_ = *std::move(client);
    KubeSource::Options options;
    options.discovery_interval = std::chrono::milliseconds(50);
    options.informer.backoff = {std::chrono::milliseconds(10), std::chrono::milliseconds(200), 0.2};
    auto source = std::make_unique<KubeSource>(*client_, store, options);
    source->Start();
    return source;
  }

  int Count(const std::string& prefix) const {
    auto r = peer_->requests();
    return static_cast<int>(std::count_if(
        r.begin(), r.end(), [&](const std::string& s) { return s.starts_with(prefix); }));
  }
  int Lists() const {
    auto r = peer_->requests();
    return static_cast<int>(std::count_if(r.begin(), r.end(), [](const std::string& s) {
      return s.starts_with("GET /apis/gateway.networking.k8s.io/v1/httproutes") &&
             s.find("watch=") == std::string::npos;
    }));
  }
  bool WatchFrom(const std::string& rv) const {
    for (const auto& r : peer_->requests()) {
      if (r.find("watch=1") != std::string::npos &&
          r.find("resourceVersion=" + rv) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  fixtures::TempDir tmp_;
  std::unique_ptr<kubetest::ApiPeer> peer_;
  Config config_;
  std::unique_ptr<Client> client_;
  RecordingSink sink_;
  StopSignal stop_;
  std::unique_ptr<Informer> informer_;
  std::thread thread_;
};

TEST_F(InformerTest, ListsInPagesThenWatchesFromTheListsVersion) {
  for (int i = 0; i < 5; ++i) peer_->Put("a", "r" + std::to_string(i), Spec(i));
  std::string list_rv = peer_->resource_version();
  StartInformer();
  ASSERT_TRUE(Eventually([&] { return informer_->synced(); }));
  auto objects = sink_.objects();
  ASSERT_EQ(objects.size(), 5u);
  // List items carry no kind or apiVersion: filled in.
  EXPECT_EQ(objects["a/r0"]["kind"], "HTTPRoute");
  EXPECT_EQ(objects["a/r0"]["apiVersion"], "gateway.networking.k8s.io/v1");
  auto requests = peer_->requests();
  EXPECT_THAT(requests, Contains(HasSubstr("limit=2")));
  EXPECT_THAT(requests, Contains(HasSubstr("continue=2")));
  EXPECT_THAT(requests, Contains(HasSubstr("continue=4")));
  ASSERT_TRUE(Eventually([&] { return WatchFrom(list_rv); }));
  EXPECT_THAT(peer_->requests(), Contains(HasSubstr("allowWatchBookmarks=true")));

  peer_->Put("a", "new", Spec(7));
  ASSERT_TRUE(Eventually([&] { return sink_.Has("a/new", 7); }));
  peer_->Put("a", "new", Spec(8));
  ASSERT_TRUE(Eventually([&] { return sink_.Has("a/new", 8); }));
  peer_->Remove("a", "r1");
  ASSERT_TRUE(Eventually([&] { return !sink_.Has("a/r1"); }));
  EXPECT_EQ(informer_->resource_version(), peer_->resource_version());
  EXPECT_EQ(sink_.replaces(), 1);
}

// With a watch per kind open (15 kinds), the requests between them still share a kept-alive
// connection: curl's default cache (4 connections, those in use counted) closed each one once it
// answered, and every list page, GET and status write made a new TLS handshake.
TEST_F(InformerTest, RequestsReuseAConnectionWhileWatchesAreOpen) {
  auto client = Client::Create(config_);
  ASSERT_TRUE(client.ok()) << client.status();
  client_ = *std::move(client);
  constexpr int kWatches = 5;  // more than curl's default cache, fewer than the peer's threads
  const std::string path = "/apis/gateway.networking.k8s.io/v1/httproutes";
  std::atomic<bool> cancel{false};
  std::vector<std::thread> watches;
  for (int i = 0; i < kWatches; ++i) {
    watches.emplace_back([&] {
      WatchOptions options;
      options.cancel = &cancel;
      client_->Watch(path, options, [](const WatchEvent&) { return true; }).IgnoreError();
    });
  }
  bool all_open = Eventually([&] { return peer_->open_watches() == kWatches; });
  size_t before = peer_->request_ports().size();
  constexpr int kGets = 20;
  int answered = 0;
  for (int i = 0; all_open && i < kGets; ++i) {
    auto got = client_->Get(path);
    if (got.ok() && got->ok()) ++answered;
  }
  cancel = true;
  peer_->EndWatches();
  for (auto& w : watches) w.join();
  ASSERT_TRUE(all_open);
  ASSERT_EQ(answered, kGets);
  auto ports = peer_->request_ports();
  std::set<int> connections(ports.begin() + static_cast<std::ptrdiff_t>(before),
                            ports.begin() + static_cast<std::ptrdiff_t>(before + kGets));
  EXPECT_EQ(connections.size(), 1u) << "the GETs came on " << connections.size() << " connections";
}

TEST_F(InformerTest, AnEndedWatchResumesFromTheLastVersionSeenBookmarksIncluded) {
  peer_->Put("a", "r", Spec(1));
  StartInformer();
  ASSERT_TRUE(Eventually([&] { return informer_->synced() && peer_->open_watches() == 1; }));
  peer_->Advance();  // other kinds changed: only a bookmark tells this watch
  peer_->Bookmark();
  std::string bookmark_rv = peer_->resource_version();
  ASSERT_TRUE(Eventually([&] { return informer_->resource_version() == bookmark_rv; }));
  peer_->EndWatches();
  ASSERT_TRUE(Eventually([&] { return WatchFrom(bookmark_rv); }));
  EXPECT_GE(informer_->watch_restarts(), 1u);
  EXPECT_EQ(informer_->relists(), 0u);
  EXPECT_EQ(Lists(), 1);
  peer_->Put("a", "after", Spec(2));
  ASSERT_TRUE(Eventually([&] { return sink_.Has("a/after", 2); }));
}

TEST_F(InformerTest, ACompactedHistoryMeansRelist) {
  peer_->Put("a", "r", Spec(1));
  StartInformer();
  ASSERT_TRUE(Eventually([&] { return informer_->synced() && peer_->open_watches() == 1; }));
  peer_->Advance();
  peer_->Compact();  // the informer's version is now older than the history: ERROR 410
  peer_->EndWatches();
  ASSERT_TRUE(Eventually([&] { return informer_->relists() == 1 && sink_.replaces() == 2; }));
  EXPECT_EQ(Lists(), 2);
  ASSERT_TRUE(Eventually([&] { return WatchFrom(peer_->resource_version()); }));
  peer_->Put("a", "later", Spec(3));
  ASSERT_TRUE(Eventually([&] { return sink_.Has("a/later", 3) && sink_.Has("a/r", 1); }));
}

TEST_F(InformerTest, AnHttp410OnTheWatchMeansRelist) {
  StartInformer();
  ASSERT_TRUE(Eventually([&] { return informer_->synced() && peer_->open_watches() == 1; }));
  peer_->Fail(1, 410);
  peer_->EndWatches();
  ASSERT_TRUE(Eventually([&] { return informer_->relists() == 1 && Lists() == 2; }));
}

TEST_F(InformerTest, ErrorsAndThrottlingAreRetriedUntilTheListSucceeds) {
  peer_->Put("a", "r", Spec(1));
  peer_->Fail(2, 500);
  peer_->Fail(1, 429, /*retry_after=*/0);
  StartInformer();
  ASSERT_TRUE(Eventually([&] { return informer_->synced(); }));
  EXPECT_EQ(Lists(), 4);
  EXPECT_TRUE(sink_.Has("a/r", 1));
}

TEST_F(InformerTest, NothingIsLostWhileTheServerRefusesTheWatch) {
  peer_->Put("a", "r", Spec(1));
  StartInformer();
  ASSERT_TRUE(Eventually([&] { return informer_->synced() && peer_->open_watches() == 1; }));
  peer_->Fail(3, 503);
  peer_->EndWatches();
  peer_->Put("a", "r", Spec(2));  // happens while the watch is refused
  ASSERT_TRUE(Eventually([&] { return sink_.Has("a/r", 2); }));
  EXPECT_EQ(informer_->relists(), 0u);  // resumed, not relisted
  EXPECT_EQ(Lists(), 1);
}

TEST_F(InformerTest, ARotatedTokenFileIsReadAgain) {
  StartInformer();
  ASSERT_TRUE(Eventually([&] { return informer_->synced() && peer_->open_watches() == 1; }));
  WriteToken("token-2");
  peer_->SetToken("token-2");
  peer_->EndWatches();
  peer_->Put("a", "after-rotation", Spec(1));
  ASSERT_TRUE(Eventually([&] { return sink_.Has("a/after-rotation", 1); }));
}

// The token file rotated (and the old token revoked) while a request signed with the old one
// was in flight: its 401 is not the answer; the request is sent again with the new token.
TEST_F(InformerTest, ARequestInFlightAtARotationIsSentAgainWithTheNewToken) {
  auto client = Client::Create(config_);
  ASSERT_TRUE(client.ok()) << client.status();
  auto before = (*client)->Get("/apis/gateway.networking.k8s.io");
  ASSERT_TRUE(before.ok() && before->code == 200);
  peer_->RotateTokenAtNextRequest("token-2", [this] { WriteToken("token-2"); });
  auto answer = (*client)->Get("/apis/gateway.networking.k8s.io");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->code, 200) << answer->body;
  EXPECT_EQ(Count("GET /apis/gateway.networking.k8s.io"), 3);
  // A token the server refuses while the file has not changed is an answer: no retry.
  peer_->SetToken("token-3");
  auto refused = (*client)->Get("/apis/gateway.networking.k8s.io");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->code, 401);
  EXPECT_EQ(Count("GET /apis/gateway.networking.k8s.io"), 4);
}

TEST_F(InformerTest, ClientCertificateInsteadOfAToken) {
  peer_->SetToken("");
  config_.token_file.clear();
  {
    auto client = Client::Create(config_);
    ASSERT_TRUE(client.ok());
    auto response = (*client)->List("/apis/gateway.networking.k8s.io/v1/httproutes");
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->code, 401);
    EXPECT_EQ(ToStatus(*response).code(), absl::StatusCode::kUnauthenticated);
  }
  config_.client_cert_file = peer_->client_cert().string();
  config_.client_key_file = peer_->client_key().string();
  auto client = Client::Create(config_);
  ASSERT_TRUE(client.ok());
  auto response = (*client)->List("/apis/gateway.networking.k8s.io/v1/httproutes");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->code, 200) << response->body;
}

TEST_F(InformerTest, AServerTheCaDidNotSignIsRefused) {
  config_.ca_file.clear();
  config_.ca_pem = fixtures::ReadFile(peer_->client_cert());  // some other certificate
  auto client = Client::Create(config_);
  ASSERT_TRUE(client.ok());
  auto response = (*client)->Get("/apis/gateway.networking.k8s.io");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  // The CA as PEM text (certificate-authority-data) is trusted.
  config_.ca_pem = fixtures::ReadFile(peer_->ca_file());
  auto trusted = Client::Create(config_);
  ASSERT_TRUE(trusted.ok());
  auto ok = (*trusted)->Get("/apis/gateway.networking.k8s.io");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->code, 200);
}

// The whole source: discovery (only HTTPRoute of the Gateway API is served here), every
// informer synced before the store is declared synced, then the objects decoded by the model.
TEST_F(InformerTest, TheSourceSyncsEveryKindThenFeedsTheStore) {
  peer_->Put("a", "r", json{{"parentRefs", {{{"name", "gw"}}}}});
  auto client = Client::Create(config_);
  ASSERT_TRUE(client.ok());
  sources::ObjectStore store;
  KubeSource::Options options;
  options.informer.backoff = {std::chrono::milliseconds(10), std::chrono::milliseconds(200), 0.2};
  KubeSource source(**client, store, options);
  EXPECT_FALSE(source.Synced());
  source.Start();
  ASSERT_TRUE(Eventually([&] { return source.Synced(); }));
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->store.http_routes.size(), 1u);
  EXPECT_TRUE(loaded->errors.empty()) << loaded->errors[0].ToString();
  EXPECT_EQ(source.ListedCount("HTTPRoute"), 1u);  // what the agent asks before starting a proxy
  EXPECT_EQ(source.ListedCount("Gateway"), 0u);    // not served here
  for (const KindState& k : source.Kinds()) {
    if (k.kind == "HTTPRoute") {
      EXPECT_EQ(k.api_version, "gateway.networking.k8s.io/v1");
    }
    if (k.kind == "Gateway") {
      EXPECT_EQ(k.api_version, "") << "not served: skipped";
    }
    if (k.kind == "EndpointSlice") {
      EXPECT_EQ(k.api_version, "discovery.k8s.io/v1");
    }
    if (k.kind == "ConfigMap") {
      EXPECT_EQ(k.api_version, "v1") << "BackendTLSPolicy CA bundles";
    }
    if (k.kind == "ListenerSet") {
      EXPECT_EQ(k.api_version, "") << "CRDs older than v1.5 do not serve it: skipped";
    }
    if (!k.api_version.empty()) {
      EXPECT_TRUE(k.synced) << k.kind;
    }
  }
  // The Secret informer reads only TLS Secrets.
  EXPECT_THAT(peer_->requests(),
              Contains(HasSubstr("/api/v1/secrets?fieldSelector=type=kubernetes.io/tls")));
  peer_->Put("a", "r2", json::object());
  ASSERT_TRUE(Eventually([&] { return store.Load()->store.http_routes.size() == 2; }));
  source.Stop();
}

// A watch event that changes only an object's status or resourceVersion (the status the Lease
// holder wrote, coming back) is no change to the store: no reconcile is woken for it.
TEST_F(InformerTest, AStatusOnlyChangeIsNoChangeToTheStore) {
  auto client = Client::Create(config_);
  ASSERT_TRUE(client.ok());
  sources::ObjectStore store;
  KubeSource source(**client, store, {});  // not started: fed through its sink
  json route = {{"apiVersion", "gateway.networking.k8s.io/v1"},
                {"kind", "HTTPRoute"},
                {"metadata", {{"namespace", "a"}, {"name", "r"}, {"resourceVersion", "5"}}},
                {"spec", {{"parentRefs", {{{"name", "gw"}}}}}}};
  source.sink().Upsert("HTTPRoute", route);
  const uint64_t version = store.version();
  route["metadata"]["resourceVersion"] = "6";
  route["status"] = {{"parents",
                      {{{"parentRef", {{"name", "gw"}}},
                        {"controllerName", "xgate.dev/gateway-controller"},
                        {"conditions", json::array()}}}}};
  source.sink().Upsert("HTTPRoute", route);
  EXPECT_EQ(store.version(), version);
  route["spec"]["hostnames"] = {"r.example.com"};
  source.sink().Upsert("HTTPRoute", route);
  EXPECT_EQ(store.version(), version + 1);
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->store.http_routes.size(), 1u);
  EXPECT_EQ(loaded->store.http_routes.begin()->second.hostnames.size(), 1u);
}

TEST_F(InformerTest, AKindWhoseCrdIsAbsentIsSkippedThenPickedUpOnceInstalled) {
  peer_->SetGatewayApiServed(false);
  peer_->Put("a", "r", json::object());
  sources::ObjectStore store;
  auto started = StartSource(store);
  ASSERT_TRUE(started);
  KubeSource& source = *started;
  // The core kinds alone make the source synced: a missing CRD does not hold the node back.
  ASSERT_TRUE(Eventually([&] { return source.Synced(); }));
  EXPECT_TRUE(store.Load()->store.http_routes.empty());
  peer_->SetGatewayApiServed(true);  // the CRDs are installed
  ASSERT_TRUE(Eventually([&] { return store.Load()->store.http_routes.size() == 1; }));
  for (const KindState& k : source.Kinds()) {
    if (k.kind == "HTTPRoute") {
      EXPECT_EQ(k.api_version, "gateway.networking.k8s.io/v1");
      EXPECT_TRUE(k.synced);
    }
  }
  source.Stop();
}

// ListenerSet (gateway.networking.k8s.io/v1, CRD bundles from v1.5 on) is read where it is
// served; the test above shows a cluster without it synced and serving the rest.
TEST_F(InformerTest, ListenerSetsAreReadWhereTheCrdServesThem) {
  peer_->ServeAlso("listenersets", "ListenerSet");
  sources::ObjectStore store;
  auto started = StartSource(store);
  ASSERT_TRUE(started);
  KubeSource& source = *started;
  ASSERT_TRUE(Eventually([&] { return source.Synced(); }));
  bool seen = false;
  for (const KindState& k : source.Kinds()) {
    if (k.kind != "ListenerSet") continue;
    seen = true;
    EXPECT_EQ(k.api_version, "gateway.networking.k8s.io/v1");
    EXPECT_TRUE(k.synced);
  }
  EXPECT_TRUE(seen);
  EXPECT_GE(Count("GET /apis/gateway.networking.k8s.io/v1/listenersets?"), 1);
  source.Stop();
}

// A CRD deleted while the agent runs: its kind's objects leave the store (the API server
// deletes them with it; the source does not wait for the events) and its informer ends; the
// CRD installed again is read again.
TEST_F(InformerTest, AKindWhoseCrdIsDeletedLeavesTheStoreAndComesBackOnceReinstalled) {
  peer_->Put("a", "r", json::object());
  sources::ObjectStore store;
  auto started = StartSource(store);
  ASSERT_TRUE(started);
  KubeSource& source = *started;
  ASSERT_TRUE(Eventually([&] { return store.Load()->store.http_routes.size() == 1; }));
  auto http_route = [&] {
    for (const KindState& k : source.Kinds())
      if (k.kind == "HTTPRoute") return k;
    return KindState{};
  };

  peer_->SetGatewayApiServed(false);  // the CRDs deleted (the peer keeps the objects)
  ASSERT_TRUE(Eventually([&] { return store.Load()->store.http_routes.empty(); }));
  EXPECT_EQ(http_route().api_version, "");
  EXPECT_FALSE(http_route().synced);
  EXPECT_TRUE(source.Synced()) << "the source stays synced: the node keeps serving the rest";

  peer_->SetGatewayApiServed(true);
  ASSERT_TRUE(Eventually([&] { return store.Load()->store.http_routes.size() == 1; }));
  EXPECT_EQ(http_route().api_version, "gateway.networking.k8s.io/v1");
  EXPECT_TRUE(http_route().synced);
  source.Stop();
}

}  // namespace
}  // namespace xgate::kube
