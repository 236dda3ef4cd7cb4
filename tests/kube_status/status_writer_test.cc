#include "agent/kube/status_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/kube/status_merge.h"
#include "agent/model/loader.h"
#include "tests/kube_status/gateway_objects.h"
#include "tests/kube_status/in_memory_api.h"

namespace xgate::kube {
namespace {

using nlohmann::json;
using testing::GatewayClassJson;
using testing::GatewayJson;
using testing::HTTPRouteJson;
using testing::InMemoryApi;
using testing::OtherControllersEntry;

using testing::kClasses;
using testing::kGateways;
using testing::kHTTPRoutes;

json Condition(const json& conditions, const std::string& type) {
  for (const json& c : conditions) {
    if (c["type"] == type) return c;
  }
  return json();
}

// The API server with xgate's and another controller's classes, a Gateway of each, a route
// attached to both and a route attached only to the other's; the agent's view of it bound.
class StatusWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.Put(kClasses.Path("", "xgate"), GatewayClassJson("xgate", model::kControllerName));
    api_.Put(kClasses.Path("", "other"), GatewayClassJson("other", testing::kOtherController));
    api_.Put(kGateways.Path("default", "gw"), GatewayJson("gw", "xgate"));
    api_.Put(kGateways.Path("default", "other-gw"), GatewayJson("other-gw", "other"));
    api_.Put(kHTTPRoutes.Path("default", "route"), HTTPRouteJson("route", {"gw", "other-gw"}));
    api_.Put(kHTTPRoutes.Path("default", "foreign"), HTTPRouteJson("foreign", {"other-gw"}));
  }

  // Loads what the server holds now and binds it; `now` stamps new conditions.
  const binder::BindResult& Bind(const std::string& now) {
    loaded_ = std::make_unique<model::LoadResult>();
    std::vector<std::string> paths = {
        kClasses.Path("", "xgate"),           kClasses.Path("", "other"),
        kGateways.Path("default", "gw"),      kGateways.Path("default", "other-gw"),
        kHTTPRoutes.Path("default", "route"), kHTTPRoutes.Path("default", "foreign")};
    paths.insert(paths.end(), more_paths_.begin(), more_paths_.end());
    for (const std::string& path : paths) {
      json object = api_.Object(path);
      if (!object.is_null()) model::LoadText(object.dump(), path, *loaded_);
    }
    EXPECT_TRUE(loaded_->errors.empty()) << loaded_->errors.front().ToString();
    binder::BindOptions options;
    options.now = now;
    bound_ = binder::Bind(loaded_->store, options);
    return bound_;
  }

  absl::Status Write(StatusWriter& writer) { return writer.Write(loaded_->store, bound_.statuses); }

  StatusWriter NewWriter() {
    return StatusWriter(api_, {{model::Kind::kGatewayClass, kClasses},
                               {model::Kind::kGateway, kGateways},
                               {model::Kind::kHTTPRoute, kHTTPRoutes}});
  }

  json Status(const Resource& resource, const std::string& ns, const std::string& name) {
    return api_.Object(resource.Path(ns, name)).value("status", json());
  }

  // HTTPRoute default/again on gw, with `uid` and no status (a route created again).
  void PutRouteAgain(const std::string& uid) {
    json route = HTTPRouteJson("again", {"gw"});
    route["metadata"]["uid"] = uid;
    api_.Put(kHTTPRoutes.Path("default", "again"), route);
  }
  void ExpectOursOnRouteAgain() {
    json status = Status(kHTTPRoutes, "default", "again");
    ASSERT_EQ(status["parents"].size(), 1u);
    EXPECT_EQ(status["parents"][0]["controllerName"], model::kControllerName);
  }

  // ListenerSet default/`name` with one HTTP entry, child of Gateway default/`parent`; Bind
  // loads it.
  void PutListenerSet(const std::string& name, const std::string& parent) {
    api_.Put(testing::kListenerSets.Path("default", name),
             {{"apiVersion", "gateway.networking.k8s.io/v1"},
              {"kind", "ListenerSet"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec",
               {{"parentRef", {{"name", parent}}},
                {"listeners",
                 {{{"name", "extra"},
                   {"port", 80},
                   {"protocol", "HTTP"},
                   {"hostname", name + ".example.com"}}}}}}});
    more_paths_.push_back(testing::kListenerSets.Path("default", name));
  }
  // Sets a ListenerSet's status as another writer would (through /status).
  void PutListenerSetStatus(const std::string& name, const json& status) {
    std::string path = testing::kListenerSets.Path("default", name);
    json object = api_.Object(path);
    object["status"] = status;
    ASSERT_TRUE(api_.UpdateStatus(path, object)->ok());
  }
  StatusWriter NewWriterWithListenerSets() {
    return StatusWriter(api_, {{model::Kind::kGatewayClass, kClasses},
                               {model::Kind::kGateway, kGateways},
                               {model::Kind::kHTTPRoute, kHTTPRoutes},
                               {model::Kind::kListenerSet, testing::kListenerSets}});
  }

  // `n` more HTTPRoutes on gw, r0000 on (each with its uid); Bind loads them.
  void PutRoutes(int n) {
    for (int i = 0; i < n; ++i) {
      std::string name = RouteName(i);
      json route = HTTPRouteJson(name, {"gw"});
      route["metadata"]["uid"] = absl::StrCat("uid-", name);
      api_.Put(kHTTPRoutes.Path("default", name), route);
      more_paths_.push_back(kHTTPRoutes.Path("default", name));
    }
  }
  static std::string RouteName(int i) { return absl::StrFormat("r%04d", i); }
  // Whether the route's status has exactly one entry, xgate's, Accepted.
  void ExpectOursOn(const std::string& name) {
    json status = Status(kHTTPRoutes, "default", name);
    ASSERT_EQ(status.value("parents", json::array()).size(), 1u) << name;
    EXPECT_EQ(status["parents"][0]["controllerName"], model::kControllerName) << name;
    EXPECT_EQ(Condition(status["parents"][0]["conditions"], "Accepted")["status"], "True") << name;
  }

  InMemoryApi api_;
  std::vector<std::string> more_paths_;  // what Bind loads besides the objects above
  std::unique_ptr<model::LoadResult> loaded_;
  binder::BindResult bound_;
};

TEST_F(StatusWriterTest, WritesXgatesStatusOnly) {
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());

  json cls = Status(kClasses, "", "xgate");
  EXPECT_EQ(Condition(cls["conditions"], "Accepted")["status"], "True");
  EXPECT_EQ(Condition(cls["conditions"], "Accepted")["observedGeneration"], 1);
  EXPECT_TRUE(Status(kClasses, "", "other").is_null());  // another controller's class

  json gw = Status(kGateways, "default", "gw");
  EXPECT_EQ(Condition(gw["conditions"], "Accepted")["status"], "True");
  EXPECT_FALSE(Condition(gw["conditions"], "Programmed").is_null());
  ASSERT_EQ(gw["listeners"].size(), 1u);
  EXPECT_EQ(gw["listeners"][0]["name"], "http");
  EXPECT_EQ(gw["listeners"][0]["attachedRoutes"], 1);
  EXPECT_EQ(gw["listeners"][0]["supportedKinds"][0]["kind"], "HTTPRoute");
  EXPECT_EQ(gw["addresses"][0]["value"], "198.18.0.10");
  EXPECT_TRUE(Status(kGateways, "default", "other-gw").is_null());

  json route = Status(kHTTPRoutes, "default", "route");
  ASSERT_EQ(route["parents"].size(), 1u);
  EXPECT_EQ(route["parents"][0]["controllerName"], model::kControllerName);
  EXPECT_EQ(route["parents"][0]["parentRef"]["name"], "gw");
  EXPECT_EQ(Condition(route["parents"][0]["conditions"], "Accepted")["status"], "True");
  EXPECT_TRUE(Status(kHTTPRoutes, "default", "foreign").is_null());

  StatusWriteCounters counters = writer.counters();
  EXPECT_EQ(counters.ok, 3u);
  EXPECT_EQ(counters.error, 0u);
  EXPECT_EQ(api_.Calls("PUT status"), 3);
}

// The pacer (the agent's ProgramFirst::Wait) is asked before each object is read (by GET or
// from a sweep's LIST) and before each LIST page, so a change being programmed holds the
// writer back between objects; a write with nothing changed reads nothing and asks it nothing.
TEST_F(StatusWriterTest, ThePacerIsAskedBeforeEachObjectRead) {
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  int paced = 0;
  std::vector<int> reads_when_paced;
  auto reads = [&] {
    return api_.Calls("GET") + api_.Calls("LIST") + int(writer.counters().read_listed);
  };
  writer.SetPacer([&] {
    ++paced;
    reads_when_paced.push_back(reads());
  });
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(paced, reads());
  EXPECT_EQ(api_.Calls("LIST"), 1);
  EXPECT_GE(paced, 4);  // the class, the Gateway, the LIST and the route at least
  for (size_t i = 0; i < reads_when_paced.size(); ++i) EXPECT_EQ(reads_when_paced[i], int(i));
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(paced, reads());
}

// A ListenerSet's status, as the binder gives it for a ListenerSet of one of our Gateways,
// goes to its /status: conditions and listeners, no addresses; written once, then unchanged.
TEST_F(StatusWriterTest, WritesAListenerSetsStatus) {
  api_.Put(testing::kListenerSets.Path("default", "ls"),
           {{"apiVersion", "gateway.networking.k8s.io/v1"},
            {"kind", "ListenerSet"},
            {"metadata", {{"name", "ls"}, {"namespace", "default"}}},
            {"spec",
             {{"parentRef", {{"name", "gw"}}},
              {"listeners", {{{"name", "extra"}, {"port", 80}, {"protocol", "HTTP"}}}}}}});
  Bind("2026-01-01T00:00:00Z");
  model::Condition accepted{"Accepted", "True", "Accepted", "", 1, "2026-01-01T00:00:00Z"};
  model::ListenerStatus extra{"extra", {{model::kGatewayGroup, "HTTPRoute"}}, 2, {accepted}};
  bound_.statuses.listener_sets[{"default", "ls"}] = {{accepted}, {extra}};
  StatusWriter writer(api_, {{model::Kind::kGatewayClass, kClasses},
                             {model::Kind::kGateway, kGateways},
                             {model::Kind::kHTTPRoute, kHTTPRoutes},
                             {model::Kind::kListenerSet, testing::kListenerSets}});
  ASSERT_TRUE(Write(writer).ok());
  json ls = Status(testing::kListenerSets, "default", "ls");
  EXPECT_EQ(Condition(ls["conditions"], "Accepted")["status"], "True");
  EXPECT_EQ(Condition(ls["conditions"], "Accepted")["observedGeneration"], 1);
  ASSERT_EQ(ls["listeners"].size(), 1u);
  EXPECT_EQ(ls["listeners"][0]["name"], "extra");
  EXPECT_EQ(ls["listeners"][0]["attachedRoutes"], 2);
  EXPECT_EQ(ls["listeners"][0]["supportedKinds"][0]["kind"], "HTTPRoute");
  EXPECT_FALSE(ls.contains("addresses"));
  EXPECT_EQ(api_.Calls("PUT status"), 4);
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(api_.Calls("PUT status"), 4);
  EXPECT_EQ(writer.counters().skipped_unchanged, 4u);
}

// A status as the ListenerSet CRD defaults it: Accepted and Programmed Unknown/Pending, no
// listeners.
void ExpectDefaultListenerSetStatus(const json& status) {
  for (const char* type : {"Accepted", "Programmed"}) {
    json c = Condition(status.value("conditions", json::array()), type);
    EXPECT_EQ(c.value("status", ""), "Unknown") << type;
    EXPECT_EQ(c.value("reason", ""), "Pending") << type;
    EXPECT_FALSE(c.contains("observedGeneration")) << type;
  }
  EXPECT_EQ(status.value("conditions", json::array()).size(), 2u);
  EXPECT_TRUE(status.value("listeners", json::array()).empty());
}

// A ListenerSet whose parentRef stops naming one of our Gateways gets the CRD's default status
// back, once; one that another controller wrote meanwhile is left as that controller wrote it.
TEST_F(StatusWriterTest, AListenerSetThatLeavesOurGatewaysGetsTheDefaultStatusBack) {
  json gw = api_.Object(kGateways.Path("default", "gw"));
  gw["spec"]["allowedListeners"] = {{"namespaces", {{"from", "Same"}}}};
  ASSERT_TRUE(api_.Update(kGateways.Path("default", "gw"), gw)->ok());
  PutListenerSet("ls", "gw");
  PutListenerSet("ls2", "gw");
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriterWithListenerSets();
  ASSERT_TRUE(Write(writer).ok());
  json ls = Status(testing::kListenerSets, "default", "ls");
  EXPECT_EQ(Condition(ls["conditions"], "Accepted")["status"], "True");
  ASSERT_EQ(ls["listeners"].size(), 1u);
  const int puts = api_.Calls("PUT status");

  // Both move to the other controller's Gateway; that controller writes ls2's status first.
  for (const char* name : {"ls", "ls2"}) {
    json object = api_.Object(testing::kListenerSets.Path("default", name));
    object["spec"]["parentRef"]["name"] = "other-gw";
    ASSERT_TRUE(api_.Update(testing::kListenerSets.Path("default", name), object)->ok());
  }
  const json theirs = {
      {"conditions", {testing::AcceptedCondition("theirs", 2, "2026-01-02T00:00:00Z")}}};
  PutListenerSetStatus("ls2", theirs);
  Bind("2026-01-02T00:00:00Z");
  ASSERT_TRUE(Write(writer).ok());
  ExpectDefaultListenerSetStatus(Status(testing::kListenerSets, "default", "ls"));
  EXPECT_EQ(Status(testing::kListenerSets, "default", "ls2"), theirs);
  // The other controller's write of ls2, our reset of ls and the Gateway's
  // attachedListenerSets 2 -> 0: ls2 is not written by us.
  EXPECT_EQ(api_.Calls("PUT status"), puts + 1 + 1 + 1);

  // Nothing of ours is left: nothing more is written, and neither ListenerSet is read again.
  const int gets = api_.Calls("GET");
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(api_.Calls("PUT status"), puts + 3);
  // (The class, the Gateway and the route are as this writer left them: not read either.)
  EXPECT_EQ(api_.Calls("GET"), gets);
}

// A new writer (a restart, a new Lease holder) does not know what was written: a ListenerSet
// without a controller (its Gateway, or that Gateway's class, does not exist) is reset, one
// whose parent is another controller's Gateway is left alone.
TEST_F(StatusWriterTest, ASweepResetsListenerSetsWithoutAController) {
  api_.Put(kGateways.Path("default", "classless"), GatewayJson("classless", "no-such-class"));
  more_paths_.push_back(kGateways.Path("default", "classless"));
  PutListenerSet("orphan", "gone");
  PutListenerSet("classless", "classless");
  PutListenerSet("theirs", "other-gw");
  PutListenerSet("fresh", "gone");  // never written: the CRD's default
  const json left = {
      {"conditions",
       {testing::AcceptedCondition("ListenerSet is accepted", 1, "2026-01-01T00:00:00Z")}},
      {"listeners", {{{"name", "extra"}, {"attachedRoutes", 1}}}}};
  for (const char* name : {"orphan", "classless", "theirs"}) PutListenerSetStatus(name, left);
  api_.Put(testing::kListenerSets.Path("default", "fresh"), [&] {
    json object = api_.Object(testing::kListenerSets.Path("default", "fresh"));
    object["status"] = DefaultListenerSetStatus();
    return object;
  }());
  Bind("2026-01-02T00:00:00Z");
  ASSERT_TRUE(loaded_->store.gateways.contains({"default", "classless"}));
  StatusWriter writer = NewWriterWithListenerSets();
  const int puts = api_.Calls("PUT status");
  ASSERT_TRUE(Write(writer).ok());
  ExpectDefaultListenerSetStatus(Status(testing::kListenerSets, "default", "orphan"));
  ExpectDefaultListenerSetStatus(Status(testing::kListenerSets, "default", "classless"));
  EXPECT_EQ(Status(testing::kListenerSets, "default", "theirs"), left);
  // class, Gateway, route, and the two resets; "fresh" already has the default.
  EXPECT_EQ(api_.Calls("PUT status"), puts + 3 + 2);
  // Not swept again until SweepAllRoutes().
  const int gets = api_.Calls("GET");
  PutListenerSetStatus("orphan", left);
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(Status(testing::kListenerSets, "default", "orphan"), left);
  writer.SweepAllRoutes();
  ASSERT_TRUE(Write(writer).ok());
  ExpectDefaultListenerSetStatus(Status(testing::kListenerSets, "default", "orphan"));
  EXPECT_GT(api_.Calls("GET"), gets);
}

TEST_F(StatusWriterTest, NothingWrittenWhenNothingChanged) {
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());
  ASSERT_EQ(api_.Calls("PUT status"), 3);

  // Bound again later (another agent, a restart: new lastTransitionTimes), same conditions.
  Bind("2026-06-01T00:00:00Z");
  StatusWriter fresh = NewWriter();
  ASSERT_TRUE(Write(fresh).ok());
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(api_.Calls("PUT status"), 3);
  EXPECT_EQ(fresh.counters().skipped_unchanged, 3u);
  EXPECT_EQ(fresh.counters().ok, 0u);
  json gw = Status(kGateways, "default", "gw");
  EXPECT_EQ(Condition(gw["conditions"], "Accepted")["lastTransitionTime"], "2026-01-01T00:00:00Z");
}

TEST_F(StatusWriterTest, LastTransitionTimeMovesOnlyForAConditionThatChanged) {
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());

  // The route now names a listener that does not exist: its Accepted turns False.
  json route = api_.Object(kHTTPRoutes.Path("default", "route"));
  route["spec"]["parentRefs"][0]["sectionName"] = "nope";
  route["spec"]["parentRefs"].erase(1);
  ASSERT_TRUE(api_.Update(kHTTPRoutes.Path("default", "route"), route)->ok());
  Bind("2026-02-02T00:00:00Z");
  ASSERT_TRUE(Write(writer).ok());

  json status = Status(kHTTPRoutes, "default", "route");
  ASSERT_EQ(status["parents"].size(), 1u);  // the old entry (no sectionName) is gone
  EXPECT_EQ(status["parents"][0]["parentRef"]["sectionName"], "nope");
  json accepted = Condition(status["parents"][0]["conditions"], "Accepted");
  EXPECT_EQ(accepted["status"], "False");
  EXPECT_EQ(accepted["observedGeneration"], 2);
  EXPECT_EQ(accepted["lastTransitionTime"], "2026-02-02T00:00:00Z");
  // The Gateway's conditions held: their times stay; its listener has no route now.
  json gw = Status(kGateways, "default", "gw");
  EXPECT_EQ(Condition(gw["conditions"], "Accepted")["lastTransitionTime"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(gw["listeners"][0]["attachedRoutes"], 0);
}

TEST_F(StatusWriterTest, AnotherControllersEntriesStayWhereTheyAre) {
  json route = api_.Object(kHTTPRoutes.Path("default", "route"));
  route["status"] = {{"parents", {OtherControllersEntry()}}};
  ASSERT_TRUE(api_.UpdateStatus(kHTTPRoutes.Path("default", "route"), route)->ok());
  json foreign = api_.Object(kHTTPRoutes.Path("default", "foreign"));
  foreign["status"] = {{"parents", {OtherControllersEntry()}}};
  ASSERT_TRUE(api_.UpdateStatus(kHTTPRoutes.Path("default", "foreign"), foreign)->ok());
  int puts_before = api_.Calls("PUT status");

  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());
  json status = Status(kHTTPRoutes, "default", "route");
  ASSERT_EQ(status["parents"].size(), 2u);
  EXPECT_EQ(status["parents"][0], OtherControllersEntry());
  EXPECT_EQ(status["parents"][1]["controllerName"], model::kControllerName);
  // The route attached only to the other controller's Gateway is not written at all.
  EXPECT_EQ(Status(kHTTPRoutes, "default", "foreign")["parents"][0], OtherControllersEntry());
  EXPECT_EQ(api_.Calls("PUT status") - puts_before, 3);
}

TEST_F(StatusWriterTest, AConflictReadsAgainAndKeepsTheOtherWriter) {
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  // The other controller writes its entry between xgate's read of the route and its write.
  bool raced = false;
  api_.SetBeforeWrite([&](const std::string& method, const std::string& path) {
    if (raced || method != "PUT status" || path != kHTTPRoutes.Path("default", "route")) return;
    raced = true;
    json route = api_.Object(path);
    route["status"] = {{"parents", {OtherControllersEntry()}}};
    ASSERT_TRUE(api_.UpdateStatus(path, route)->ok());
  });
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_TRUE(raced);
  json status = Status(kHTTPRoutes, "default", "route");
  ASSERT_EQ(status["parents"].size(), 2u);
  EXPECT_EQ(status["parents"][0], OtherControllersEntry());
  EXPECT_EQ(status["parents"][1]["controllerName"], model::kControllerName);
  EXPECT_EQ(writer.counters().conflict, 1u);
  EXPECT_EQ(writer.counters().ok, 3u);
}

TEST_F(StatusWriterTest, AStaleCacheCostsOneConflict) {
  Bind("2026-01-01T00:00:00Z");
  json stale_route = api_.Object(kHTTPRoutes.Path("default", "route"));
  // The reader answers from a cache that missed the latest write to the route.
  json route = stale_route;
  route["status"] = {{"parents", {OtherControllersEntry()}}};
  ASSERT_TRUE(api_.UpdateStatus(kHTTPRoutes.Path("default", "route"), route)->ok());
  StatusWriter writer(
      api_, {{model::Kind::kHTTPRoute, kHTTPRoutes}},
      [&](const Resource&, const model::ObjectKey& key) -> absl::StatusOr<std::optional<json>> {
        if (key.name == "route") return stale_route;
        return api_.Object(kHTTPRoutes.Path(key.ns, key.name));
      });
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(writer.counters().conflict, 1u);
  EXPECT_EQ(Status(kHTTPRoutes, "default", "route")["parents"].size(), 2u);
  // Kinds the server does not serve get no status.
  EXPECT_TRUE(Status(kGateways, "default", "gw").is_null());
}

TEST_F(StatusWriterTest, EntriesOfXgatesAreRemovedWhenTheRouteLeavesItsGateways) {
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());
  json route = api_.Object(kHTTPRoutes.Path("default", "route"));
  route["spec"]["parentRefs"] = {{{"name", "other-gw"}}};
  ASSERT_TRUE(api_.Update(kHTTPRoutes.Path("default", "route"), route)->ok());
  Bind("2026-01-02T00:00:00Z");
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_TRUE(Status(kHTTPRoutes, "default", "route")["parents"].empty());
}

// 20 more routes on gw: once their status is written, a Write of the same statuses (bound
// again later: new lastTransitionTimes) neither reads nor writes any object, and a change of
// one route's status reads and writes that route only.
TEST_F(StatusWriterTest, OnlyTheObjectsWhoseStatusChangedAreReadAndWritten) {
  for (int i = 0; i < 20; ++i) {
    std::string name = absl::StrCat("r", i);
    json route = HTTPRouteJson(name, {"gw"});
    route["metadata"]["uid"] = absl::StrCat("uid-", name);
    api_.Put(kHTTPRoutes.Path("default", name), route);
    more_paths_.push_back(kHTTPRoutes.Path("default", name));
  }
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());
  const int gets = api_.Calls("GET");
  const int puts = api_.Calls("PUT status");
  EXPECT_EQ(puts, 3 + 20);  // the class, the Gateway (its attachedRoutes), 21 routes

  Bind("2026-01-02T00:00:00Z");
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(api_.Calls("GET"), gets);
  EXPECT_EQ(api_.Calls("PUT status"), puts);
  EXPECT_EQ(writer.counters().skipped_unchanged, 23u);

  // r7 now names a listener gw does not have: its Accepted condition changes, nothing else.
  json r7 = api_.Object(kHTTPRoutes.Path("default", "r7"));
  r7["spec"]["parentRefs"][0]["sectionName"] = "nonexistent";
  ASSERT_TRUE(api_.Update(kHTTPRoutes.Path("default", "r7"), r7)->ok());
  Bind("2026-01-03T00:00:00Z");
  ASSERT_TRUE(Write(writer).ok());
  // r7, and the Gateway, whose listener has one route attached less.
  EXPECT_EQ(api_.Calls("GET"), gets + 2);
  EXPECT_EQ(api_.Calls("PUT status"), puts + 2);
  json status = Status(kHTTPRoutes, "default", "r7");
  EXPECT_EQ(Condition(status["parents"][0]["conditions"], "Accepted")["status"], "False");
}

// A route deleted and created again (another uid) has no status: it is written again even
// though what xgate computes for it is the same.
TEST_F(StatusWriterTest, ARouteCreatedAgainIsWrittenAgain) {
  PutRouteAgain("uid-1");
  more_paths_.push_back(kHTTPRoutes.Path("default", "again"));
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());
  ASSERT_FALSE(Status(kHTTPRoutes, "default", "again").is_null());

  PutRouteAgain("uid-2");  // no status
  ASSERT_TRUE(Status(kHTTPRoutes, "default", "again").is_null());
  Bind("2026-01-02T00:00:00Z");
  ASSERT_TRUE(Write(writer).ok());
  ExpectOursOnRouteAgain();
}

// The very status objects written before, given again (a bind memo replays a route with the
// status object it had), are skipped with nothing read, printed or written; but not on a route
// created again (another uid) since: that one is written again.
TEST_F(StatusWriterTest, TheSameStatusObjectsAreSkippedUnlessTheRouteIsCreatedAgain) {
  PutRouteAgain("uid-1");
  more_paths_.push_back(kHTTPRoutes.Path("default", "again"));
  Bind("2026-01-01T00:00:00Z");
  const binder::Statuses first = bound_.statuses;  // shares the status objects
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(writer.Write(loaded_->store, first).ok());
  const int gets = api_.Calls("GET");
  const int puts = api_.Calls("PUT status");
  const uint64_t skipped = writer.counters().skipped_unchanged;
  ASSERT_TRUE(writer.Write(loaded_->store, first).ok());
  EXPECT_EQ(api_.Calls("GET"), gets);
  EXPECT_EQ(api_.Calls("PUT status"), puts);
  EXPECT_EQ(writer.counters().skipped_unchanged, skipped + 4);  // class, Gateway, 2 routes

  PutRouteAgain("uid-2");                                 // no status
  Bind("2026-01-02T00:00:00Z");                           // the store sees uid-2
  ASSERT_TRUE(writer.Write(loaded_->store, first).ok());  // the same status objects
  ExpectOursOnRouteAgain();
}

// After SweepAllRoutes (this agent became the Lease holder) nothing is taken as written: a
// status another agent changed meanwhile is read and written again.
TEST_F(StatusWriterTest, ASweepReadsEveryObjectAgain) {
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());
  json route = api_.Object(kHTTPRoutes.Path("default", "route"));
  route["status"] = {{"parents", json::array()}};  // another agent's stale view
  ASSERT_TRUE(api_.UpdateStatus(kHTTPRoutes.Path("default", "route"), route)->ok());
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_TRUE(Status(kHTTPRoutes, "default", "route")["parents"].empty());  // not read
  writer.SweepAllRoutes();
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(Status(kHTTPRoutes, "default", "route")["parents"].size(), 1u);
}

// A sweep reads the routes with a paged LIST (1,202 routes: 3 pages of 500), not one GET each,
// and writes only those whose status differs; a sweep over routes that all carry xgate's
// status already lists them and neither reads nor writes any.
TEST_F(StatusWriterTest, ASweepListsTheRoutesAndWritesOnlyThoseThatDiffer) {
  PutRoutes(1200);
  Bind("2026-01-01T00:00:00Z");
  {
    StatusWriter first = NewWriter();
    ASSERT_TRUE(Write(first).ok());
    EXPECT_EQ(api_.Calls("LIST"), 3);
    EXPECT_EQ(api_.Calls("GET"), 2);  // the class and the Gateway
    EXPECT_EQ(api_.Calls("PUT status"), 2 + 1201);
    EXPECT_EQ(first.counters().read_listed, 1202u);  // foreign too (nothing to write there)
  }
  // Another writer (or an operator) clears 7 routes' status meanwhile.
  for (int i : {0, 3, 499, 500, 501, 999, 1199}) {
    std::string path = kHTTPRoutes.Path("default", RouteName(i));
    json route = api_.Object(path);
    route["status"] = {{"parents", json::array()}};
    ASSERT_TRUE(api_.UpdateStatus(path, route)->ok());
  }
  const int gets = api_.Calls("GET");
  const int puts = api_.Calls("PUT status");
  Bind("2026-01-02T00:00:00Z");  // a restart: bound anew
  StatusWriter restarted = NewWriter();
  ASSERT_TRUE(Write(restarted).ok());
  EXPECT_EQ(api_.Calls("LIST"), 6);
  EXPECT_EQ(api_.Calls("GET"), gets + 2);
  EXPECT_EQ(api_.Calls("PUT status"), puts + 7);
  for (int i = 0; i < 1200; ++i) ExpectOursOn(RouteName(i));
  EXPECT_EQ(restarted.counters().list_pages, 3u);
  EXPECT_EQ(restarted.counters().read_get, 2u);

  restarted.SweepAllRoutes();
  ASSERT_TRUE(Write(restarted).ok());
  EXPECT_EQ(api_.Calls("LIST"), 9);
  EXPECT_EQ(api_.Calls("GET"), gets + 4);
  EXPECT_EQ(api_.Calls("PUT status"), puts + 7);
  EXPECT_EQ(restarted.counters().error, 0u);
}

// A route of the store the LIST does not have (created again after the list was answered)
// is read by GET and written.
TEST_F(StatusWriterTest, ARouteTheListDoesNotHaveIsReadByGet) {
  PutRoutes(3);
  Bind("2026-01-01T00:00:00Z");
  const std::string late = kHTTPRoutes.Path("default", RouteName(1));
  const json object = api_.Object(late);
  api_.Remove(late);
  api_.SetAfterList([&](const Response&) { api_.Put(late, object); });
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());
  ExpectOursOn(RouteName(1));
  EXPECT_EQ(api_.Calls("LIST"), 1);
  EXPECT_EQ(api_.Calls("GET"), 3);  // the class, the Gateway, the late route
  for (int i : {0, 2}) ExpectOursOn(RouteName(i));
}

// A listed route written by another controller after the LIST (its resourceVersion moved)
// costs one 409, a GET and the write: the other controller's entry is kept.
TEST_F(StatusWriterTest, AStaleListedRouteCostsOneConflict) {
  PutRoutes(3);
  Bind("2026-01-01T00:00:00Z");
  const std::string path = kHTTPRoutes.Path("default", RouteName(2));
  api_.SetAfterList([&](const Response&) {
    json route = api_.Object(path);
    route["status"] = {{"parents", {OtherControllersEntry()}}};
    ASSERT_TRUE(api_.UpdateStatus(path, route)->ok());
  });
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(writer.counters().conflict, 1u);
  EXPECT_EQ(api_.Calls("GET"), 3);  // the class, the Gateway, r0002 after its 409
  json status = Status(kHTTPRoutes, "default", RouteName(2));
  ASSERT_EQ(status["parents"].size(), 2u);
  EXPECT_EQ(status["parents"][0], OtherControllersEntry());
  EXPECT_EQ(status["parents"][1]["controllerName"], model::kControllerName);
}

// A LIST that fails leaves its kind's routes to one GET each, with one warning: every route
// still gets its status.
TEST_F(StatusWriterTest, AFailingListFallsBackToGets) {
  PutRoutes(20);
  Bind("2026-01-01T00:00:00Z");
  api_.SetListFailure(500);
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());
  for (int i = 0; i < 20; ++i) ExpectOursOn(RouteName(i));
  ExpectOursOn("route");
  EXPECT_EQ(api_.Calls("LIST"), 1);
  EXPECT_EQ(writer.counters().list_errors, 1u);
  EXPECT_EQ(writer.counters().read_listed, 0u);
  EXPECT_EQ(api_.Calls("GET"), 2 + 22);
  EXPECT_EQ(api_.Calls("PUT status"), 2 + 21);
}

// A continue token that expired mid-list (410) starts the list over: no route is read by GET.
TEST_F(StatusWriterTest, AnExpiredContinueTokenListsAgain) {
  PutRoutes(1200);
  Bind("2026-01-01T00:00:00Z");
  bool expired = false;
  api_.SetAfterList([&](const Response&) {
    if (!std::exchange(expired, true)) api_.ExpireContinueTokens();
  });
  StatusWriter writer = NewWriter();
  ASSERT_TRUE(Write(writer).ok());
  EXPECT_EQ(api_.Calls("LIST"), 1 + 1 + 3);  // a page, the 410, the list again
  EXPECT_EQ(writer.counters().list_pages, 4u);
  EXPECT_EQ(api_.Calls("GET"), 2);
  EXPECT_EQ(api_.Calls("PUT status"), 2 + 1201);
  for (int i = 0; i < 1200; ++i) ExpectOursOn(RouteName(i));
}

TEST_F(StatusWriterTest, AnUnreachableServerIsAnErrorAndCounted) {
  Bind("2026-01-01T00:00:00Z");
  StatusWriter writer = NewWriter();
  api_.SetReachable(false);
  EXPECT_FALSE(Write(writer).ok());
  EXPECT_GT(writer.counters().error, 0u);
  api_.SetReachable(true);
  ASSERT_TRUE(Write(writer).ok());  // the sweep of every route happens again
  EXPECT_EQ(writer.counters().ok, 3u);
}

TEST(StatusMergeTest, AbsentStatusEqualsEmptyOne) {
  EXPECT_TRUE(SameStatus(json(), json{{"parents", json::array()}}));
  EXPECT_FALSE(SameStatus(json(), json{{"parents", {OtherControllersEntry()}}}));
  json gateway = {{"conditions", json::array()}, {"listeners", json::array()}};
  EXPECT_TRUE(SameStatus(json::object(), gateway));
}

TEST(StatusMergeTest, DefaultedParentRefsMatch) {
  json ours_entry = OtherControllersEntry();
  ours_entry["controllerName"] = model::kControllerName;
  json current = {{"parents", {ours_entry}}};
  current["parents"][0]["parentRef"].erase("group");
  current["parents"][0]["parentRef"].erase("kind");
  json next = ours_entry;
  next["conditions"][0]["lastTransitionTime"] = "2030-01-01T00:00:00Z";
  json merged = MergeRouteStatus(current, {{"parents", {next}}}, model::kControllerName);
  ASSERT_EQ(merged["parents"].size(), 1u);
  EXPECT_EQ(merged["parents"][0]["conditions"][0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
}

TEST(StatusMergeTest, GatewayFieldsOfOthersStay) {
  json current = {{"addresses", {{{"type", "IPAddress"}, {"value", "198.18.0.9"}}}},
                  {"somethingNew", "kept"}};
  json merged = MergeGatewayStatus(current, {{"conditions", json::array()}});
  EXPECT_FALSE(merged.contains("addresses"));
  EXPECT_EQ(merged["somethingNew"], "kept");
}

// attachedListenerSets is ours: written as we count it (0 included), erased when we give none.
TEST(StatusMergeTest, AGatewaysListenerSetCountIsOurs) {
  json current = {{"attachedListenerSets", 3}, {"conditions", json::array()}};
  json counted = MergeGatewayStatus(current, {{"attachedListenerSets", 0}});
  EXPECT_EQ(counted["attachedListenerSets"], 0);
  EXPECT_FALSE(SameStatus(current, counted));
  json none = MergeGatewayStatus(current, {{"conditions", json::array()}});
  EXPECT_FALSE(none.contains("attachedListenerSets"));
  EXPECT_EQ(MergeGatewayStatus(json(), {{"attachedListenerSets", 2}})["attachedListenerSets"], 2);
}

// A ListenerSet's status merges as a Gateway's: conditions and listeners replaced, a
// condition that did not change keeps its time, fields of others stay, no addresses or count.
TEST(StatusMergeTest, AListenerSetsConditionsAndListenersAreOurs) {
  auto condition = [](const char* type, const char* status, const char* time) {
    return json{{"type", type},
                {"status", status},
                {"reason", type},
                {"observedGeneration", 1},
                {"lastTransitionTime", time}};
  };
  json current = {
      {"conditions", {condition("Accepted", "True", "2020-01-01T00:00:00Z")}},
      {"listeners",
       {{{"name", "a"}, {"conditions", {condition("Programmed", "True", "2020-01-01T00:00:00Z")}}},
        {{"name", "gone"}, {"conditions", json::array()}}}},
      {"somethingNew", "kept"}};
  json ours = {
      {"conditions",
       {condition("Accepted", "True", "2030-01-01T00:00:00Z"),
        condition("Programmed", "False", "2030-01-01T00:00:00Z")}},
      {"listeners",
       {{{"name", "a"}, {"conditions", {condition("Programmed", "True", "2030-01-01T00:00:00Z")}}},
        {{"name", "b"}, {"conditions", {condition("Accepted", "True", "2030-01-01T00:00:00Z")}}}}},
      {"attachedListenerSets", 1}};
  json merged = MergeListenerSetStatus(current, ours);
  EXPECT_EQ(merged["conditions"][0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
  EXPECT_EQ(merged["conditions"][1]["lastTransitionTime"], "2030-01-01T00:00:00Z");
  ASSERT_EQ(merged["listeners"].size(), 2u);
  EXPECT_EQ(merged["listeners"][0]["conditions"][0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
  EXPECT_EQ(merged["listeners"][1]["name"], "b");
  EXPECT_EQ(merged["somethingNew"], "kept");
  EXPECT_FALSE(merged.contains("addresses"));
  EXPECT_FALSE(merged.contains("attachedListenerSets"));
}

}  // namespace
}  // namespace xgate::kube

namespace xgate::kube {
namespace {

TEST(StatusResourcesTest, TheServedVersionOfEachKindWithStatus) {
  std::vector<KindState> kinds = {
      {"GatewayClass", "gateway.networking.k8s.io/v1", true, 0, 0},
      {"Gateway", "gateway.networking.k8s.io/v1beta1", true, 0, 0},
      {"TCPRoute", "gateway.networking.k8s.io/v1alpha2", true, 0, 0},
      {"UDPRoute", "", false, 0, 0},  // CRD not installed
      {"Service", "v1", true, 0, 0},  // no status of xgate's
      {"ListenerSet", "gateway.networking.k8s.io/v1", true, 0, 0},
  };
  std::map<model::Kind, Resource> resources = StatusResources(kinds);
  ASSERT_EQ(resources.size(), 4u);
  EXPECT_EQ(resources[model::Kind::kListenerSet].Path("ns", "ls", "status"),
            "/apis/gateway.networking.k8s.io/v1/namespaces/ns/listenersets/ls/status");
  EXPECT_EQ(resources[model::Kind::kGatewayClass].Path("", "xgate"),
            "/apis/gateway.networking.k8s.io/v1/gatewayclasses/xgate");
  EXPECT_EQ(resources[model::Kind::kGateway].Path("ns", "gw", "status"),
            "/apis/gateway.networking.k8s.io/v1beta1/namespaces/ns/gateways/gw/status");
  EXPECT_EQ(resources[model::Kind::kTCPRoute].Path("ns", "r"),
            "/apis/gateway.networking.k8s.io/v1alpha2/namespaces/ns/tcproutes/r");
}

}  // namespace
}  // namespace xgate::kube
