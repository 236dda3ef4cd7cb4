// The incremental paths give what a full load and compile of the same state give: the object
// store decodes only the documents that changed (and appends the rest as decoded before), the
// pipeline's same-state check replaces serializing every object. Random sequences of changes,
// many seeds; each step compared with a load of every document from scratch, and a bind that
// reuses its memo with a bind from scratch.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/binder/binder.h"
#include "agent/compiler/compiler.h"
#include "agent/l7/config_delta.h"
#include "agent/pipeline/same_state.h"
#include "agent/sources/store.h"
#include "agent/status/status.h"

namespace xgate::sources {
namespace {

using DocKey = std::pair<std::string, std::string>;  // (source, key)

// The documents a step may write: Gateways, ListenerSets (some not allowed, some in conflict),
// routes (HTTP and TCP, some refused, some through a ListenerSet), Services and
// EndpointSlices, some as manifest text and some as API objects. Names repeat across
// documents, so duplicates (refused where they occur) come up too.
class Documents {
 public:
  explicit Documents(uint32_t seed) : rng_(seed) {}

  Document Any() {
    switch (Pick(9)) {
      case 0:
        return Text(GatewayYaml());
      case 7:
        return Text(ListenerSetYaml());
      case 1:
      case 2:
        return Text(HttpRouteYaml());
      case 3:
        return Text(TcpRouteYaml());
      case 4:
        return Text(BackendYaml(absl::StrCat("s", Pick(6)), Pick(3)));
      case 5:
        return Object(HttpRouteJson());
      case 6:
        return Text(BackendTlsPolicyYaml());
      default:
        return Text(absl::StrCat(HttpRouteYaml(), "---\n", BackendYaml("s0", 1)));
    }
  }

  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

 private:
  Document Text(std::string text) {
    return Document{absl::StrCat("file", Pick(4), ".yaml"), std::move(text), nullptr, false};
  }
  Document Object(nlohmann::json object) {
    std::string origin =
        absl::StrCat("HTTPRoute/app/", object["metadata"]["name"].get<std::string>());
    return Document{origin, "", std::move(object), false};
  }

  std::string GatewayYaml() {
    return absl::StrCat(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw", Pick(2),
        ", namespace: app}\nspec:\n  gatewayClassName: xgate\n",
        Pick(3) ? "  allowedListeners: {namespaces: {from: Same}}\n" : "",
        "  addresses: [{type: IPAddress, value: 198.18.100.1}]\n  listeners:\n"
        "  - {name: http, port: ",
        80 + Pick(2), ", protocol: HTTP, hostname: \"", Pick(2) ? "*.example.com" : "a.example.com",
        "\"}\n  - {name: tcp, port: 5432, protocol: TCP}\n");
  }
  // Entries on the Gateway's ports: some distinct, some in conflict with the Gateway's
  // listeners or an earlier set's.
  std::string ListenerSetYaml() {
    return absl::StrCat(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata: {name: ls", Pick(2),
        ", namespace: app}\nspec:\n  parentRef: {name: gw", Pick(2),
        "}\n  listeners:\n  - {name: web, port: ", 80 + Pick(2),
        ", protocol: HTTP, hostname: ", Pick(2) ? "a.example.com" : "\"*.example.com\"", "}\n",
        Pick(2) ? "  - {name: db, port: 5432, protocol: TCP}\n" : "");
  }
  std::string HttpRouteYaml() {
    // One in eight refused (a path without a leading slash).
    std::string path = Pick(8) == 0 ? "nope" : absl::StrCat("/p", Pick(3));
    std::string parent = Pick(3) ? absl::StrCat("name: gw", Pick(2))
                                 : absl::StrCat("kind: ListenerSet, name: ls", Pick(2));
    return absl::StrCat(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r", Pick(8),
        ", namespace: app}\nspec:\n  parentRefs: [{", parent, "}]\n  hostnames: [",
        Pick(2) ? "a.example.com" : "\"*.b.example.com\"",
        "]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: ", path,
        "}}]\n    backendRefs: [{name: s", Pick(6), ", port: 8080, weight: ", Pick(5),
        "}, {name: s", Pick(6), ", port: 8080}]\n");
  }
  // TLS to a Service: valid (system CAs) or not (a missing CA ConfigMap).
  std::string BackendTlsPolicyYaml() {
    return absl::StrCat(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: p",
        Pick(2), ", namespace: app}\nspec:\n  targetRefs: [{group: \"\", kind: Service, name: s",
        Pick(6), "}]\n  validation:\n    hostname: s", Pick(2), ".example.com\n",
        Pick(2) ? "    wellKnownCACertificates: System\n"
                : "    caCertificateRefs: [{group: \"\", kind: ConfigMap, name: missing}]\n");
  }
  std::string TcpRouteYaml() {
    return absl::StrCat(
        "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: t",
        Pick(3), ", namespace: app}\nspec:\n  parentRefs: [{name: gw", Pick(2),
        ", sectionName: tcp}]\n  rules:\n  - backendRefs: [{name: s", Pick(6),
        ", port: 8080, weight: ", 1 + Pick(3), "}]\n");
  }
  std::string BackendYaml(const std::string& name, int endpoints) {
    std::string out = absl::StrCat(
        "apiVersion: v1\nkind: Service\nmetadata: {name: ", name,
        ", namespace: app}\nspec:\n  ports: [{name: p, port: 8080, protocol: TCP}]\n---\n"
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ",
        name, "-", Pick(2), "\n  namespace: app\n  labels: {kubernetes.io/service-name: ", name,
        "}\naddressType: IPv4\nports: [{name: p, port: 8080, protocol: TCP}]\nendpoints:\n");
    for (int i = 0; i < endpoints; ++i) {
      absl::StrAppend(&out, "- addresses: [198.18.1.", 10 + Pick(20), "]\n");
    }
    return out;
  }
  nlohmann::json HttpRouteJson() {
    return {{"apiVersion", "gateway.networking.k8s.io/v1"},
            {"kind", "HTTPRoute"},
            {"metadata", {{"name", absl::StrCat("r", Pick(8))}, {"namespace", "app"}}},
            {"spec",
             {{"parentRefs", {{{"name", absl::StrCat("gw", Pick(2))}}}},
              {"rules",
               {{{"backendRefs", {{{"name", absl::StrCat("s", Pick(6))}, {"port", 8080}}}}}}}}}};
  }

  std::mt19937 rng_;
};

constexpr char kClass[] =
    "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: xgate}\n"
    "spec: {controllerName: xgate.dev/node-agent}\n";

// Every document loaded at once into one result, in the store's order: the full load.
model::LoadResult LoadFromScratch(const std::map<DocKey, Document>& docs) {
  model::LoadResult out;
  for (const auto& [key, doc] : docs) {
    if (!doc.text.empty()) {
      model::LoadText(doc.text.str(), doc.origin, out);
    } else {
      model::LoadObject(doc.object, doc.origin, out);
    }
  }
  return out;
}

// The same objects, each from the same place. Creation indexes are not compared: the store
// numbers documents in the order it first decoded them (a full load numbers them in load
// order); ExpectIndexesKeptAndNewOnesYounger checks them. `full` takes the incremental
// load's indexes, so what is compiled from both must be the same.
void ExpectSameLoad(const model::LoadResult& a, model::LoadResult& b) {
  model::ForEachKindMap(a.store, b.store, [](const auto& x_map, auto& y_map) {
    ASSERT_EQ(x_map.size(), y_map.size());
    for (auto x = x_map.begin(), y = y_map.begin(); x != x_map.end(); ++x, ++y) {
      ASSERT_EQ(x->first, y->first);
      EXPECT_EQ(x->second.raw, y->second.raw);
      EXPECT_EQ(x->second.meta.source.file, y->second.meta.source.file);
      EXPECT_EQ(x->second.meta.source.line, y->second.meta.source.line);
      y_map.Mutable(y->first).meta.creation_index = x->second.meta.creation_index;
    }
  });
  ASSERT_EQ(a.errors.size(), b.errors.size());
  for (size_t i = 0; i < a.errors.size(); ++i) {
    EXPECT_EQ(a.errors[i].ToString(), b.errors[i].ToString());
  }
}

// An object decoded before (the same decode) is the previous load's own, index included;
// every object decoded afresh is younger than each of those, and a document's objects keep
// their order.
void ExpectIndexesKeptAndNewOnesYounger(const model::Store& previous, const model::Store& next) {
  int64_t oldest_fresh = INT64_MAX, youngest_kept = -1;
  std::map<uint64_t, int64_t> kept_decodes;  // decode_id -> index in `previous`
  model::ForEachKindMap(previous, previous, [&](const auto& m, const auto&) {
    for (const auto& [key, obj] : m) kept_decodes[obj.decode_id] = obj.meta.creation_index;
  });
  model::ForEachKindMap(next, next, [&](const auto& m, const auto&) {
    for (auto it = m.begin(); it != m.end(); ++it) {
      const auto& obj = it->second;
      auto kept = kept_decodes.find(obj.decode_id);
      if (kept == kept_decodes.end()) {
        oldest_fresh = std::min(oldest_fresh, obj.meta.creation_index);
      } else {
        EXPECT_EQ(obj.meta.creation_index, kept->second) << it->first.second;
        youngest_kept = std::max(youngest_kept, obj.meta.creation_index);
      }
    }
  });
  EXPECT_LT(youngest_kept, oldest_fresh);
}

void ExpectSameSnapshot(const compiler::Snapshot& a, const compiler::Snapshot& b) {
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(a.l7, b.l7)) << diff;
  ASSERT_EQ(a.l4.size(), b.l4.size());
  for (size_t i = 0; i < a.l4.size(); ++i) {
    EXPECT_EQ(a.l4[i].route, b.l4[i].route);
    ASSERT_EQ(a.l4[i].backends.size(), b.l4[i].backends.size());
    for (size_t j = 0; j < a.l4[i].backends.size(); ++j) {
      EXPECT_EQ(a.l4[i].backends[j].address, b.l4[i].backends[j].address);
      EXPECT_EQ(a.l4[i].backends[j].weight, b.l4[i].backends[j].weight);
    }
  }
}

// The virtual hosts of `config` by listener and hostname, serialized.
std::map<std::string, std::string> VirtualHostBytes(const api::L7Config& config) {
  std::map<std::string, std::string> out;
  for (const auto& port : config.ports()) {
    for (const auto& listener : port.listeners()) {
      for (const auto& vhost : listener.virtual_hosts()) {
        out[absl::StrCat(port.port(), " ", listener.gateway_namespace(), "/",
                         listener.gateway_name(), " ", listener.name(), " ", vhost.hostname())] =
            vhost.SerializeAsString();
      }
    }
  }
  return out;
}

// The same-state check agrees with comparing the serialized object lists (what it replaces).
bool SameSerialized(const model::LoadResult& a, const binder::Statuses& sa,
                    const model::LoadResult& b, const binder::Statuses& sb) {
  auto text = [](const model::LoadResult& r, const binder::Statuses& s) {
    std::string out = status::ObjectList(r.store, s).dump();
    for (const auto& e : r.errors) absl::StrAppend(&out, "\n", e.ToString());
    return out;
  };
  return text(a, sa) == text(b, sb);
}

TEST(IncrementalLoad, EqualsAFullLoadOverRandomChanges) {
  size_t reused = 0;                    // routes the memo bound, over every step
  size_t set_routes = 0;                // routes attached to a ListenerSet's entry, over every step
  size_t compiled_again = 0, kept = 0;  // virtual hosts, over every step
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    Documents pool(seed);
    ObjectStore store;
    std::map<DocKey, Document> mirror;  // what the store holds
    auto put = [&](const std::string& source, const std::string& key, Document d) {
      mirror[{source, key}] = d;
      store.Put(source, key, std::move(d));
    };
    put("a", "0class", Document{"class.yaml", kClass, nullptr, false});
    model::LoadResult previous;
    binder::BindResult previous_bound;
    binder::BindMemo memo;  // carried from step to step, as the pipeline does
    compiler::CompileMemo compile_memo;
    l7::ConfigDelta differ;  // fed the snapshots as the agent's config server is
    std::shared_ptr<const compiler::Snapshot> last_snapshot;
    for (int step = 0; step < 40; ++step) {
      SCOPED_TRACE(absl::StrCat("step ", step));
      std::string source = pool.Pick(2) ? "a" : "b";
      std::string key = absl::StrCat("k", pool.Pick(10));
      switch (pool.Pick(5)) {
        case 0:  // removed
          mirror.erase({source, key});
          store.Erase(source, key);
          break;
        case 1: {  // the same documents again (a Replace that changes nothing)
          std::map<std::string, Document> same;
          for (const auto& [k, d] : mirror) {
            if (k.first == "b") same[k.second] = d;
          }
          store.Replace("b", std::move(same));
          break;
        }
        default:
          put(source, key, pool.Any());
      }
      // Odd seeds carry generations as the standalone pipeline does: in the store's kept
      // result, which the next load starts from, so it must equal a carry of a full load.
      const bool carry = seed % 2 == 1;
      auto incremental = store.Load(carry ? &previous.store : nullptr);
      ASSERT_TRUE(incremental.ok());
      model::LoadResult full = LoadFromScratch(mirror);
      if (carry) model::CarryGenerations(previous.store, full.store);
      ExpectSameLoad(*incremental, full);
      if (!carry) ExpectIndexesKeptAndNewOnesYounger(previous.store, incremental->store);

      binder::BindOptions options;
      options.now = "2026-01-01T00:00:00Z";
      binder::BindResult bound = binder::Bind(incremental->store, options, &memo);
      binder::BindResult full_bound = binder::Bind(full.store, options);
      auto snapshot = compiler::Compile(bound, step + 1, {}, &compile_memo);
      ExpectSameSnapshot(*snapshot, *compiler::Compile(full_bound, step + 1));
      kept += compile_memo.reused;
      // The delta carries exactly the virtual hosts whose bytes changed, though it compares
      // the shared ones by identity.
      auto delta = differ.Next(std::shared_ptr<const api::L7Config>(snapshot, &snapshot->l7));
      if (last_snapshot != nullptr && delta) {
        std::map<std::string, std::string> before = VirtualHostBytes(last_snapshot->l7);
        size_t changed = 0;
        for (const auto& [key, bytes] : VirtualHostBytes(snapshot->l7)) {
          changed += !before.contains(key) || before.at(key) != bytes;
        }
        EXPECT_EQ(VirtualHostBytes(*delta).size(), changed);
        compiled_again += changed;
      }
      last_snapshot = snapshot;
      EXPECT_EQ(status::ObjectList(incremental->store, bound.statuses),
                status::ObjectList(incremental->store, full_bound.statuses));
      reused += memo.reused;
      for (const auto& l : bound.listeners) {
        if (l.listener_set && l.programmed) set_routes += l.routes.size();
      }

      EXPECT_EQ(
          pipeline::SameState(previous, previous_bound.statuses, *incremental, bound.statuses),
          SameSerialized(previous, previous_bound.statuses, *incremental, bound.statuses));
      EXPECT_TRUE(pipeline::SameState(full, full_bound.statuses, *incremental, bound.statuses));
      previous = *std::move(incremental);
      previous_bound = binder::Bind(previous.store, options);
    }
  }
  EXPECT_GT(reused, 500u);          // the memo was used, not only refilled (1,000 when written)
  EXPECT_GT(set_routes, 10u);       // ListenerSets were served, not only refused (50 when written)
  EXPECT_GT(kept, 25u);             // virtual hosts the compile memo gave (52 when written)
  EXPECT_GT(compiled_again, 100u);  // and those that changed (251 when written)
}

// A load that carries generations keeps them in the store's kept result: the next load
// shares the carried object (it is not carried again), and a change takes it out as it does
// the object it was carried from.
TEST(IncrementalLoad, CarriedGenerationsAreKeptForTheNextLoad) {
  auto route = [](int weight) {
    return Document{"r.yaml",
                    absl::StrCat("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n",
                                 "metadata: {name: r, namespace: a}\nspec:\n  rules:\n",
                                 "  - backendRefs: [{name: s, port: 80, weight: ", weight, "}]\n"),
                    nullptr, false};
  };
  auto generation = [](const model::LoadResult& r) {
    return r.store.http_routes.at({"a", "r"}).meta.generation;
  };
  ObjectStore store;
  store.Put("folder", "r", route(1));
  auto first = store.Load();
  ASSERT_TRUE(first.ok());
  store.Put("folder", "r", route(2));
  auto second = store.Load(&first->store);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(generation(*second), generation(*first) + 1);
  auto third = store.Load(&second->store);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->store.http_routes.find({"a", "r"}).shared(),
            second->store.http_routes.find({"a", "r"}).shared());
  store.Put("folder", "r", route(3));
  auto fourth = store.Load(&third->store);
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(generation(*fourth), generation(*first) + 2);
  EXPECT_EQ(fourth->store.http_routes.size(), 1u);
  EXPECT_TRUE(fourth->errors.empty());
  EXPECT_EQ(store.Load()->store.http_routes.find({"a", "r"}).shared(),
            fourth->store.http_routes.find({"a", "r"}).shared());
}

// What a load decodes again is what changed: a file added before another (the folder source
// keys its files by position, so every key after it moves) leaves the other's objects as
// they were decoded, and a relist that returns an object unchanged keeps it too.
TEST(IncrementalLoad, OnlyChangedDocumentsAreDecodedAgain) {
  auto namespace_doc = [](const std::string& file, const std::string& name) {
    return Document{file,
                    absl::StrCat("apiVersion: v1\nkind: Namespace\nmetadata: {name: ", name, "}\n"),
                    nullptr, false};
  };
  auto decode_id = [](const model::LoadResult& r, const std::string& name) {
    return r.store.namespaces.at({"", name}).decode_id;
  };
  ObjectStore store;
  store.Replace("folder", {{"00000000", namespace_doc("b.yaml", "b")},
                           {"00000001", namespace_doc("c.yaml", "c")}});
  auto first = store.Load();
  ASSERT_TRUE(first.ok());
  store.Replace("folder", {{"00000000", namespace_doc("a.yaml", "a")},
                           {"00000001", namespace_doc("b.yaml", "b")},
                           {"00000002", namespace_doc("c.yaml", "c2")}});
  auto second = store.Load();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(decode_id(*second, "b"), decode_id(*first, "b"));   // moved from key 0 to 1
  EXPECT_NE(decode_id(*second, "c2"), decode_id(*first, "c"));  // changed
  EXPECT_EQ(second->store.namespaces.size(), 3u);

  auto kube_namespace = [](const std::string& name) {
    std::string key = "Namespace/" + name;
    return Document{key,
                    "",
                    {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}},
                    false};
  };
  store.Put("kube", "Namespace/x", kube_namespace("x"));
  auto third = store.Load();
  ASSERT_TRUE(third.ok());
  store.Update("kube", [](std::map<std::string, Document>&) {});  // wakes readers, nothing new
  store.Put("kube", "Namespace/x", kube_namespace("x"));  // the same object again, as a watch event
  auto fourth = store.Load();
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(decode_id(*fourth, "x"), decode_id(*third, "x"));
  EXPECT_EQ(decode_id(*fourth, "a"), decode_id(*second, "a"));

  // A relist of the kind: x unchanged keeps its decode, y is new, and one not listed goes.
  store.Put("kube", "Namespace/gone", kube_namespace("gone"));
  store.ReplacePrefix("kube", "Namespace/",
                      {{"Namespace/x", kube_namespace("x")}, {"Namespace/y", kube_namespace("y")}});
  auto fifth = store.Load();
  ASSERT_TRUE(fifth.ok());
  EXPECT_EQ(decode_id(*fifth, "x"), decode_id(*third, "x"));
  EXPECT_TRUE(fifth->store.namespaces.contains({"", "y"}));
  EXPECT_FALSE(fifth->store.namespaces.contains({"", "gone"}));
}

}  // namespace
}  // namespace xgate::sources
