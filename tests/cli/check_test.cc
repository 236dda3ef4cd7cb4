// `xgatectl check` on the seed article's scenario and on broken variants of it.
#include "tools/xgatectl/check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/fixtures/fixtures.h"

namespace xgate::ctl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

struct CheckRun {
  int code = -1;
  std::string out;
  std::string err;
};

CheckRun Check(const fs::path& dir, const std::string& output = "") {
  Args args;
  args.command = "check";
  args.file = dir.string();
  args.output = output;
  std::ostringstream out, err;
  CheckRun run;
  run.code = RunCheck(args, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

json CheckJson(const fs::path& dir, int* code = nullptr) {
  CheckRun run = Check(dir, "json");
  if (code) *code = run.code;
  return json::parse(run.out);
}

const json* FindItem(const json& list, const std::string& kind, const std::string& ns,
                     const std::string& name) {
  for (const auto& item : list.at("items")) {
    const auto& meta = item.at("metadata");
    if (item.at("kind") == kind && meta.value("namespace", "") == ns && meta.at("name") == name) {
      return &item;
    }
  }
  return nullptr;
}

// "status reason" of condition `type` in `conditions`, or "absent".
std::string ConditionOf(const json& conditions, const std::string& type) {
  for (const auto& c : conditions) {
    if (c.at("type") == type) {
      return c.at("status").get<std::string>() + " " + c.at("reason").get<std::string>();
    }
  }
  return "absent";
}

// The condition on the route's first parent.
std::string RouteCondition(const json& list, const std::string& ns, const std::string& name,
                           const std::string& type) {
  const json* route = FindItem(list, "HTTPRoute", ns, name);
  if (route == nullptr) return "no such route";
  const auto& parents = route->at("status").at("parents");
  if (parents.empty()) return "no parents";
  return ConditionOf(parents[0].at("conditions"), type);
}

// The seed's two routes are attached to prod-web and every ref resolves.
void ExpectSeedRoutesAccepted(const json& list) {
  for (const auto& [ns, name] : {std::pair{"foo", "foo-route"}, std::pair{"bar", "bar-route"}}) {
    EXPECT_EQ(RouteCondition(list, ns, name, "Accepted"), "True Accepted") << name;
    EXPECT_EQ(RouteCondition(list, ns, name, "ResolvedRefs"), "True ResolvedRefs") << name;
  }
}

// The summary's route and rule lines (indented under their listener).
std::vector<std::string> RoutingLines(const std::string& summary) {
  std::vector<std::string> lines;
  std::istringstream in(summary);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("    ", 0) == 0) lines.push_back(line);
  }
  return lines;
}

class SeedCheck : public ::testing::Test {
 protected:
  fixtures::TempDir dir_;
};

TEST_F(SeedCheck, V1alpha1ManifestsAreAcceptedAsWritten) {
  fixtures::WriteSeedV1alpha1(dir_.path());
  CheckRun run = Check(dir_.path());
  EXPECT_EQ(run.code, kAllAccepted) << run.out << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_THAT(run.out, HasSubstr("Gateway default/prod-web (class acme-lb)"));
  EXPECT_THAT(run.out, HasSubstr("HTTPS hostname *, 2 routes attached"));
  EXPECT_THAT(run.out, HasSubstr("HTTPRoute foo/foo-route hosts foo.example.com"));
  EXPECT_THAT(run.out, HasSubstr("PathPrefix /login -> foo/foo-auth:8080 weight 1 "
                                 "(198.18.1.11:8080)"));
  EXPECT_THAT(run.out, HasSubstr("PathPrefix /home -> foo/foo-home:8080"));
  EXPECT_THAT(run.out, HasSubstr("PathPrefix / -> foo/foo-404:8080"));
  EXPECT_THAT(run.out, HasSubstr("-> bar/bar-v1:8080 weight 90 (198.18.2.11:8080, "
                                 "198.18.2.12:8080), bar/bar-v2:8080 weight 10"));
  EXPECT_THAT(run.out, HasSubstr("header env=canary -> bar/bar-v2:8080"));
  // Offline there are no node addresses: only "not programmed" may be reported.
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("HTTPRoute foo/foo-route on")));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("HTTPRoute bar/bar-route on")));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("Accepted=False")));

  json list = CheckJson(dir_.path());
  ExpectSeedRoutesAccepted(list);
}

TEST_F(SeedCheck, JsonIsAKubernetesListWithGatewayApiStatus) {
  fixtures::WriteSeedV1alpha1(dir_.path());
  int code = -1;
  json list = CheckJson(dir_.path(), &code);
  EXPECT_EQ(code, kAllAccepted);
  EXPECT_EQ(list.at("apiVersion"), "v1");
  EXPECT_EQ(list.at("kind"), "List");

  // Items come kind by kind in the documented order.
  std::vector<std::string> order = {"GatewayClass", "Gateway",       "HTTPRoute",      "TCPRoute",
                                    "UDPRoute",     "TLSRoute",      "ReferenceGrant", "Namespace",
                                    "Service",      "EndpointSlice", "Secret"};
  size_t last = 0;
  for (const auto& item : list.at("items")) {
    size_t rank = std::find(order.begin(), order.end(), item.at("kind")) - order.begin();
    ASSERT_LT(rank, order.size()) << item.at("kind");
    EXPECT_GE(rank, last) << item.at("kind") << " out of order";
    last = rank;
  }
  EXPECT_EQ(list.at("items")[0].at("kind"), "GatewayClass");

  const json* gc = FindItem(list, "GatewayClass", "", "acme-lb");
  ASSERT_NE(gc, nullptr);
  EXPECT_EQ(ConditionOf(gc->at("status").at("conditions"), "Accepted"), "True Accepted");

  const json* gw = FindItem(list, "Gateway", "default", "prod-web");
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(gw->at("apiVersion"), "gateway.networking.k8s.io/v1");  // converted from v1alpha1
  EXPECT_EQ(gw->at("metadata").at("generation"), 1);
  const auto& listeners = gw->at("status").at("listeners");
  ASSERT_EQ(listeners.size(), 1u);
  EXPECT_EQ(listeners[0].at("attachedRoutes"), 2);
  EXPECT_EQ(listeners[0].at("supportedKinds"),
            json::parse(R"([{"group":"gateway.networking.k8s.io","kind":"HTTPRoute"}])"));
  EXPECT_EQ(ConditionOf(listeners[0].at("conditions"), "ResolvedRefs"), "True ResolvedRefs");
  EXPECT_EQ(ConditionOf(gw->at("status").at("conditions"), "Accepted"), "True Accepted");

  const json* route = FindItem(list, "HTTPRoute", "foo", "foo-route");
  ASSERT_NE(route, nullptr);
  const auto& parent = route->at("status").at("parents").at(0);
  EXPECT_EQ(parent.at("controllerName"), "xgate.dev/node-agent");
  EXPECT_EQ(parent.at("parentRef").at("name"), "prod-web");
  EXPECT_EQ(parent.at("parentRef").at("kind"), "Gateway");
  EXPECT_EQ(parent.at("parentRef").at("group"), "gateway.networking.k8s.io");
  for (const auto& c : parent.at("conditions")) {
    for (const char* field :
         {"type", "status", "reason", "message", "observedGeneration", "lastTransitionTime"}) {
      EXPECT_TRUE(c.contains(field)) << field;
    }
    EXPECT_EQ(c.at("observedGeneration"), 1);
    EXPECT_THAT(c.at("lastTransitionTime").get<std::string>(),
                ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"));
  }
  ExpectSeedRoutesAccepted(list);
  // Core objects carry no status.
  const json* svc = FindItem(list, "Service", "foo", "foo-auth");
  ASSERT_NE(svc, nullptr);
  EXPECT_FALSE(svc->contains("status"));
}

TEST_F(SeedCheck, YamlIsTheSameList) {
  fixtures::WriteSeedV1alpha1(dir_.path());
  CheckRun run = Check(dir_.path(), "yaml");
  EXPECT_EQ(run.code, kAllAccepted);
  YAML::Node doc = YAML::Load(run.out);
  EXPECT_EQ(doc["kind"].as<std::string>(), "List");
  json list = CheckJson(dir_.path());
  ASSERT_EQ(doc["items"].size(), list.at("items").size());
  // Condition statuses stay strings, as kubectl writes them.
  EXPECT_THAT(run.out, HasSubstr("status: \"True\""));
  EXPECT_EQ(doc["items"][1]["status"]["listeners"][0]["attachedRoutes"].as<int>(), 2);
}

TEST_F(SeedCheck, V1GivesTheSameRouting) {
  fixtures::TempDir v1;
  fixtures::WriteSeedV1alpha1(dir_.path());
  fixtures::WriteSeedV1(v1.path());
  CheckRun old_api = Check(dir_.path());
  CheckRun new_api = Check(v1.path());
  EXPECT_EQ(new_api.code, kAllAccepted) << new_api.out << new_api.err;
  std::vector<std::string> routing = RoutingLines(new_api.out);
  EXPECT_EQ(routing.size(), 7u);  // 2 routes, 3 + 2 rules
  EXPECT_EQ(RoutingLines(old_api.out), routing);
  ExpectSeedRoutesAccepted(CheckJson(v1.path()));
}

TEST_F(SeedCheck, YamlSyntaxErrorIsRefusedWithItsLine) {
  fixtures::WriteSeedV1(dir_.path());
  fixtures::WriteFile(dir_.path() / "broken.yaml",
                      "apiVersion: gateway.networking.k8s.io/v1\n"
                      "kind: HTTPRoute\n"
                      "metadata:\n"
                      "  name: broken\n"
                      "  namespace: [foo\n"
                      "spec: {}\n");
  CheckRun run = Check(dir_.path());
  EXPECT_EQ(run.code, kNotAccepted);
  EXPECT_THAT(run.err, ::testing::MatchesRegex(".*broken\\.yaml:[56]:.*\n"));
  ExpectSeedRoutesAccepted(CheckJson(dir_.path()));
}

TEST_F(SeedCheck, PathWithoutSlashIsRefusedWithItsField) {
  fixtures::WriteSeedV1(dir_.path());
  fixtures::WriteFile(dir_.path() / "nopath.yaml",
                      "apiVersion: gateway.networking.k8s.io/v1\n"
                      "kind: HTTPRoute\n"
                      "metadata: {name: nopath, namespace: foo}\n"
                      "spec:\n"
                      "  parentRefs: [{name: prod-web, namespace: default}]\n"
                      "  rules:\n"
                      "  - matches:\n"
                      "    - path: {type: PathPrefix, value: login}\n"
                      "    backendRefs: [{name: foo-auth, port: 8080}]\n");
  int code = -1;
  CheckRun run = Check(dir_.path());
  EXPECT_EQ(run.code, kNotAccepted);
  EXPECT_THAT(run.err, HasSubstr("nopath.yaml:8"));
  EXPECT_THAT(run.err, HasSubstr("spec.rules[0].matches[0].path.value"));
  json list = CheckJson(dir_.path(), &code);
  EXPECT_EQ(FindItem(list, "HTTPRoute", "foo", "nopath"), nullptr);
  ExpectSeedRoutesAccepted(list);
}

TEST_F(SeedCheck, MissingServiceIsBackendNotFound) {
  fixtures::WriteSeedV1(dir_.path());
  fixtures::WriteFile(dir_.path() / "missing.yaml",
                      "apiVersion: gateway.networking.k8s.io/v1\n"
                      "kind: HTTPRoute\n"
                      "metadata: {name: missing, namespace: foo}\n"
                      "spec:\n"
                      "  parentRefs: [{name: prod-web, namespace: default}]\n"
                      "  hostnames: [missing.example.com]\n"
                      "  rules:\n"
                      "  - backendRefs: [{name: no-such-service, port: 8080}]\n");
  CheckRun run = Check(dir_.path());
  EXPECT_EQ(run.code, kNotAccepted);
  EXPECT_THAT(run.out, HasSubstr("HTTPRoute foo/missing on Gateway default/prod-web: "
                                 "ResolvedRefs=False BackendNotFound"));
  json list = CheckJson(dir_.path());
  EXPECT_EQ(RouteCondition(list, "foo", "missing", "ResolvedRefs"), "False BackendNotFound");
  EXPECT_EQ(RouteCondition(list, "foo", "missing", "Accepted"), "True Accepted");
  ExpectSeedRoutesAccepted(list);
}

TEST_F(SeedCheck, NamespaceTheListenerDoesNotAllowIsNotAllowedByListeners) {
  fixtures::WriteSeedV1(dir_.path());
  fixtures::WriteFile(dir_.path() / "internal.yaml",
                      "apiVersion: gateway.networking.k8s.io/v1\n"
                      "kind: Gateway\n"
                      "metadata: {name: internal, namespace: default}\n"
                      "spec:\n"
                      "  gatewayClassName: acme-lb\n"
                      "  listeners:\n"
                      "  - {name: http, protocol: HTTP, port: 8080,"
                      " allowedRoutes: {namespaces: {from: Same}}}\n"
                      "---\n"
                      "apiVersion: gateway.networking.k8s.io/v1\n"
                      "kind: HTTPRoute\n"
                      "metadata: {name: outsider, namespace: foo}\n"
                      "spec:\n"
                      "  parentRefs: [{name: internal, namespace: default}]\n"
                      "  rules:\n"
                      "  - backendRefs: [{name: foo-home, port: 8080}]\n");
  CheckRun run = Check(dir_.path());
  EXPECT_EQ(run.code, kNotAccepted);
  json list = CheckJson(dir_.path());
  EXPECT_EQ(RouteCondition(list, "foo", "outsider", "Accepted"), "False NotAllowedByListeners");
  const json* gw = FindItem(list, "Gateway", "default", "internal");
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(gw->at("status").at("listeners")[0].at("attachedRoutes"), 0);
  ExpectSeedRoutesAccepted(list);
}

TEST_F(SeedCheck, CrossNamespaceBackendWithoutGrantIsRefNotPermitted) {
  fixtures::WriteSeedV1(dir_.path());
  std::string route =
      "apiVersion: gateway.networking.k8s.io/v1\n"
      "kind: HTTPRoute\n"
      "metadata: {name: crossing, namespace: foo}\n"
      "spec:\n"
      "  parentRefs: [{name: prod-web, namespace: default}]\n"
      "  hostnames: [crossing.example.com]\n"
      "  rules:\n"
      "  - backendRefs: [{name: bar-v1, namespace: bar, port: 8080}]\n";
  fixtures::WriteFile(dir_.path() / "crossing.yaml", route);
  CheckRun run = Check(dir_.path());
  EXPECT_EQ(run.code, kNotAccepted);
  json list = CheckJson(dir_.path());
  EXPECT_EQ(RouteCondition(list, "foo", "crossing", "ResolvedRefs"), "False RefNotPermitted");
  ExpectSeedRoutesAccepted(list);

  // The ReferenceGrant in the backend's namespace is what makes it valid.
  fixtures::WriteFile(dir_.path() / "grant.yaml",
                      "apiVersion: gateway.networking.k8s.io/v1beta1\n"
                      "kind: ReferenceGrant\n"
                      "metadata: {name: from-foo, namespace: bar}\n"
                      "spec:\n"
                      "  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute,"
                      " namespace: foo}]\n"
                      "  to: [{group: '', kind: Service}]\n");
  int code = -1;
  list = CheckJson(dir_.path(), &code);
  EXPECT_EQ(code, kAllAccepted);
  EXPECT_EQ(RouteCondition(list, "foo", "crossing", "ResolvedRefs"), "True ResolvedRefs");
}

// The binary itself: exit codes and where each output goes.
int RunBinary(const std::string& args, std::string* out, std::string* err) {
  fixtures::TempDir tmp;
  std::string cmd = std::string(XGATECTL_PATH) + " " + args + " >" + (tmp.path() / "out").string() +
                    " 2>" + (tmp.path() / "err").string();
  int status = std::system(cmd.c_str());
  *out = fixtures::ReadFile(tmp.path() / "out");
  *err = fixtures::ReadFile(tmp.path() / "err");
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(SeedCheck, BinaryExitCodes) {
  fixtures::WriteSeedV1alpha1(dir_.path());
  std::string out, err;
  EXPECT_EQ(RunBinary("check -f " + dir_.path().string() + " -o json", &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out).at("kind"), "List");

  fixtures::WriteFile(dir_.path() / "broken.yaml", "kind: HTTPRoute\nmetadata: {name: [x\n");
  EXPECT_EQ(RunBinary("check -f " + dir_.path().string(), &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("broken.yaml:"));

  EXPECT_EQ(RunBinary("check -f " + (dir_.path() / "no-such-folder").string(), &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("no-such-folder"));
}

// ListenerSets count in the verdict, and --max-gateway-listeners reaches the bind: a
// Gateway's listener and two entries fit in 3, not in 2.
TEST(Check, ListenerSetsAndTheListenerLimit) {
  fixtures::TempDir dir;
  fixtures::WriteFile(dir.path() / "all.yaml", fixtures::AcmeGatewayClassYaml() + "---\n" +
                                                   fixtures::GatewayWithListenerSetYaml());
  auto run = [&](size_t limit) {
    Args args;
    args.command = "check";
    args.file = dir.path().string();
    args.output = "json";
    args.max_gateway_listeners = limit;
    std::ostringstream out, err;
    int code = RunCheck(args, out, err);
    const json list = json::parse(out.str());
    const json* ls = FindItem(list, "ListenerSet", "default", "ls");
    EXPECT_NE(ls, nullptr);
    std::string two =
        ls == nullptr
            ? ""
            : ConditionOf(ls->at("status").at("listeners")[1].at("conditions"), "Accepted");
    return std::make_pair(code, two);
  };
  EXPECT_EQ(run(3), std::make_pair(kAllAccepted, std::string("True Accepted")));
  EXPECT_EQ(run(2), std::make_pair(kNotAccepted, std::string("False TooManyListeners")));
}

TEST(Check, MissingFolderIsUnreadable) {
  fixtures::TempDir dir;
  EXPECT_EQ(Check(dir.path() / "absent").code, kUnreadable);
}

}  // namespace
}  // namespace xgate::ctl
