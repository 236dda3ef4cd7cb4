// ListenerSets: which a Gateway allows (spec.allowedListeners), their entries merged after the
// Gateway's listeners (precedence Gateway, oldest ListenerSet, namespace/name), their status
// conditions, certificate grants, and routes attached through a ListenerSet parentRef.
#include <gtest/gtest.h>

#include "tests/binder/testing.h"

namespace xgate::testing {
namespace {

const char kClass[] = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ours}
spec: {controllerName: xgate.dev/node-agent}
)";

// Gateway infra/gw: HTTP :80 for gw.example.com, with `allowed` as spec.allowedListeners
// ("" for none).
std::string Gateway(const std::string& allowed, const std::string& extra_spec = "") {
  return R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra, generation: 2}
spec:
  gatewayClassName: ours
)" + allowed +
         extra_spec + R"(  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: gw.example.com, allowedRoutes: {namespaces: {from: All}}}
)";
}

// ListenerSet ns/name of infra/gw with the given listeners (YAML list items).
std::string ListenerSet(const std::string& ns, const std::string& name,
                        const std::string& listeners, const std::string& created = "") {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata: {name: " + name +
         ", namespace: " + ns + ", generation: 5" +
         (created.empty() ? "" : ", creationTimestamp: \"" + created + "\"") +
         "}\nspec:\n  parentRef: {name: gw, namespace: infra}\n  listeners:\n" + listeners;
}

std::string Namespace(const std::string& name, const std::string& labels = "{}") {
  return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + ", labels: " + labels +
         "}\n";
}

const char kEntryA[] = "  - {name: a, port: 80, protocol: HTTP, hostname: a.example.com}\n";

const model::ListenerSetStatus* SetStatus(const Bound& b, const std::string& ns,
                                          const std::string& name) {
  auto it = b.result.statuses.listener_sets.find({ns, name});
  return it == b.result.statuses.listener_sets.end() ? nullptr : &it->second;
}

const model::ListenerStatus* Entry(const model::ListenerSetStatus& s, const std::string& name) {
  for (const auto& l : s.listeners) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

// The bound listeners of ListenerSet ns/name.
std::vector<const binder::BoundListener*> BoundEntries(const Bound& b, const std::string& ns,
                                                       const std::string& name) {
  std::vector<const binder::BoundListener*> out;
  for (const auto& l : b.result.listeners) {
    if (l.listener_set == model::Store::Key{ns, name}) out.push_back(&l);
  }
  return out;
}

std::string AcceptedProgrammed(const std::vector<model::Condition>& c) {
  return Cond(c, "Accepted") + " " + Cond(c, "Programmed");
}

TEST(ListenerSetAllowed, DefaultAllowsNone) {
  auto b = BindYaml({kClass, Gateway(""), ListenerSet("infra", "ls", kEntryA)});
  const auto* gw = b->Gateway("infra", "gw");
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(Cond(gw->conditions, "Accepted"), "True/Accepted");
  EXPECT_FALSE(gw->attached_listener_sets) << "not rendered for a Gateway that allows none";
  const auto* s = SetStatus(*b, "infra", "ls");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(AcceptedProgrammed(s->conditions), "False/NotAllowed False/NotAllowed");
  EXPECT_EQ(FindCondition(s->conditions, "Accepted")->observed_generation, 5);
  EXPECT_TRUE(s->listeners.empty());
  EXPECT_TRUE(BoundEntries(*b, "infra", "ls").empty());
  EXPECT_EQ(gw->listeners.size(), 1u);
  EXPECT_FALSE(binder::AllAccepted(b->result));
}

TEST(ListenerSetAllowed, NoneSameSelectorAll) {
  auto entry = [](const std::string& host) {
    return "  - {name: a, port: 80, protocol: HTTP, hostname: " + host + ".example.com}\n";
  };
  const std::string sets = Namespace("labelled", "{allowed: yes}") + "---\n" + Namespace("other") +
                           "---\n" + ListenerSet("infra", "same", entry("same")) + "---\n" +
                           ListenerSet("labelled", "sel", entry("sel")) + "---\n" +
                           ListenerSet("other", "far", entry("far"));
  struct Want {
    std::string from;
    int count;
    std::vector<std::string> allowed;  // ListenerSet names
  };
  for (const Want& w : {Want{"None", 0, {}}, Want{"Same", 1, {"same"}},
                        Want{"Selector", 1, {"sel"}}, Want{"All", 3, {"same", "sel", "far"}}}) {
    SCOPED_TRACE(w.from);
    std::string allowed = "  allowedListeners: {namespaces: {from: " + w.from +
                          ", selector: {matchLabels: {allowed: \"yes\"}}}}\n";
    auto b = BindYaml({kClass, Gateway(allowed), sets});
    const auto* gw = b->Gateway("infra", "gw");
    ASSERT_NE(gw, nullptr);
    if (w.from == "None") {
      EXPECT_FALSE(gw->attached_listener_sets);
    } else {
      EXPECT_EQ(gw->attached_listener_sets, w.count);
    }
    for (const auto& [ns, name] : std::vector<std::pair<std::string, std::string>>{
             {"infra", "same"}, {"labelled", "sel"}, {"other", "far"}}) {
      const auto* s = SetStatus(*b, ns, name);
      ASSERT_NE(s, nullptr) << name;
      bool allowed_here = std::count(w.allowed.begin(), w.allowed.end(), name) > 0;
      EXPECT_EQ(AcceptedProgrammed(s->conditions), allowed_here
                                                       ? "True/Accepted True/Programmed"
                                                       : "False/NotAllowed False/NotAllowed")
          << name;
      EXPECT_EQ(BoundEntries(*b, ns, name).size(), allowed_here ? 1u : 0u) << name;
    }
  }
}

TEST(ListenerSetAllowed, ParentOfAnotherClassOrMissingGivesNoStatus) {
  auto b = BindYaml({kClass, ListenerSet("infra", "orphan", kEntryA)});
  EXPECT_TRUE(b->result.statuses.listener_sets.empty());
}

TEST(ListenerSetAllowed, ParentNotAccepted) {
  auto b = BindYaml({kClass,
                     Gateway("  allowedListeners: {namespaces: {from: All}}\n",
                             "  addresses: [{type: Hostname, value: gw.example.com}]\n"),
                     ListenerSet("infra", "ls", kEntryA)});
  const auto* gw = b->Gateway("infra", "gw");
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(Cond(gw->conditions, "Accepted"), "False/UnsupportedAddress");
  EXPECT_EQ(gw->attached_listener_sets, 0);
  const auto* s = SetStatus(*b, "infra", "ls");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(AcceptedProgrammed(s->conditions), "False/ParentNotAccepted False/ParentNotProgrammed");
  EXPECT_TRUE(BoundEntries(*b, "infra", "ls").empty());
}

const char kAllowSame[] = "  allowedListeners: {namespaces: {from: Same}}\n";

TEST(ListenerSetAllowed, ParentNotProgrammed) {
  binder::BindOptions options = DefaultOptions();
  options.node_addresses.clear();  // the Gateway has no address to be served on
  auto b = BindYaml({kClass, Gateway(kAllowSame), ListenerSet("infra", "ls", kEntryA)}, options);
  EXPECT_EQ(AcceptedProgrammed(b->Gateway("infra", "gw")->conditions),
            "True/Accepted False/AddressNotAssigned");
  const auto* s = SetStatus(*b, "infra", "ls");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(AcceptedProgrammed(s->conditions), "True/Accepted False/ParentNotProgrammed");
  auto entries = BoundEntries(*b, "infra", "ls");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_FALSE(entries[0]->programmed);
}

// An entry claims its port on the Gateway's addresses like a Gateway listener: a port an
// older Gateway holds there is not available to it.
TEST(ListenerSetEntries, PortHeldByAnOlderGatewayIsUnavailable) {
  const char kOlder[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: older, namespace: infra, creationTimestamp: "2020-01-01T00:00:00Z"}
spec:
  gatewayClassName: ours
  listeners: [{name: tcp, port: 5432, protocol: TCP}]
)";
  auto b = BindYaml({kClass, kOlder, Gateway(kAllowSame),
                     ListenerSet("infra", "ls",
                                 "  - {name: db, port: 5432, protocol: TCP}\n"
                                 "  - {name: db2, port: 5433, protocol: TCP}\n")});
  const auto* s = SetStatus(*b, "infra", "ls");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Cond(Entry(*s, "db")->conditions, "Accepted"), "False/PortUnavailable");
  EXPECT_EQ(Cond(Entry(*s, "db2")->conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(Cond(b->Listener("infra", "older", "tcp")->conditions, "Accepted"), "True/Accepted");
}

TEST(ListenerSetPrecedence, LaterEntryLosesAHostnameConflict) {
  // "b-set" is older than "a-set", so it goes first despite its name.
  auto b = BindYaml(
      {kClass, Gateway(kAllowSame),
       ListenerSet("infra", "b-set",
                   "  - {name: one, port: 80, protocol: HTTP, hostname: one.example.com}\n"
                   "  - {name: dup-gw, port: 80, protocol: HTTP, hostname: gw.example.com}\n"
                   "  - {name: two, port: 80, protocol: HTTP, hostname: two.example.com}\n",
                   "2026-01-01T00:00:00Z"),
       ListenerSet("infra", "a-set",
                   "  - {name: three, port: 80, protocol: HTTP, hostname: three.example.com}\n"
                   "  - {name: two, port: 80, protocol: HTTP, hostname: two.example.com}\n",
                   "2026-01-01T00:00:01Z"),
       ListenerSet("infra", "c-set",
                   "  - {name: only, port: 80, protocol: HTTP, hostname: two.example.com}\n",
                   "2026-01-01T00:00:01Z")});
  const auto* gw = b->Gateway("infra", "gw");
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(AcceptedProgrammed(gw->conditions), "True/Accepted True/Programmed");
  ASSERT_EQ(gw->listeners.size(), 1u) << "entries are not Gateway listeners";
  EXPECT_EQ(Cond(gw->listeners[0].conditions, "Conflicted"), "False/NoConflicts");
  EXPECT_EQ(gw->attached_listener_sets, 2);

  const auto* first = SetStatus(*b, "infra", "b-set");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(AcceptedProgrammed(first->conditions), "True/ListenersNotValid True/Programmed");
  ASSERT_EQ(first->listeners.size(), 3u);
  EXPECT_EQ(AcceptedProgrammed(Entry(*first, "one")->conditions), "True/Accepted True/Programmed");
  const auto& dup = Entry(*first, "dup-gw")->conditions;
  EXPECT_EQ(AcceptedProgrammed(dup), "False/HostnameConflict False/HostnameConflict");
  EXPECT_EQ(Cond(dup, "Conflicted"), "True/HostnameConflict");
  EXPECT_EQ(FindCondition(dup, "Conflicted")->observed_generation, 5);
  EXPECT_EQ(AcceptedProgrammed(Entry(*first, "two")->conditions), "True/Accepted True/Programmed");

  const auto* second = SetStatus(*b, "infra", "a-set");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(AcceptedProgrammed(second->conditions), "True/ListenersNotValid True/Programmed");
  EXPECT_EQ(Cond(Entry(*second, "two")->conditions, "Conflicted"), "True/HostnameConflict");
  EXPECT_EQ(Cond(Entry(*second, "three")->conditions, "Conflicted"), "False/NoConflicts");

  // Same age as a-set: after it by name, and its only entry loses.
  const auto* third = SetStatus(*b, "infra", "c-set");
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(AcceptedProgrammed(third->conditions),
            "False/ListenersNotValid False/ListenersNotValid");
  EXPECT_EQ(Cond(Entry(*third, "only")->conditions, "Programmed"), "False/HostnameConflict");

  // Only the winners are served.
  int programmed = 0;
  for (const auto& l : b->result.listeners) programmed += l.programmed;
  EXPECT_EQ(programmed, 1 + 2 + 1);
  EXPECT_FALSE(binder::AllAccepted(b->result));
}

TEST(ListenerSetPrecedence, ProtocolConflictWithTheGatewayAndAnEarlierEntry) {
  auto b = BindYaml({kClass, Gateway(kAllowSame),
                     ListenerSet("infra", "a",
                                 "  - {name: tcp80, port: 80, protocol: TCP}\n"
                                 "  - {name: tcp81, port: 81, protocol: TCP}\n"),
                     ListenerSet("infra", "b",
                                 "  - {name: http81, port: 81, protocol: HTTP}\n"
                                 "  - {name: udp81, port: 81, protocol: UDP}\n")});
  const auto* a = SetStatus(*b, "infra", "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(Cond(Entry(*a, "tcp80")->conditions, "Conflicted"), "True/ProtocolConflict");
  EXPECT_EQ(Cond(Entry(*a, "tcp80")->conditions, "Programmed"), "False/ProtocolConflict");
  EXPECT_EQ(Cond(Entry(*a, "tcp81")->conditions, "Conflicted"), "False/NoConflicts");
  const auto* bs = SetStatus(*b, "infra", "b");
  ASSERT_NE(bs, nullptr);
  EXPECT_EQ(Cond(Entry(*bs, "http81")->conditions, "Accepted"), "False/ProtocolConflict");
  // UDP is another transport: distinct from TCP on the same port.
  EXPECT_EQ(Cond(Entry(*bs, "udp81")->conditions, "Accepted"), "True/Accepted");
  const auto* gw = b->Gateway("infra", "gw");
  EXPECT_EQ(Cond(gw->listeners[0].conditions, "Conflicted"), "False/NoConflicts");
}

TEST(ListenerSetEntries, InvalidRouteKindsAndPartialAcceptance) {
  auto b = BindYaml(
      {kClass, Gateway(kAllowSame),
       ListenerSet("infra", "ls",
                   "  - {name: pass, port: 443, protocol: TLS, tls: {mode: Passthrough}, "
                   "allowedRoutes: {kinds: [{kind: HTTPRoute}]}}\n"
                   "  - {name: ok, port: 443, protocol: TLS, hostname: ok.example.com, tls: "
                   "{mode: Passthrough}}\n")});
  const auto* s = SetStatus(*b, "infra", "ls");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Cond(Entry(*s, "pass")->conditions, "ResolvedRefs"), "False/InvalidRouteKinds");
  EXPECT_TRUE(Entry(*s, "pass")->supported_kinds.empty());
  EXPECT_EQ(Cond(Entry(*s, "ok")->conditions, "ResolvedRefs"), "True/ResolvedRefs");
  ASSERT_EQ(Entry(*s, "ok")->supported_kinds.size(), 1u);
  EXPECT_EQ(Entry(*s, "ok")->supported_kinds[0].kind, "TLSRoute");
  EXPECT_EQ(AcceptedProgrammed(s->conditions), "True/ListenersNotValid True/Programmed");
}

// The certificate is in namespace certs; the Gateway (infra) has a grant, the ListenerSet in
// apps needs its own, from kind ListenerSet.
std::string CertsAndGrant(const std::string& from_kind, const std::string& from_ns) {
  return TlsSecretYaml("certs", "cert", SelfSignedCert("a.example.com")) +
         "---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\n"
         "metadata: {name: g, namespace: certs}\nspec:\n"
         "  from: [{group: gateway.networking.k8s.io, kind: " +
         from_kind + ", namespace: " + from_ns + "}]\n  to: [{group: \"\", kind: Secret}]\n";
}

const char kHttpsEntry[] =
    "  - {name: https, port: 443, protocol: HTTPS, hostname: a.example.com, tls: "
    "{certificateRefs: [{name: cert, namespace: certs}]}}\n";

TEST(ListenerSetEntries, CertificateGrantsAreNotInherited) {
  const std::string allow_all = "  allowedListeners: {namespaces: {from: All}}\n";
  struct Case {
    std::string name;
    std::string grant_kind;
    std::string grant_ns;
    std::string want;
  };
  for (const Case& c : {Case{"gateway's grant", "Gateway", "infra", "False/RefNotPermitted"},
                        Case{"grant for the set", "ListenerSet", "apps", "True/ResolvedRefs"},
                        Case{"other namespace", "ListenerSet", "infra", "False/RefNotPermitted"}}) {
    SCOPED_TRACE(c.name);
    auto b = BindYaml({kClass, Gateway(allow_all), CertsAndGrant(c.grant_kind, c.grant_ns),
                       ListenerSet("apps", "ls", kHttpsEntry)});
    const auto* s = SetStatus(*b, "apps", "ls");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(Cond(Entry(*s, "https")->conditions, "ResolvedRefs"), c.want);
    bool ok = c.want == "True/ResolvedRefs";
    EXPECT_EQ(
        AcceptedProgrammed(s->conditions),
        ok ? "True/Accepted True/Programmed" : "False/ListenersNotValid False/ListenersNotValid");
    auto entries = BoundEntries(*b, "apps", "ls");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0]->programmed, ok);
    EXPECT_EQ(entries[0]->certificates.size(), ok ? 1u : 0u);
  }
}

// OverlappingTLSConfig over the merged list: an entry overlapping a Gateway listener marks
// both, entries of two ListenerSets mark each other (without naming the sibling), and an entry
// out of the list (conflicted, or of a ListenerSet not allowed) marks nothing.
TEST(ListenerSetEntries, OverlappingTlsConfigAcrossTheMergedList) {
  auto https = [](const std::string& name, int port, const std::string& host) {
    return "  - {name: " + name + ", port: " + std::to_string(port) +
           ", protocol: HTTPS, hostname: \"" + host +
           "\", tls: {certificateRefs: [{name: cert, namespace: infra}]}}\n";
  };
  const std::string gateway = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra, generation: 2}
spec:
  gatewayClassName: ours
  allowedListeners: {namespaces: {from: Same}}
  listeners:
)" + https("gw-wild", 443, "*.example.com") +
                              https("gw-org", 443, "foo.example.org");
  auto b = BindYaml(
      {kClass, gateway, TlsSecretYaml("infra", "cert", SelfSignedCert("example.com")),
       ListenerSet("infra", "a",
                   https("a-foo", 443, "foo.example.com") +
                       https("a-port", 8443, "foo.example.com") +
                       https("a-bar", 443, "*.bar.example.net"),
                   "2026-01-01T00:00:00Z"),
       ListenerSet("infra", "b",
                   https("b-x", 443, "x.bar.example.net") + https("b-dup", 443, "foo.example.com"),
                   "2026-01-01T00:00:01Z"),
       Namespace("far"), ListenerSet("far", "far", https("far-org", 443, "*.example.org"))});
  auto overlap = [](const std::vector<model::Condition>& c) {
    return Cond(c, "OverlappingTLSConfig");
  };
  const auto* gw_wild = b->Listener("infra", "gw", "gw-wild");
  ASSERT_NE(gw_wild, nullptr);
  const auto* wild = FindCondition(gw_wild->conditions, "OverlappingTLSConfig");
  ASSERT_NE(wild, nullptr) << "an entry's overlap marks the Gateway listener too";
  EXPECT_EQ(wild->reason, "OverlappingHostnames");
  EXPECT_NE(wild->message.find("listener a-foo of ListenerSet infra/a"), std::string::npos);
  EXPECT_EQ(wild->observed_generation, 2);
  // *.example.org of a ListenerSet the Gateway does not allow is not in the list.
  EXPECT_EQ(overlap(b->Listener("infra", "gw", "gw-org")->conditions), "missing");
  EXPECT_EQ(AcceptedProgrammed(SetStatus(*b, "far", "far")->conditions),
            "False/NotAllowed False/NotAllowed");

  const auto* a = SetStatus(*b, "infra", "a");
  ASSERT_NE(a, nullptr);
  const auto* a_foo = FindCondition(Entry(*a, "a-foo")->conditions, "OverlappingTLSConfig");
  ASSERT_NE(a_foo, nullptr);
  EXPECT_EQ(a_foo->reason, "OverlappingHostnames");
  EXPECT_EQ(a_foo->observed_generation, 5);
  EXPECT_NE(a_foo->message.find("listener gw-wild of Gateway infra/gw"), std::string::npos);
  EXPECT_EQ(overlap(Entry(*a, "a-port")->conditions), "missing") << "another port";
  const auto* a_bar = FindCondition(Entry(*a, "a-bar")->conditions, "OverlappingTLSConfig");
  ASSERT_NE(a_bar, nullptr);
  EXPECT_NE(a_bar->message.find("a listener of another ListenerSet"), std::string::npos);
  EXPECT_EQ(a_bar->message.find("infra/b"), std::string::npos) << "a sibling is not named";
  // A warning: the entries stay served.
  EXPECT_EQ(AcceptedProgrammed(Entry(*a, "a-foo")->conditions), "True/Accepted True/Programmed");

  const auto* bs = SetStatus(*b, "infra", "b");
  ASSERT_NE(bs, nullptr);
  EXPECT_EQ(overlap(Entry(*bs, "b-x")->conditions), "True/OverlappingHostnames");
  // Conflicted with a-foo: out of the merged list, so no overlap is reported for it.
  EXPECT_EQ(Cond(Entry(*bs, "b-dup")->conditions, "Conflicted"), "True/HostnameConflict");
  EXPECT_EQ(overlap(Entry(*bs, "b-dup")->conditions), "missing");
}

// BindOptions::max_gateway_listeners caps the merged list: the entries past it, in the spec's
// order, are refused (TooManyListeners), the Gateway's own listeners and the ListenerSets it
// does not allow take no place.
TEST(ListenerSetEntries, TooManyListeners) {
  auto entries = [](const std::string& prefix, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      std::string name = prefix + std::to_string(i);
      out += "  - {name: " + name + ", port: 80, protocol: HTTP, hostname: " + name +
             ".example.com}\n";
    }
    return out;
  };
  const std::vector<std::string> docs = {
      kClass,
      Gateway(kAllowSame),
      Namespace("far"),
      ListenerSet("far", "far", entries("f", 3), "2025-01-01T00:00:00Z"),  // not allowed
      ListenerSet("infra", "a", entries("a", 2), "2026-01-01T00:00:00Z"),
      ListenerSet("infra", "b", entries("b", 2), "2026-01-01T00:00:01Z"),
      ListenerSet("infra", "c", entries("c", 1), "2026-01-01T00:00:02Z")};
  binder::BindOptions options = DefaultOptions();
  options.max_gateway_listeners = 4;  // the Gateway's listener, a0, a1, b0
  auto b = BindYaml(docs, options);
  const auto* a = SetStatus(*b, "infra", "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(AcceptedProgrammed(a->conditions), "True/Accepted True/Programmed");
  const auto* bs = SetStatus(*b, "infra", "b");
  ASSERT_NE(bs, nullptr);
  EXPECT_EQ(AcceptedProgrammed(bs->conditions), "True/ListenersNotValid True/Programmed");
  EXPECT_EQ(AcceptedProgrammed(Entry(*bs, "b0")->conditions), "True/Accepted True/Programmed");
  const auto& b1 = Entry(*bs, "b1")->conditions;
  EXPECT_EQ(AcceptedProgrammed(b1), "False/TooManyListeners False/Invalid");
  EXPECT_EQ(Cond(b1, "Conflicted"), "False/NoConflicts");
  EXPECT_NE(FindCondition(b1, "Accepted")->message.find("listener 5 "), std::string::npos);
  EXPECT_NE(FindCondition(b1, "Accepted")->message.find("limited to 4"), std::string::npos);
  const auto* c = SetStatus(*b, "infra", "c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(AcceptedProgrammed(c->conditions), "False/ListenersNotValid False/ListenersNotValid");
  EXPECT_EQ(Cond(Entry(*c, "c0")->conditions, "Accepted"), "False/TooManyListeners");
  EXPECT_EQ(b->Gateway("infra", "gw")->attached_listener_sets, 2);
  // Only the first four are served.
  int programmed = 0;
  for (const auto& l : b->result.listeners) programmed += l.programmed;
  EXPECT_EQ(programmed, 4);
  EXPECT_TRUE(BoundEntries(*b, "infra", "c").size() == 1 &&
              !BoundEntries(*b, "infra", "c")[0]->programmed);

  // By default nothing here comes near the limit.
  auto d = BindYaml(docs);
  EXPECT_EQ(AcceptedProgrammed(SetStatus(*d, "infra", "c")->conditions),
            "True/Accepted True/Programmed");
  EXPECT_EQ(d->options.max_gateway_listeners, binder::kDefaultMaxGatewayListeners);
}

std::string Route(const std::string& ns, const std::string& name, const std::string& parents,
                  const std::string& hostname) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n  parentRefs: " + parents + "\n  hostnames: [" +
         hostname + "]\n  rules: [{backendRefs: [{name: svc, port: 8080}]}]\n";
}

const char kLsRef[] = "{kind: ListenerSet, name: ls, namespace: apps}";
const char kGwRef[] = "{name: gw, namespace: infra}";

class ListenerSetRoutes : public ::testing::Test {
 protected:
  std::unique_ptr<Bound> BindWith(const std::vector<std::string>& routes) {
    std::vector<std::string> docs = {
        kClass, Gateway("  allowedListeners: {namespaces: {from: All}}\n"),
        ListenerSet("apps", "ls",
                    "  - {name: same, port: 80, protocol: HTTP, hostname: same.example.com}\n"
                    "  - {name: all, port: 80, protocol: HTTP, hostname: all.example.com, "
                    "allowedRoutes: {namespaces: {from: All}}}\n")};
    docs.insert(docs.end(), routes.begin(), routes.end());
    return BindYaml(docs);
  }
  // apps/ls with an entry more (b, then a).
  std::unique_ptr<Bound> BindChangedLs() {
    return BindYaml(
        {ListenerSet("apps", "ls",
                     "  - {name: b, port: 80, protocol: HTTP, hostname: b.example.com}\n" +
                         std::string(kEntryA))});
  }
  static void ExpectSameListeners(const binder::BindResult& memoized,
                                  const binder::BindResult& fresh) {
    ASSERT_EQ(memoized.listeners.size(), fresh.listeners.size());
    for (size_t i = 0; i < memoized.listeners.size(); ++i) {
      EXPECT_EQ(binder::ListenerId(memoized.listeners[i]), binder::ListenerId(fresh.listeners[i]));
      EXPECT_EQ(memoized.listeners[i].routes.size(), fresh.listeners[i].routes.size());
    }
  }
  static std::string Parents(const model::RouteStatus& s) {
    std::string out;
    for (const auto& p : s.parents) {
      out +=
          p.parent_ref.kind + ":" + p.parent_ref.name + "=" + Cond(p.conditions, "Accepted") + " ";
    }
    return out;
  }
};

TEST_F(ListenerSetRoutes, AllowedRoutesSameIsTheSetsNamespace) {
  auto b = BindWith({Route("apps", "own", std::string("[") + kLsRef + "]", "\"*.example.com\""),
                     Route("infra", "far", std::string("[") + kLsRef + "]", "\"*.example.com\"")});
  const auto* s = SetStatus(*b, "apps", "ls");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Entry(*s, "same")->attached_routes, 1);  // apps/own only
  EXPECT_EQ(Entry(*s, "all")->attached_routes, 2);
  const auto* own = b->Route(model::Kind::kHTTPRoute, "apps", "own");
  ASSERT_NE(own, nullptr);
  EXPECT_EQ(Parents(*own), "ListenerSet:ls=True/Accepted ");
  EXPECT_EQ(own->parents[0].parent_ref.kind, "ListenerSet");
  EXPECT_EQ(own->parents[0].parent_ref.ns, "apps");
  // The Gateway's own listener is not reached through the ListenerSet.
  EXPECT_EQ(b->Listener("infra", "gw", "http")->attached_routes, 0);
}

TEST_F(ListenerSetRoutes, AGatewayParentRefNeverReachesEntries) {
  auto b = BindWith({Route("apps", "via-gw", std::string("[") + kGwRef + "]", "\"*.example.com\""),
                     Route("apps", "section", "[{name: gw, namespace: infra, sectionName: all}]",
                           "all.example.com")});
  const auto* s = SetStatus(*b, "apps", "ls");
  EXPECT_EQ(Entry(*s, "all")->attached_routes, 0);
  EXPECT_EQ(Entry(*s, "same")->attached_routes, 0);
  EXPECT_EQ(b->Listener("infra", "gw", "http")->attached_routes, 1);
  EXPECT_EQ(Parents(*b->Route(model::Kind::kHTTPRoute, "apps", "via-gw")),
            "Gateway:gw=True/Accepted ");
  EXPECT_EQ(Parents(*b->Route(model::Kind::kHTTPRoute, "apps", "section")),
            "Gateway:gw=False/NoMatchingParent ");
}

TEST_F(ListenerSetRoutes, DualParentsAreIndependent) {
  auto b = BindWith(
      {Route("apps", "both", std::string("[") + kGwRef + ", " + kLsRef + "]", ""),
       Route("apps", "sections",
             "[{name: gw, namespace: infra, sectionName: all}, {kind: ListenerSet, name: ls, "
             "namespace: apps, sectionName: all}]",
             "")});
  EXPECT_EQ(Parents(*b->Route(model::Kind::kHTTPRoute, "apps", "both")),
            "Gateway:gw=True/Accepted ListenerSet:ls=True/Accepted ");
  EXPECT_EQ(Parents(*b->Route(model::Kind::kHTTPRoute, "apps", "sections")),
            "Gateway:gw=False/NoMatchingParent ListenerSet:ls=True/Accepted ");
  const auto* s = SetStatus(*b, "apps", "ls");
  EXPECT_EQ(Entry(*s, "all")->attached_routes, 2);
  EXPECT_EQ(Entry(*s, "same")->attached_routes, 1);
  EXPECT_EQ(b->Listener("infra", "gw", "http")->attached_routes, 1);
  // The entries' routes are bound on the entries, which carry their ListenerSet.
  auto entries = BoundEntries(*b, "apps", "ls");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1]->routes.size(), 2u);
  EXPECT_EQ(entries[1]->gateway, (model::Store::Key{"infra", "gw"}));
  EXPECT_EQ(binder::ListenerId(*entries[1]), "apps/ls/all");
  EXPECT_EQ(binder::ListenerId(*b->BoundListener("infra", "gw", "http")), "http");
}

TEST_F(ListenerSetRoutes, UnknownOrRefusedSetGivesNoStatusOrNoMatchingParent) {
  auto b = BindYaml({kClass, Gateway(""), ListenerSet("apps", "ls", kEntryA),
                     Route("apps", "refused", std::string("[") + kLsRef + "]", ""),
                     Route("apps", "unknown", "[{kind: ListenerSet, name: nope}]", "")});
  EXPECT_EQ(Parents(*b->Route(model::Kind::kHTTPRoute, "apps", "refused")),
            "ListenerSet:ls=False/NoMatchingParent ");
  EXPECT_EQ(b->Route(model::Kind::kHTTPRoute, "apps", "unknown"), nullptr);
}

// A memo carried across binds gives what a bind from scratch gives, as ListenerSets come,
// change and go (the route memo's listener indexes include their entries).
TEST_F(ListenerSetRoutes, MemoEqualsAFreshBindAsSetsComeAndGo) {
  auto base = BindWith(
      {Route("apps", "r", std::string("[") + kLsRef + ", " + kGwRef + "]", "\"*.example.com\""),
       ListenerSet("apps", "early", kEntryA, "2020-01-01T00:00:00Z")});
  auto changed = BindChangedLs();
  const model::Store& all = base->loaded.store;
  auto ls1 = all.listener_sets.find({"apps", "ls"}).shared();
  auto ls2 = changed->loaded.store.listener_sets.find({"apps", "ls"}).shared();
  auto early = all.listener_sets.find({"apps", "early"}).shared();
  using Sets = std::vector<std::pair<std::string, std::shared_ptr<model::ListenerSet>>>;
  binder::BindMemo memo;
  size_t reused = 0;
  for (const Sets& sets : {Sets{}, Sets{{"ls", ls1}}, Sets{{"ls", ls1}}, Sets{{"ls", ls2}},
                           Sets{{"ls", ls2}, {"early", early}}, Sets{{"early", early}}, Sets{}}) {
    model::Store store = all;  // the same objects, shared
    store.listener_sets.clear();
    for (const auto& [name, set] : sets) store.listener_sets.Share({"apps", name}, set);
    binder::BindResult fresh = binder::Bind(store, base->options);
    binder::BindResult memoized = binder::Bind(store, base->options, &memo);
    reused += memo.reused;
    ExpectSameListeners(memoized, fresh);
    ASSERT_EQ(memoized.statuses.listener_sets.size(), fresh.statuses.listener_sets.size());
    for (const auto& [key, s] : fresh.statuses.listener_sets) {
      const auto& m = memoized.statuses.listener_sets.at(key);
      ASSERT_EQ(m.listeners.size(), s.listeners.size());
      for (size_t i = 0; i < s.listeners.size(); ++i) {
        EXPECT_EQ(m.listeners[i].attached_routes, s.listeners[i].attached_routes);
      }
    }
    model::ObjectKey r{model::Kind::kHTTPRoute, "apps", "r"};
    EXPECT_EQ(Parents(*memoized.statuses.routes.at(r)), Parents(*fresh.statuses.routes.at(r)));
  }
  EXPECT_GT(reused, 0u) << "the unchanged steps reuse the memo";
}

// A ListenerSet change binds again only the routes whose ListenerSet parentRefs find
// something else (the changed set, or one whose entries moved), not the others.
TEST_F(ListenerSetRoutes, ASetChangeBindsOnlyTheRoutesThatReferToWhatChanged) {
  const char kEarlyRef[] = "{kind: ListenerSet, name: early, namespace: apps}";
  auto base =
      BindWith({Route("apps", "via-gw", std::string("[") + kGwRef + "]", "\"*.example.com\""),
                Route("apps", "via-ls", std::string("[") + kLsRef + "]", "\"*.example.com\""),
                Route("apps", "via-early", std::string("[") + kEarlyRef + "]", "\"*.example.com\""),
                ListenerSet("apps", "early", kEntryA, "2020-01-01T00:00:00Z")});
  auto changed = BindChangedLs();
  const model::Store& all = base->loaded.store;
  binder::BindMemo memo;
  binder::Bind(all, base->options, &memo);
  model::Store store = all;  // the same objects, shared, but ListenerSet apps/ls
  store.listener_sets.Share({"apps", "ls"},
                            changed->loaded.store.listener_sets.find({"apps", "ls"}).shared());
  binder::BindResult fresh = binder::Bind(store, base->options);
  binder::BindResult memoized = binder::Bind(store, base->options, &memo);
  // via-gw reads the Gateway's own listeners, via-early its set, which comes first (older):
  // both as they were; via-ls is bound again.
  EXPECT_EQ(memo.reused, 2u);
  for (const char* name : {"via-gw", "via-ls", "via-early"}) {
    model::ObjectKey r{model::Kind::kHTTPRoute, "apps", name};
    EXPECT_EQ(Parents(*memoized.statuses.routes.at(r)), Parents(*fresh.statuses.routes.at(r)));
  }
  ExpectSameListeners(memoized, fresh);
  // The older set gone: the entries of apps/ls move, and via-ls is bound again too.
  store.listener_sets.erase({"apps", "early"});
  binder::Bind(store, base->options, &memo);
  EXPECT_EQ(memo.reused, 1u);  // via-gw
}

}  // namespace
}  // namespace xgate::testing
