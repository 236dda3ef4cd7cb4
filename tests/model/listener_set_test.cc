// ListenerSet (gateway.networking.k8s.io/v1) and a Gateway's spec.allowedListeners: the v1
// shape, the CRD's defaults, and each CRD rule refused with the file and field.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "agent/model/loader.h"
#include "tests/model/test_util.h"

namespace xgate::model {
namespace {

using testing::Errors;
using testing::Load;

std::string ListenerSetYaml(const std::string& spec) {
  return absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: ls, namespace: apps}
spec:
)",
                      spec);
}

std::string GatewayYaml(const std::string& extra) {
  return absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: xgate
  listeners: [{name: http, port: 80, protocol: HTTP}]
)",
                      extra);
}

TEST(ListenerSetDecode, ReadsParentRefListenersAndDefaults) {
  LoadResult r = Load(ListenerSetYaml(R"(  parentRef: {name: gw, namespace: infra}
  listeners:
  - {name: a, port: 80, protocol: HTTP, hostname: a.example.com}
  - name: tls
    port: 443
    protocol: TLS
    tls: {mode: Passthrough}
    allowedRoutes: {namespaces: {from: All}, kinds: [{kind: TLSRoute}]}
)"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const ListenerSet& ls = r.store.listener_sets.at({"apps", "ls"});
  EXPECT_EQ(ls.parent_ref.group, kGatewayGroup);
  EXPECT_EQ(ls.parent_ref.kind, "Gateway");
  EXPECT_EQ(ls.parent_ref.ns, "infra");
  EXPECT_EQ(ls.parent_ref.name, "gw");
  ASSERT_EQ(ls.listeners.size(), 2u);
  EXPECT_EQ(ls.listeners[0].name, "a");
  EXPECT_EQ(ls.listeners[0].hostname, "a.example.com");
  EXPECT_EQ(ls.listeners[0].allowed_routes.from, AllowedRoutes::From::kSame);  // the default
  EXPECT_EQ(ls.listeners[1].tls->mode, GatewayTLSConfig::Mode::kPassthrough);
  EXPECT_EQ(ls.listeners[1].allowed_routes.from, AllowedRoutes::From::kAll);
  // The CRD's defaults are written into the object as the API server would keep it.
  EXPECT_EQ(ls.raw["spec"]["parentRef"]["kind"], "Gateway");
  EXPECT_EQ(ls.raw["spec"]["parentRef"]["group"], kGatewayGroup);
  EXPECT_EQ(ls.raw["spec"]["listeners"][0]["allowedRoutes"]["namespaces"]["from"], "Same");
  EXPECT_EQ(ls.raw["apiVersion"], "gateway.networking.k8s.io/v1");
  EXPECT_EQ(ls.meta.generation, 1);
}

TEST(ListenerSetDecode, ParentNamespaceUnsetUntilBound) {
  LoadResult r = Load(ListenerSetYaml(R"(  parentRef: {name: gw}
  listeners: [{name: a, port: 80, protocol: HTTP}]
)"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_FALSE(r.store.listener_sets.at({"apps", "ls"}).parent_ref.ns);
}

TEST(ListenerSetDecode, AllowedListenersDefaultsToNoneAndStaysAbsent) {
  LoadResult r = Load(GatewayYaml(""));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const Gateway& gw = r.store.gateways.at({"infra", "gw"});
  EXPECT_EQ(gw.allowed_listeners.from, AllowedListeners::From::kNone);
  EXPECT_FALSE(gw.raw["spec"].contains("allowedListeners"));

  LoadResult empty = Load(GatewayYaml("  allowedListeners: {}\n"));
  ASSERT_TRUE(empty.errors.empty()) << Errors(empty);
  const Gateway& gw2 = empty.store.gateways.at({"infra", "gw"});
  EXPECT_EQ(gw2.allowed_listeners.from, AllowedListeners::From::kNone);
  EXPECT_EQ(gw2.raw["spec"]["allowedListeners"]["namespaces"]["from"], "None");
}

TEST(ListenerSetDecode, AllowedListenersFromEachValue) {
  using From = AllowedListeners::From;
  for (auto [text, from] :
       {std::pair{"All", From::kAll}, std::pair{"Same", From::kSame},
        std::pair{"None", From::kNone}, std::pair{"Selector", From::kSelector}}) {
    LoadResult r = Load(GatewayYaml(absl::StrCat("  allowedListeners: {namespaces: {from: ", text,
                                                 ", selector: {matchLabels: {a: b}}}}\n")));
    ASSERT_TRUE(r.errors.empty()) << Errors(r);
    const Gateway& gw = r.store.gateways.at({"infra", "gw"});
    EXPECT_EQ(gw.allowed_listeners.from, from) << text;
    EXPECT_TRUE(gw.allowed_listeners.selector.Matches({{"a", "b"}}));
    EXPECT_FALSE(gw.allowed_listeners.selector.Matches({{"a", "c"}}));
  }
}

TEST(ListenerSetDecode, OlderVersionsAreRefused) {
  LoadResult r = Load(R"(apiVersion: gateway.networking.k8s.io/v1beta1
kind: ListenerSet
metadata: {name: ls}
spec:
  parentRef: {name: gw}
  listeners: [{name: a, port: 80, protocol: HTTP}]
)");
  ASSERT_EQ(r.errors.size(), 1u) << Errors(r);
  EXPECT_EQ(r.errors[0].field, "apiVersion");
  EXPECT_TRUE(r.store.listener_sets.empty());
}

TEST(ListenerSetDecode, GenerationCarriedAcrossReloads) {
  const std::string v1 = ListenerSetYaml(R"(  parentRef: {name: gw}
  listeners: [{name: a, port: 80, protocol: HTTP}]
)");
  LoadResult first = Load(v1);
  LoadResult same = Load(v1);
  CarryGenerations(first.store, same.store);
  EXPECT_EQ(same.store.listener_sets.at({"apps", "ls"}).meta.generation, 1);
  EXPECT_EQ(same.store.listener_sets.at({"apps", "ls"}).meta.creation_index,
            first.store.listener_sets.at({"apps", "ls"}).meta.creation_index);
  std::string changed = v1;
  changed.replace(changed.find("port: 80"), 8, "port: 81");
  LoadResult next = Load(changed);
  CarryGenerations(same.store, next.store);
  EXPECT_EQ(next.store.listener_sets.at({"apps", "ls"}).meta.generation, 2);
  EXPECT_EQ(next.store.listener_sets.at({"apps", "ls"}).raw["metadata"]["generation"], 2);
}

struct Refusal {
  std::string name;
  std::string yaml;
  std::string field;
  std::string message;
  int line = 0;
};

class ListenerSetRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(ListenerSetRefusal, NamesTheFileLineAndField) {
  const Refusal& c = GetParam();
  LoadResult r = Load(c.yaml, "bad.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << Errors(r);
  const LoadError& e = r.errors[0];
  EXPECT_EQ(e.pos.file, "bad.yaml");
  EXPECT_EQ(e.field, c.field) << e.ToString();
  EXPECT_NE(e.message.find(c.message), std::string::npos) << e.ToString();
  if (c.line > 0) {
    EXPECT_EQ(e.pos.line, c.line) << e.ToString();
  }
  EXPECT_TRUE(r.store.listener_sets.empty());
  EXPECT_TRUE(r.store.gateways.empty());
}

std::string SixtyFiveListeners() {
  std::string out = "  parentRef: {name: gw}\n  listeners:\n";
  for (int i = 0; i < 65; ++i) {
    absl::StrAppend(&out, "  - {name: l", i, ", port: ", 1000 + i, ", protocol: HTTP}\n");
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ListenerSetRefusal,
    ::testing::Values(Refusal{"DuplicateName", ListenerSetYaml(R"(  parentRef: {name: gw}
  listeners:
  - {name: a, port: 80, protocol: HTTP}
  - {name: a, port: 81, protocol: HTTP}
)"),
                              "spec.listeners[1].name", "must be unique", 8},
                      Refusal{"DuplicateCombination", ListenerSetYaml(R"(  parentRef: {name: gw}
  listeners:
  - {name: a, port: 80, protocol: HTTP, hostname: x.example.com}
  - {name: b, port: 80, protocol: HTTP, hostname: x.example.com}
)"),
                              "spec.listeners[1]", "combination of port, protocol and hostname", 8},
                      Refusal{"NoParentName", ListenerSetYaml(R"(  parentRef: {namespace: infra}
  listeners: [{name: a, port: 80, protocol: HTTP}]
)"),
                              "spec.parentRef.name", "Required value"},
                      Refusal{"NoParentRef",
                              ListenerSetYaml(R"(  listeners: [{name: a, port: 80, protocol: HTTP}]
)"),
                              "spec.parentRef", "Required value"},
                      Refusal{"NoListeners", ListenerSetYaml(R"(  parentRef: {name: gw}
  listeners: []
)"),
                              "spec.listeners", "at least 1"},
                      Refusal{"TooManyListeners", ListenerSetYaml(SixtyFiveListeners()),
                              "spec.listeners", "at most 64"},
                      Refusal{"TlsWithoutMode", ListenerSetYaml(R"(  parentRef: {name: gw}
  listeners:
  - {name: t, port: 443, protocol: TLS, tls: {options: {a: b}}}
)"),
                              "spec.listeners[0].tls.mode", "tls mode must be set for protocol TLS",
                              7},
                      Refusal{"TlsWithoutTls", ListenerSetYaml(R"(  parentRef: {name: gw}
  listeners:
  - {name: t, port: 443, protocol: TLS}
)"),
                              "spec.listeners[0].tls", "tls mode must be set for protocol TLS"},
                      Refusal{"TlsOnHttp", ListenerSetYaml(R"(  parentRef: {name: gw}
  listeners:
  - {name: h, port: 80, protocol: HTTP, tls: {mode: Passthrough}}
)"),
                              "spec.listeners[0].tls", "must not be specified"},
                      Refusal{"AllowedListenersBogus",
                              GatewayYaml("  allowedListeners: {namespaces: {from: Bogus}}\n"),
                              "spec.allowedListeners.namespaces.from", "Unsupported value", 7}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace xgate::model
