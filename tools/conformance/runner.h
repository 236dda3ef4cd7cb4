// Plays case files end to end (README.md, "How a runner uses it"): one test bed, one agent
// and the base for the whole run, then each case's objects applied, checked and removed.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tools/conformance/case.h"
#include "tools/conformance/certs.h"
#include "tools/conformance/client.h"
#include "tools/conformance/explain_check.h"
#include "tools/conformance/manifests.h"
#include "tools/conformance/testbed.h"

namespace xgate::conformance {

struct Options {
  std::string cases_dir;
  std::string base_file;  // empty: found as E1 says
  std::string only;       // one case by name
  std::string report_file;
  bool keep = false;
  absl::Duration wait = absl::Seconds(60);  // E11's bound for each check
  // For the whole run: cases not started by then fail at once, so a broken data plane
  // cannot keep the run (and its namespaces) alive past a test harness's timeout.
  absl::Duration budget = absl::Minutes(20);
  std::string bin_dir;  // where xgate-agent, xgatectl, xgate-echo are
  // Every HTTP request is also explained by the agent's Explain API, which must agree
  // with what the proxy did (explain_check.h).
  bool explain = true;
};

struct CaseResult {
  std::string name;
  std::string feature;
  std::string support;
  std::vector<std::string> features;
  bool passed = false;
  std::string reason;  // first difference, when failed
};

class Runner {
 public:
  explicit Runner(Options opts);
  ~Runner();

  // Runs every selected case, printing one line each; fails only when nothing could run.
  absl::StatusOr<std::vector<CaseResult>> Run();

  // How many requests Explain cross-checked, and what it could not (for the summary).
  std::string ExplainSummary() const;

 private:
  struct Pod {
    Service svc;
    std::string netns;
    std::string ip;
    pid_t pid = -1;
    std::string log_path;
    bool from_case = false;
  };

  absl::Status SetUp(const Base& base);
  void TearDown();
  // --keep: leaves processes, namespaces and the run folder, with a script to remove them.
  void KeepTestBed();
  CaseResult RunCase(const std::string& file);
  // The case's checks; the first difference, or "".
  std::string PlayCase(const Case& c);

  // X7: the run's CA (X11: or the named extra CA) as each ConfigMap's ca.crt.
  absl::Status WriteCaConfigMaps(const std::vector<CaConfigMap>& maps, bool from_case);
  // X11: the run's CA for "", else the extra CA of that name (made on first use).
  absl::StatusOr<const CertAuthority*> Authority(const std::string& name);
  absl::Status IssueCertificates(const std::vector<CertificateSpec>& certs, bool from_case);
  // Writes objects into the agent's folder (replacing same kind/namespace/name), starting
  // echo pods for new Services.
  absl::Status ApplyObjects(const std::vector<Object>& objects, bool from_case);
  absl::Status DeleteObject(const ObjectRef& ref);
  absl::Status WriteObject(const Object& o, bool from_case);
  absl::Status StartPod(const Service& svc, bool from_case);
  void StopPod(const std::string& key);
  void RemoveCaseObjects();

  absl::Status StartAgent();
  // The objects the agent reports with their status (Gateways and routes; GatewayClasses
  // when `classes`).
  absl::StatusOr<nlohmann::json> FetchStatus(bool classes);
  std::string AgentProblem();  // non-empty when the agent is not running
  // When a wait that starts now ends: E11's bound, or the end of the run's budget.
  absl::Time Deadline() const;

  std::string CheckStatusList(const std::vector<StatusCheck>& checks);
  std::string CheckRequest(const Request& r);
  // One request or datagram; the difference, and the key of the Service that answered.
  // `session` (X10): the session value to send, if not empty, replaced by the one the answer
  // starts.
  std::string TryOnce(const Request& r, bool check_mirrors, std::string* answered,
                      std::string* session = nullptr);
  // X6: one gRPC call.
  std::string TryGrpc(const Request& r, const std::string& address, std::string* answered);
  // The runner-made certificate a request presents (`clientCertificate`, X11): null when it
  // names none; a description of the problem when it names one the run did not make.
  std::string ClientCertificate(const Request& r, const IssuedCert** cert) const;
  // Each `mirror` Service's request log and its size before the request; then waits until
  // every one has logged `path` past that size.
  using MirrorLogs = std::vector<std::pair<std::string, size_t>>;
  std::string MarkMirrorLogs(const Request& r, MirrorLogs* logs);
  std::string WaitMirrored(const Request& r, const MirrorLogs& logs, const std::string& path);
  std::string TakeSamples(const Request& r);
  std::string GatewayAddress(const Request& r, std::string* address);
  std::string PodLogPath(const std::string& ns, const std::string& svc);
  // Requests with `path` a pod's log gained after byte `offset`.
  int CountLogged(const std::string& log, size_t offset, const std::string& path);
  // The agent's explanation of the request `raw` sent to `address` against the answer; the
  // difference, or "". Requests to TCP/TLS/UDP listeners are counted as not cross-checked.
  std::string CrossCheckExplain(const Request& r, const std::string& address,
                                const std::string& raw, const std::string& sni,
                                const Response& resp, const EchoSeen& seen);

  Options opts_;
  std::string suffix_;
  std::string run_dir_, manifests_dir_, admin_socket_, pin_root_;
  std::unique_ptr<TestBed> bed_;
  std::optional<CertAuthority> ca_;
  std::map<std::string, CertAuthority> extra_cas_;  // X11, by name
  std::unique_ptr<Client> client_;
  pid_t agent_pid_ = -1;
  int agent_starts_ = 0;
  absl::Time run_deadline_ = absl::InfiniteFuture();
  std::vector<TlsBackend> tls_backends_;
  std::map<std::string, IssuedCert> issued_;      // "ns/secret"
  std::map<std::string, Pod> pods_;               // "ns/service"
  std::map<std::string, Object> objects_;         // Object::Key() -> object, as written
  std::set<std::string> case_objects_;            // keys written by the current case
  std::map<std::string, std::string> addresses_;  // "ns/gateway" -> address
  // "ns/gateway" -> listener port -> protocol (HTTP, HTTPS, TLS, TCP, UDP)
  std::map<std::string, std::map<int, std::string>> listener_protocols_;
  std::unique_ptr<ExplainClient> explain_;
  std::map<std::string, int> explained_;        // what was compared -> requests Explain agreed on
  std::map<std::string, int> explain_skipped_;  // listener protocol -> requests
};

}  // namespace xgate::conformance
