// Documents, files and versions: syntax errors, bad documents among good ones, older API
// versions, core kinds, defaults in raw, duplicates, and CarryGenerations.
#include "agent/model/loader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "agent/model/yaml_json.h"
#include "tests/model/test_util.h"

namespace xgate::model {
namespace {

using testing::Errors;
using testing::Load;

constexpr char kGood[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: good, namespace: web}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: svc, port: 80}]
)";

TEST(Loader, YamlSyntaxErrorReportsLineAndKeepsOtherDocuments) {
  std::string text = std::string(kGood) + R"(---
apiVersion: v1
kind: Service
metadata: {name: broken
spec: [
---
apiVersion: v1
kind: Namespace
metadata: {name: after}
)";
  LoadResult r = Load(text, "mixed.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << Errors(r);
  EXPECT_EQ(r.errors[0].pos.file, "mixed.yaml");
  EXPECT_GE(r.errors[0].pos.line, 11);
  EXPECT_LE(r.errors[0].pos.line, 13);
  EXPECT_NE(r.errors[0].message.find("YAML syntax error"), std::string::npos);
  EXPECT_EQ(r.errors[0].ToString().rfind("mixed.yaml:", 0), 0u);
  EXPECT_EQ(r.store.http_routes.size(), 1u);
  EXPECT_EQ(r.store.namespaces.size(), 1u);
  EXPECT_EQ(r.store.namespaces.at({"", "after"}).meta.source.line, 14);
}

TEST(Loader, OneBadDocumentAmongGoodOnes) {
  std::string text = std::string(kGood) + R"(---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad, namespace: web}
spec:
  rules:
  - backendRefs: [{name: svc, port: 80, weight: -3}]
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: web}
spec:
  ports: [{port: 80}]
)";
  LoadResult r = Load(text, "three.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << Errors(r);
  EXPECT_EQ(r.errors[0].ToString(),
            "three.yaml:14: HTTPRoute web/bad: spec.rules[0].backendRefs[0].weight: Invalid value: "
            "-3: must be between 0 and 1000000");
  EXPECT_EQ(r.store.http_routes.size(), 1u);
  EXPECT_TRUE(r.store.http_routes.count({"web", "good"}));
  EXPECT_EQ(r.store.services.size(), 1u);
}

// Documents load without their lines; the one with an error is parsed again for them, so its
// lines must be the file's whatever comes before it (comments, anchors, an indented start).
TEST(Loader, ErrorLinesAreTheFilesWhereverTheDocumentStarts) {
  std::string text = R"(# a comment first
# and another
apiVersion: v1
kind: Service
metadata: &meta {name: svc, namespace: web}
spec:
  ports: [{port: 80}]
---   # a marker with a comment
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: web}
spec:
  rules:
  - backendRefs:
    - name: svc
      port: 80
    - name: svc
      port: 70000
...
---
  apiVersion: v1
  kind: Namespace
  metadata:
    name: "not a DNS label!"
)";
  LoadResult r = Load(text, "lines.yaml");
  ASSERT_EQ(r.errors.size(), 2u) << Errors(r);
  EXPECT_EQ(r.errors[0].pos.line, 18) << Errors(r);
  EXPECT_EQ(r.errors[0].field, "spec.rules[0].backendRefs[1].port");
  EXPECT_EQ(r.errors[1].pos.line, 24) << Errors(r);
  EXPECT_EQ(r.errors[1].field, "metadata.name");
  ASSERT_EQ(r.store.services.size(), 1u);
  EXPECT_EQ(r.store.services.at({"web", "svc"}).meta.source.line, 3);
}

// A stream of megabytes is parsed in pieces on several threads (cut at document markers):
// objects, their lines and the errors' lines are those of one parse of the whole file.
TEST(Loader, PlainScalarsResolveAsTheCoreSchemaSays) {
  YamlFile f = ParseYaml(
      "[name, gateway.networking.k8s.io/v1, yes, No, 'true', ~, null, Null, TRUE, false, 8080, "
      "-3, 0x1F, 0o17, 1.5, 1e3, .inf, Nginx, tcp, 08a, x1]",
      /*with_lines=*/false);
  ASSERT_EQ(f.documents.size(), 1u);
  nlohmann::json want = nlohmann::json::parse(
      R"(["name", "gateway.networking.k8s.io/v1", "yes", "No", "true", null, null, null, true,
          false, 8080, -3, 31, 15, 1.5, 1000.0, ".inf", "Nginx", "tcp", "08a", "x1"])");
  EXPECT_EQ(f.documents[0].value, want);
}

TEST(Loader, ALargeStreamLoadsAsOneParseDoes) {
  std::string text;
  int line = 1;
  std::map<std::string, int> lines;  // Service name -> line of its apiVersion
  for (int i = 0; i < 20000; ++i) {
    std::string name = absl::StrCat("s", i);
    // The first document has no marker; a comment looks like one but is indented.
    if (i > 0) absl::StrAppend(&text, i % 2 ? "---\n" : "--- # the next one\n"), ++line;
    lines[name] = line;
    absl::StrAppend(&text, "apiVersion: v1\nkind: Service\nmetadata: {name: ", name,
                    ", namespace: web}\nspec:\n  ports: [{port: 80}]\n  # ---\n");
    line += 6;
  }
  absl::StrAppend(&text,
                  "---\napiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: web}\n"
                  "spec:\n  ports: [{port: 70000}]\n");
  ASSERT_GT(text.size(), size_t{2} << 20);  // pieces on two threads or more
  LoadResult r = Load(text, "large.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << Errors(r);
  EXPECT_EQ(r.errors[0].pos.line, line + 5) << Errors(r);
  EXPECT_EQ(r.errors[0].field, "spec.ports[0].port");
  ASSERT_EQ(r.store.services.size(), 20000u);
  for (const auto& [name, first] : lines) {
    EXPECT_EQ(r.store.services.at({"web", name}).meta.source.line, first) << name;
  }
}

TEST(Loader, OlderGatewayApiVersionsLoadAsV1) {
  LoadResult r = Load(R"(apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: acme
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: ReferenceGrant
metadata: {name: g, namespace: backends}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
---
apiVersion: gateway.networking.k8s.io/v1alpha3
kind: TLSRoute
metadata: {name: t}
spec:
  hostnames: [a.example.com]
  rules: [{backendRefs: [{name: s, port: 443}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: tcp}
spec:
  rules: [{backendRefs: [{name: s, port: 5432}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: UDPRoute
metadata: {name: udp}
spec:
  rules: [{backendRefs: [{name: s, port: 53}]}]
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const Gateway& gw = r.store.gateways.at({"default", "gw"});
  EXPECT_EQ(gw.api_version, "gateway.networking.k8s.io/v1beta1");
  EXPECT_EQ(gw.raw["apiVersion"], "gateway.networking.k8s.io/v1");
  EXPECT_EQ(gw.listeners[0].allowed_routes.from, AllowedRoutes::From::kSame);
  EXPECT_EQ(gw.raw["spec"]["listeners"][0]["allowedRoutes"]["namespaces"]["from"], "Same");
  const HTTPRoute& route = r.store.http_routes.at({"default", "r"});
  // No rules: the CRD default, one rule matching PathPrefix "/" with no backends.
  ASSERT_EQ(route.rules.size(), 1u);
  EXPECT_EQ(route.rules[0].matches[0].path.value, "/");
  EXPECT_EQ(route.parent_refs[0].group, kGatewayGroup);
  EXPECT_EQ(route.parent_refs[0].kind, "Gateway");
  EXPECT_EQ(route.raw["spec"]["parentRefs"][0]["kind"], "Gateway");
  const ReferenceGrant& grant = r.store.reference_grants.at({"backends", "g"});
  EXPECT_EQ(grant.from[0].ns, "default");
  EXPECT_EQ(grant.to[0].kind, "Service");
  EXPECT_FALSE(grant.to[0].name.has_value());
  EXPECT_EQ(r.store.tls_routes.at({"default", "t"}).hostnames[0], "a.example.com");
  EXPECT_EQ(r.store.tcp_routes.size(), 1u);
  EXPECT_EQ(r.store.udp_routes.size(), 1u);
}

TEST(Loader, DefaultsAppearInRawWithoutStatus) {
  LoadResult r = Load(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, generation: 4, creationTimestamp: "2024-01-02T03:04:05Z"}
spec:
  gatewayClassName: acme
  listeners:
  - name: tls
    port: 443
    protocol: HTTPS
    tls:
      certificateRefs: [{name: cert}]
status:
  conditions: []
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const Gateway& gw = r.store.gateways.at({"default", "gw"});
  EXPECT_FALSE(gw.raw.contains("status"));
  EXPECT_EQ(gw.meta.generation, 4);
  EXPECT_EQ(gw.meta.creation_timestamp, "2024-01-02T03:04:05Z");
  const auto tls = gw.raw["spec"]["listeners"][0]["tls"];
  EXPECT_EQ(tls["mode"], "Terminate");
  EXPECT_EQ(tls["certificateRefs"][0]["kind"], "Secret");
  EXPECT_EQ(tls["certificateRefs"][0]["group"], "");
  EXPECT_EQ(gw.raw["metadata"]["namespace"], "default");
  EXPECT_EQ(gw.listeners[0].tls->certificate_refs[0].kind, "Secret");
}

TEST(Loader, CoreKinds) {
  LoadResult r = Load(R"(apiVersion: v1
kind: Namespace
metadata: {name: web, namespace: ignored, labels: {team: web}}
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: web}
type: kubernetes.io/tls
data:
  tls.crt: Y2VydA==
  tls.key: a2V5
stringData:
  extra: plain
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: web}
spec:
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: admin, port: 81, targetPort: admin, protocol: TCP, appProtocol: http}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc-1
  namespace: web
  labels: {kubernetes.io/service-name: svc}
addressType: IPv6
ports: [{name: http, port: 8080}]
endpoints:
- addresses: ["fd00::1"]
- addresses: ["fd00::2"]
  conditions: {ready: false, terminating: true}
  nodeName: n1
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const Namespace& ns = r.store.namespaces.at({"", "web"});
  EXPECT_EQ(ns.meta.ns, "");
  EXPECT_EQ(ns.meta.labels.at("team"), "web");
  EXPECT_EQ(r.store.NamespaceLabels("web").at("team"), "web");
  const Secret& s = r.store.secrets.at({"web", "cert"});
  EXPECT_EQ(s.type, "kubernetes.io/tls");
  EXPECT_EQ(s.data.at("tls.crt"), "cert");
  EXPECT_EQ(s.data.at("tls.key"), "key");
  EXPECT_EQ(s.data.at("extra"), "plain");
  const Service& svc = r.store.services.at({"web", "svc"});
  ASSERT_EQ(svc.ports.size(), 2u);
  EXPECT_EQ(svc.ports[0].target_port, 8080);
  EXPECT_EQ(svc.ports[1].target_port_name, "admin");
  EXPECT_EQ(svc.ports[1].app_protocol, "http");
  EXPECT_EQ(svc.ports[0].protocol, "TCP");
  const EndpointSlice& slice = r.store.endpoint_slices.at({"web", "svc-1"});
  EXPECT_EQ(slice.service_name, "svc");
  EXPECT_EQ(slice.address_type, "IPv6");
  EXPECT_TRUE(slice.endpoints[0].ready);
  EXPECT_FALSE(slice.endpoints[1].ready);
  EXPECT_TRUE(slice.endpoints[1].terminating);
  EXPECT_EQ(slice.endpoints[1].node_name, "n1");
}

TEST(Loader, UnknownKindsAreSkippedSilently) {
  LoadResult r = Load(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {replicas: "whatever"}
---
apiVersion: v1
kind: Pod
metadata: {name: c}
---
apiVersion: example.com/v1
kind: Gateway
metadata: {name: not-ours}
---
)" + std::string(kGood));
  EXPECT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.store.Size(), 1u);
}

TEST(Loader, KubectlListIsLoadedItemByItem) {
  LoadResult r = Load(R"(apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: a}
- apiVersion: v1
  kind: Service
  metadata: {name: s, namespace: a}
  spec:
    ports: [{port: 0}]
)",
                      "list.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << Errors(r);
  EXPECT_EQ(r.errors[0].field, "spec.ports[0].port");
  EXPECT_EQ(r.errors[0].pos.line, 11);
  EXPECT_EQ(r.store.namespaces.size(), 1u);
}

TEST(Loader, DuplicateObjectAcrossFilesFailsOnTheLaterOne) {
  LoadResult r;
  LoadText(kGood, "a.yaml", r);
  LoadText(kGood, "b.yaml", r);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].pos.file, "b.yaml");
  EXPECT_NE(r.errors[0].message.find("already defined at a.yaml:1"), std::string::npos)
      << r.errors[0].ToString();
  EXPECT_EQ(r.store.http_routes.at({"web", "good"}).meta.source.file, "a.yaml");
}

TEST(Loader, JsonAndNonObjectDocuments) {
  LoadResult r = Load(R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "j"}})"
                      "\n---\n- just\n- a list\n---\n",
                      "x.json");
  ASSERT_EQ(r.errors.size(), 1u) << Errors(r);
  EXPECT_NE(r.errors[0].message.find("mapping"), std::string::npos);
  EXPECT_EQ(r.errors[0].pos.line, 3);
  EXPECT_EQ(r.store.namespaces.size(), 1u);
}

TEST(Loader, DirectorySkipsHiddenAndOtherFiles) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(::testing::TempDir()) / ("loader-dir-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / ".hidden");
  fs::create_directories(dir / "sub");
  auto write = [](const fs::path& p, const std::string& text) { std::ofstream(p) << text; };
  write(dir / "b.yaml", kGood);
  write(dir / "sub" / "a.yml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n");
  write(dir / ".hidden" / "x.yaml", "not: [valid");
  write(dir / ".dot.yaml", "not: [valid");
  write(dir / "notes.txt", "not: [valid");
  auto r = LoadDirectory(dir);
  fs::remove_all(dir);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->errors.empty()) << Errors(*r);
  EXPECT_EQ(r->store.Size(), 2u);
  // Path order: b.yaml before sub/a.yml.
  EXPECT_LT(r->store.http_routes.begin()->second.meta.creation_index,
            r->store.namespaces.begin()->second.meta.creation_index);
}

TEST(Loader, MixedFolderReportsEachBadDocumentAndLoadsTheRest) {
  std::filesystem::path dir = std::filesystem::path(XGATE_TESTDATA_DIR) / "model" / "mixed";
  auto r = LoadDirectory(dir);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->errors.size(), 2u) << Errors(*r);
  // Path order: bad-route.yaml, broken.yaml.
  EXPECT_EQ(r->errors[0].pos.file, (dir / "bad-route.yaml").string());
  EXPECT_EQ(r->errors[0].pos.line, 12);
  EXPECT_EQ(r->errors[0].field, "spec.rules[0].backendRefs[0].weight");
  EXPECT_EQ(r->errors[0].object, "HTTPRoute team-a/heavy");
  EXPECT_EQ(r->errors[1].pos.file, (dir / "broken.yaml").string());
  EXPECT_EQ(r->errors[1].pos.line, 4);
  EXPECT_EQ(r->store.gateway_classes.size(), 1u);
  EXPECT_EQ(r->store.gateways.size(), 1u);
  EXPECT_EQ(r->store.http_routes.size(), 2u);
  EXPECT_TRUE(r->store.http_routes.count({"team-a", "light"}));
  EXPECT_EQ(r->store.namespaces.size(), 2u);
  EXPECT_TRUE(r->store.namespaces.count({"", "team-b"}));
  EXPECT_EQ(r->store.services.size(), 1u);
}

TEST(Generations, SpecChangeBumpsLabelChangeDoesNot) {
  LoadResult first = Load(kGood);
  ASSERT_TRUE(first.errors.empty());
  EXPECT_EQ(first.store.http_routes.at({"web", "good"}).meta.generation, 1);

  // Same spec, new label: generation and creation order stay.
  std::string relabeled = std::string(kGood);
  relabeled.replace(relabeled.find("namespace: web}"), 15, "namespace: web, labels: {a: b}}");
  LoadResult second =
      Load(std::string("apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n---\n") + relabeled);
  ASSERT_TRUE(second.errors.empty()) << Errors(second);
  CarryGenerations(first.store, second.store);
  const HTTPRoute& r2 = second.store.http_routes.at({"web", "good"});
  EXPECT_EQ(r2.meta.generation, 1);
  EXPECT_EQ(r2.meta.creation_index,
            first.store.http_routes.at({"web", "good"}).meta.creation_index);
  // The new Namespace comes after every existing object.
  EXPECT_GT(second.store.namespaces.at({"", "n"}).meta.creation_index, r2.meta.creation_index);

  // Spec change: generation + 1, also in raw.
  std::string changed = relabeled;
  changed.replace(changed.find("port: 80"), 8, "port: 81");
  LoadResult third = Load(changed);
  CarryGenerations(second.store, third.store);
  const HTTPRoute& r3 = third.store.http_routes.at({"web", "good"});
  EXPECT_EQ(r3.meta.generation, 2);
  EXPECT_EQ(r3.raw["metadata"]["generation"], 2);

  // Unchanged again: stays at 2.
  LoadResult fourth = Load(changed);
  CarryGenerations(third.store, fourth.store);
  EXPECT_EQ(fourth.store.http_routes.at({"web", "good"}).meta.generation, 2);
}

TEST(Generations, CoreObjectsCompareEverythingButMetadata) {
  const char* svc =
      "apiVersion: v1\nkind: Service\nmetadata: {name: s%s}\nspec: {ports: [{port: %d}]}\n";
  auto make = [&](const char* labels, int port) {
    char buf[256];
    snprintf(buf, sizeof(buf), svc, labels, port);
    return Load(buf);
  };
  LoadResult a = make("", 80);
  LoadResult b = make(", labels: {x: y}", 80);
  CarryGenerations(a.store, b.store);
  EXPECT_EQ(b.store.services.at({"default", "s"}).meta.generation, 1);
  LoadResult c = make(", labels: {x: y}", 81);
  CarryGenerations(b.store, c.store);
  EXPECT_EQ(c.store.services.at({"default", "s"}).meta.generation, 2);
}

}  // namespace
}  // namespace xgate::model
