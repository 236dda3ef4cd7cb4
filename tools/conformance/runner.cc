#include "tools/conformance/runner.h"

#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"
#include "tools/conformance/checks.h"
#include "tools/conformance/process.h"
#include "tools/conformance/status_check.h"

namespace xgate::conformance {
namespace {
// yaml-cpp throws when a missing key's node is asked its type; these do not.
bool HasScalar(const YAML::Node& n) { return n.IsDefined() && n.IsScalar(); }
bool HasSequence(const YAML::Node& n) { return n.IsDefined() && n.IsSequence(); }
}  // namespace

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int kHoldsInARow = 3;  // E11: a request holds once it held this many times in a row
constexpr absl::Duration kRetryEvery = absl::Seconds(1);
constexpr absl::Duration kRequestTimeout = absl::Seconds(10);
constexpr absl::Duration kUdpTimeout = absl::Seconds(2);
constexpr absl::Duration kMirrorWait = absl::Seconds(5);
// A GrpcEcho call's path, the method's name after it (what the gRPC echo logs).
constexpr char kGrpcEchoPath[] = "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/";

std::string RandomSuffix() {
  std::random_device rd;
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 5; ++i) s += kHex[rd() % 16];
  return s;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::string tmp =
      (fs::path(path).parent_path() / ("." + fs::path(path).filename().string() + ".tmp")).string();
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);  // atomic, so the agent never reads half a file
  if (ec) return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", ec.message()));
  return absl::OkStatus();
}

std::string Tail(const std::string& path, size_t max_bytes = 600) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

std::string DescribeRequest(const Request& r) {
  if (r.scheme == "udp") {
    return absl::StrCat("udp to ", r.gateway_ns, "/", r.gateway_name, " port ", r.Port());
  }
  if (r.grpc_method) {
    return absl::StrCat("gRPC ", *r.grpc_method, " to ", r.host.empty() ? "<address>" : r.host,
                        r.port ? absl::StrCat(":", *r.port) : "", " on ", r.gateway_ns, "/",
                        r.gateway_name);
  }
  return absl::StrCat(r.method, " ", r.scheme, "://", r.host.empty() ? "<address>" : r.host,
                      r.port ? absl::StrCat(":", *r.port) : "", r.path, " on ", r.gateway_ns, "/",
                      r.gateway_name);
}

std::string GatewayAddressOf(const Object& gw) {
  try {
    YAML::Node n = YAML::Load(gw.text);
    YAML::Node addrs = n["spec"]["addresses"];
    if (HasSequence(addrs) && addrs.size() > 0 && HasScalar(addrs[0]["value"])) {
      return addrs[0]["value"].Scalar();
    }
  } catch (const YAML::Exception&) {
  }
  return "";
}

// Listener port -> protocol, as the Gateway's spec writes them.
std::map<int, std::string> ListenerProtocolsOf(const Object& gw) {
  std::map<int, std::string> out;
  try {
    YAML::Node listeners = YAML::Load(gw.text)["spec"]["listeners"];
    if (!HasSequence(listeners)) return out;
    for (const YAML::Node& l : listeners) {
      if (HasScalar(l["port"]) && HasScalar(l["protocol"]))
        out[l["port"].as<int>()] = l["protocol"].Scalar();
    }
  } catch (const YAML::Exception&) {
  }
  return out;
}

}  // namespace

Runner::Runner(Options opts) : opts_(std::move(opts)) {}

Runner::~Runner() { TearDown(); }

absl::StatusOr<std::vector<CaseResult>> Runner::Run() {
  absl::StatusOr<std::string> base_path = FindBase(opts_.cases_dir, opts_.base_file);
  if (!base_path.ok()) return base_path.status();
  absl::StatusOr<Base> base = LoadBase(*base_path);
  if (!base.ok()) return base.status();
  absl::StatusOr<std::vector<std::string>> files = CaseFiles(opts_.cases_dir);
  if (!files.ok()) return files.status();
  if (!opts_.only.empty()) {
    std::vector<std::string> picked;
    for (const std::string& f : *files) {
      if (fs::path(f).stem() == opts_.only) picked.push_back(f);
    }
    if (picked.empty())
      return absl::NotFoundError(absl::StrCat("no case ", opts_.only, " in ", opts_.cases_dir));
    *files = picked;
  }
  if (files->empty())
    return absl::NotFoundError(absl::StrCat("no case files in ", opts_.cases_dir));

  std::vector<CaseResult> results;
  run_deadline_ = absl::Now() + opts_.budget;
  absl::Status setup = SetUp(*base);
  for (const std::string& f : *files) {
    CaseResult r;
    if (!setup.ok()) {
      r.name = fs::path(f).stem().string();
      r.reason = absl::StrCat("test bed not ready: ", setup.message());
      if (absl::StatusOr<Case> c = LoadCase(f); c.ok()) {
        r.feature = c->feature;
        r.support = c->support;
        r.features = c->features;
      }
    } else if (Interrupted()) {
      r.name = fs::path(f).stem().string();
      r.reason = "interrupted";
    } else if (absl::Now() >= run_deadline_) {
      r.name = fs::path(f).stem().string();
      r.reason = absl::StrCat("not run: the run's time budget (",
                              absl::FormatDuration(opts_.budget), ") is spent");
    } else {
      r = RunCase(f);
    }
    std::cout << (r.passed ? "PASS " : "FAIL ") << r.name << (r.passed ? "" : ": " + r.reason)
              << std::endl;
    results.push_back(std::move(r));
  }
  if (opts_.keep && setup.ok()) KeepTestBed();
  TearDown();
  return results;
}

absl::Time Runner::Deadline() const { return std::min(absl::Now() + opts_.wait, run_deadline_); }

absl::Status Runner::SetUp(const Base& base) {
  if (geteuid() != 0) return absl::PermissionDeniedError("needs root (network namespaces)");
  suffix_ = RandomSuffix();
  run_dir_ = absl::StrCat("/tmp/xgc-", suffix_);
  manifests_dir_ = run_dir_ + "/manifests";
  admin_socket_ = run_dir_ + "/admin.sock";
  pin_root_ = absl::StrCat("/sys/fs/bpf/xgc-", suffix_);
  std::error_code ec;
  fs::create_directories(manifests_dir_, ec);
  fs::create_directories(run_dir_ + "/pods", ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot make ", run_dir_, ": ", ec.message()));
  for (const char* bin : {"xgate-agent", "xgatectl", "xgate-echo"}) {
    if (!fs::exists(fs::path(opts_.bin_dir) / bin)) {
      return absl::NotFoundError(absl::StrCat(bin, " not found in ", opts_.bin_dir));
    }
  }
  absl::StatusOr<CertAuthority> ca =
      CertAuthority::Create(absl::StrCat("xgate conformance CA ", suffix_));
  if (!ca.ok()) return ca.status();
  ca_ = *std::move(ca);
  absl::StatusOr<std::unique_ptr<TestBed>> bed = TestBed::Create(suffix_);
  if (!bed.ok()) return bed.status();
  bed_ = *std::move(bed);
  client_ = std::make_unique<Client>(bed_->ClientSockets(), ca_->ca_pem());
  tls_backends_ = base.tls_backends;
  if (absl::Status st = IssueCertificates(base.certificates, false); !st.ok()) return st;
  if (absl::Status st = WriteCaConfigMaps(base.ca_config_maps, false); !st.ok()) return st;
  absl::StatusOr<std::vector<Object>> objects =
      SplitManifests(base.manifests, base.file, base.manifests_line);
  if (!objects.ok()) return objects.status();
  if (absl::Status st = ApplyObjects(*objects, false); !st.ok()) return st;
  if (opts_.explain) explain_ = std::make_unique<ExplainClient>(admin_socket_);
  return StartAgent();
}

void Runner::KeepTestBed() {
  std::string script = "#!/bin/sh\n# Removes what xgate-conformance --keep left.\n";
  if (agent_pid_ > 0) absl::StrAppend(&script, "kill ", agent_pid_, " 2>/dev/null\n");
  for (const auto& [key, pod] : pods_) absl::StrAppend(&script, "kill ", pod.pid, " 2>/dev/null\n");
  std::vector<std::string> kept = bed_->Release();
  for (auto it = kept.rbegin(); it != kept.rend(); ++it)
    absl::StrAppend(&script, "ip netns del ", *it, "\n");
  absl::StrAppend(&script, "rm -rf ", run_dir_, "\n");
  std::string path = run_dir_ + "/cleanup.sh";
  if (WriteFile(path, script).ok()) chmod(path.c_str(), 0755);
  std::cerr << "kept: agent, echo pods, namespaces " << absl::StrJoin(kept, " ") << " and "
            << run_dir_ << " (agent admin socket " << admin_socket_ << "); remove them with "
            << path << "\n";
  agent_pid_ = -1;
  pods_.clear();
  pin_root_.clear();
}

void Runner::TearDown() {
  if (agent_pid_ > 0) Stop(agent_pid_, absl::Seconds(10));
  agent_pid_ = -1;
  for (auto& [key, pod] : pods_) Stop(pod.pid, absl::Seconds(2));
  pods_.clear();
  if (bed_) {
    bed_->Teardown();
    bed_.reset();
  }
  std::error_code ec;
  if (!pin_root_.empty() && fs::exists(pin_root_, ec)) fs::remove_all(pin_root_, ec);
  if (!run_dir_.empty() && !opts_.keep) fs::remove_all(run_dir_, ec);
}

absl::StatusOr<const CertAuthority*> Runner::Authority(const std::string& name) {
  if (name.empty()) return &*ca_;
  auto it = extra_cas_.find(name);
  if (it == extra_cas_.end()) {
    absl::StatusOr<CertAuthority> ca =
        CertAuthority::Create(absl::StrCat("xgate conformance CA ", name, " ", suffix_));
    if (!ca.ok()) return ca.status();
    it = extra_cas_.emplace(name, *std::move(ca)).first;
  }
  return &it->second;
}

absl::Status Runner::WriteCaConfigMaps(const std::vector<CaConfigMap>& maps, bool from_case) {
  for (const CaConfigMap& m : maps) {
    absl::StatusOr<const CertAuthority*> ca = Authority(m.ca);
    if (!ca.ok()) return ca.status();
    if (absl::Status st = WriteObject(CaConfigMapObject(m.ns, m.name, (*ca)->ca_pem()), from_case);
        !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

absl::Status Runner::IssueCertificates(const std::vector<CertificateSpec>& certs, bool from_case) {
  for (const CertificateSpec& spec : certs) {
    absl::StatusOr<const CertAuthority*> ca = Authority(spec.ca);
    if (!ca.ok()) return ca.status();
    absl::StatusOr<IssuedCert> cert = (*ca)->Issue(spec.hosts);
    if (!cert.ok()) return cert.status();
    issued_[spec.ns + "/" + spec.name] = *cert;
    if (absl::Status st =
            WriteObject(TlsSecret(spec.ns, spec.name, cert->chain_pem, cert->key_pem), from_case);
        !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

absl::Status Runner::WriteObject(const Object& o, bool from_case) {
  if (absl::Status st = WriteFile(manifests_dir_ + "/" + o.FileName(), o.text); !st.ok()) return st;
  objects_[o.Key()] = o;
  if (from_case) case_objects_.insert(o.Key());
  if (o.kind == "Gateway") {
    addresses_[o.ns + "/" + o.name] = GatewayAddressOf(o);
    listener_protocols_[o.ns + "/" + o.name] = ListenerProtocolsOf(o);
  }
  return absl::OkStatus();
}

absl::Status Runner::ApplyObjects(const std::vector<Object>& objects, bool from_case) {
  for (const Object& o : objects) {
    if (absl::Status st = WriteObject(o, from_case); !st.ok()) return st;
  }
  absl::StatusOr<std::vector<Service>> services = ServicesOf(objects);
  if (!services.ok()) return services.status();
  for (const Service& s : *services) {
    if (pods_.contains(s.ns + "/" + s.name)) continue;
    if (absl::Status st = StartPod(s, from_case); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status Runner::DeleteObject(const ObjectRef& ref) {
  std::string ns = IsClusterScoped(ref.kind) ? "" : ref.ns;
  std::string key = ref.kind + "/" + ns + "/" + ref.name;
  auto it = objects_.find(key);
  if (it == objects_.end()) return absl::NotFoundError(absl::StrCat("delete: no ", key));
  std::error_code ec;
  fs::remove(manifests_dir_ + "/" + it->second.FileName(), ec);
  objects_.erase(it);
  if (ref.kind == "Service") {
    std::string slice = absl::StrCat("EndpointSlice/", ns, "/", ref.name, "-conformance");
    if (auto s = objects_.find(slice); s != objects_.end()) {
      fs::remove(manifests_dir_ + "/" + s->second.FileName(), ec);
      objects_.erase(s);
    }
  }
  return absl::OkStatus();
}

std::string Runner::PodLogPath(const std::string& ns, const std::string& svc) {
  return absl::StrCat(run_dir_, "/pods/", ns, ".", svc, ".log");
}

absl::Status Runner::StartPod(const Service& svc, bool from_case) {
  Pod pod;
  pod.svc = svc;
  pod.from_case = from_case;
  absl::StatusOr<std::string> ip = bed_->AddPod(&pod.netns);
  if (!ip.ok()) return ip.status();
  pod.ip = *ip;
  pod.log_path = PodLogPath(svc.ns, svc.name);
  std::string ready = absl::StrCat(run_dir_, "/pods/", svc.ns, ".", svc.name, ".ready");
  std::string out = absl::StrCat(run_dir_, "/pods/", svc.ns, ".", svc.name, ".out");
  std::error_code ec;
  fs::remove(ready, ec);
  fs::remove(pod.log_path, ec);
  std::vector<std::string> argv = {(fs::path(opts_.bin_dir) / "xgate-echo").string(),
                                   "--namespace",
                                   svc.ns,
                                   "--pod",
                                   svc.name + "-0",
                                   "--log",
                                   pod.log_path,
                                   "--ready-file",
                                   ready};
  std::set<std::pair<std::string, int>> seen;
  for (const ServicePort& p : svc.ports) {
    std::string proto = p.protocol == "UDP" ? "udp" : "tcp";
    if (!seen.insert({proto, p.target_port}).second) continue;
    bool h2c = proto == "tcp" && p.app_protocol == "kubernetes.io/h2c";
    argv.push_back(proto == "udp" ? "--udp" : svc.grpc ? "--grpc" : (h2c ? "--h2c" : "--listen"));
    argv.push_back(absl::StrCat("0.0.0.0:", p.target_port));
  }
  for (const TlsBackend& tb : tls_backends_) {
    if (tb.ns != svc.ns || tb.service != svc.name) continue;
    auto cert = issued_.find(tb.ns + "/" + tb.secret);
    if (cert == issued_.end()) {
      return absl::NotFoundError(absl::StrCat("tlsBackends: ", tb.ns, "/", tb.secret,
                                              " is not a certificate the runner made"));
    }
    std::string base = absl::StrCat(run_dir_, "/pods/", svc.ns, ".", svc.name);
    if (absl::Status st = WriteFile(base + ".crt", cert->second.chain_pem); !st.ok()) return st;
    if (absl::Status st = WriteFile(base + ".key", cert->second.key_pem); !st.ok()) return st;
    argv.insert(argv.end(), {"--tls-cert", base + ".crt", "--tls-key", base + ".key"});
    if (tb.require_client_certificate) {  // X12
      absl::StatusOr<const CertAuthority*> ca = Authority(tb.client_ca);
      if (!ca.ok()) return ca.status();
      if (absl::Status st = WriteFile(base + ".client-ca.crt", (*ca)->ca_pem()); !st.ok()) {
        return st;
      }
      argv.insert(argv.end(), {"--tls-client-ca", base + ".client-ca.crt"});
    }
  }
  absl::StatusOr<pid_t> pid = Spawn(argv, pod.netns, out);
  if (!pid.ok()) return pid.status();
  pod.pid = *pid;
  std::string key = svc.ns + "/" + svc.name;
  pods_[key] = pod;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!fs::exists(ready, ec)) {
    int code = 0;
    if (!Running(pod.pid, &code)) {
      return absl::UnavailableError(
          absl::StrCat("echo pod for ", key, " exited (", code, "): ", Tail(out)));
    }
    if (absl::Now() > deadline || !SleepUnlessInterrupted(absl::Milliseconds(20))) {
      return absl::DeadlineExceededError(absl::StrCat("echo pod for ", key, " did not start"));
    }
  }
  return WriteObject(EndpointSliceFor(svc, {pod.ip}), from_case);
}

void Runner::StopPod(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  Stop(it->second.pid, absl::Seconds(2));
  if (bed_) bed_->RemovePod(it->second.netns);
  pods_.erase(it);
}

absl::Status Runner::StartAgent() {
  ++agent_starts_;
  std::vector<std::string> argv = {"ip",
                                   "netns",
                                   "exec",
                                   bed_->node_ns(),
                                   (fs::path(opts_.bin_dir) / "xgate-agent").string(),
                                   "--manifests",
                                   manifests_dir_,
                                   "--attach",
                                   bed_->node_uplink(),
                                   "--pin-root",
                                   pin_root_,
                                   "--admin-socket",
                                   admin_socket_};
  absl::StatusOr<pid_t> pid = Spawn(argv, "", run_dir_ + "/agent.log");
  if (!pid.ok()) return pid.status();
  agent_pid_ = *pid;
  absl::Time deadline = Deadline();
  std::string last;
  for (;;) {
    if (std::string p = AgentProblem(); !p.empty()) return absl::UnavailableError(p);
    absl::StatusOr<json> items = FetchStatus(false);
    if (items.ok()) return absl::OkStatus();
    last = std::string(items.status().message());
    if (absl::Now() > deadline || !SleepUnlessInterrupted(absl::Milliseconds(200))) {
      return absl::DeadlineExceededError(
          absl::StrCat("the agent's admin API did not answer: ", last));
    }
  }
}

std::string Runner::AgentProblem() {
  int code = 0;
  if (agent_pid_ > 0 && Running(agent_pid_, &code)) return "";
  agent_pid_ = -1;
  return absl::StrCat("xgate-agent exited (", code, "): ", Tail(run_dir_ + "/agent.log", 400));
}

absl::StatusOr<json> Runner::FetchStatus(bool classes) {
  json items = json::array();
  // `status -o json` lists every object (GatewayClasses too); `get` only Gateways or routes.
  std::vector<std::vector<std::string>> what = {{"get", "gateways"}, {"get", "routes"}};
  if (classes) what = {{"status"}};
  for (const std::vector<std::string>& w : what) {
    std::vector<std::string> argv = {(fs::path(opts_.bin_dir) / "xgatectl").string(), "--socket",
                                     admin_socket_};
    argv.insert(argv.end(), w.begin(), w.end());
    argv.insert(argv.end(), {"-o", "json"});
    std::string cmd = absl::StrCat("xgatectl ", absl::StrJoin(w, " "));
    absl::StatusOr<CommandResult> r = RunCommand(argv, absl::Seconds(10));
    if (!r.ok()) return r.status();
    if (r->exit_code != 0) {
      return absl::UnavailableError(absl::StrCat(cmd, ": ", r->err.substr(0, 300)));
    }
    json list = json::parse(r->out, nullptr, false);
    if (list.is_discarded() || !list.is_object() || !list.contains("items") ||
        !list["items"].is_array()) {
      return absl::UnavailableError(absl::StrCat(cmd, " -o json is not a List"));
    }
    for (json& it : list["items"]) items.push_back(std::move(it));
  }
  return items;
}

CaseResult Runner::RunCase(const std::string& file) {
  CaseResult r;
  r.name = fs::path(file).stem().string();
  absl::StatusOr<Case> c = LoadCase(file);
  if (!c.ok()) {
    r.reason = std::string(c.status().message());
    return r;
  }
  r.feature = c->feature;
  r.support = c->support;
  r.features = c->features;
  if (!AgentProblem().empty()) {
    spdlog::warn("restarting xgate-agent");
    if (absl::Status st = StartAgent(); !st.ok()) {
      r.reason = absl::StrCat("xgate-agent does not start: ", st.message());
      return r;
    }
  }
  r.reason = PlayCase(*c);
  r.passed = r.reason.empty();
  if (!r.passed && !opts_.keep) spdlog::info("{}: agent log in {}/agent.log", r.name, run_dir_);
  // With --keep and --only, the case's objects stay for inspection.
  if (!opts_.keep || opts_.only.empty()) RemoveCaseObjects();
  return r;
}

std::string Runner::PlayCase(const Case& c) {
  std::vector<TlsBackend> base_tls = tls_backends_;
  tls_backends_.insert(tls_backends_.end(), c.tls_backends.begin(), c.tls_backends.end());
  std::string diff = [&]() -> std::string {
    if (absl::Status st = IssueCertificates(c.certificates, true); !st.ok())
      return std::string(st.message());
    if (absl::Status st = WriteCaConfigMaps(c.ca_config_maps, true); !st.ok())
      return std::string(st.message());
    absl::StatusOr<std::vector<Object>> objects =
        SplitManifests(c.manifests, c.file, c.manifests_line);
    if (!objects.ok()) return std::string(objects.status().message());
    if (absl::Status st = ApplyObjects(*objects, true); !st.ok()) return std::string(st.message());
    if (std::string d = CheckStatusList(c.status); !d.empty()) return d;
    for (const Request& q : c.requests) {
      if (std::string d = CheckRequest(q); !d.empty()) return d;
    }
    for (size_t i = 0; i < c.steps.size(); ++i) {
      const Step& st = c.steps[i];
      std::string where = absl::StrCat("step ", i + 1, ": ");
      if (!st.apply.empty()) {
        absl::StatusOr<std::vector<Object>> objs = SplitManifests(st.apply, c.file, st.apply_line);
        if (!objs.ok()) return where + std::string(objs.status().message());
        for (const Object& o : *objs) {
          if (objects_.contains(o.Key()) && !case_objects_.contains(o.Key())) {
            return absl::StrCat(where, "cases never change base objects (", o.Key(), ")");
          }
        }
        if (absl::Status s = ApplyObjects(*objs, true); !s.ok())
          return where + std::string(s.message());
      }
      for (const ObjectRef& ref : st.deletes) {
        if (absl::Status s = DeleteObject(ref); !s.ok()) return where + std::string(s.message());
      }
      if (std::string d = CheckStatusList(st.status); !d.empty()) return where + d;
      for (const Request& q : st.requests) {
        if (std::string d = CheckRequest(q); !d.empty()) return where + d;
      }
    }
    return "";
  }();
  tls_backends_ = base_tls;
  return diff;
}

void Runner::RemoveCaseObjects() {
  std::set<std::string> gone;  // Gateways and routes the agent must stop reporting
  for (const std::string& key : case_objects_) {
    auto it = objects_.find(key);
    if (it == objects_.end()) continue;
    std::error_code ec;
    fs::remove(manifests_dir_ + "/" + it->second.FileName(), ec);
    const Object& o = it->second;
    if (o.kind == "Gateway" || absl::EndsWith(o.kind, "Route"))
      gone.insert(o.kind + "/" + o.ns + "/" + o.name);
    if (o.kind == "Gateway") {
      addresses_.erase(o.ns + "/" + o.name);
      listener_protocols_.erase(o.ns + "/" + o.name);
    }
    objects_.erase(it);
  }
  case_objects_.clear();
  std::vector<std::string> case_pods;
  for (const auto& [key, pod] : pods_) {
    if (pod.from_case) case_pods.push_back(key);
  }
  for (const std::string& key : case_pods) StopPod(key);
  // Wait until the agent has let go of the case, so the next case starts clean.
  absl::Time deadline = Deadline();
  while (!gone.empty() && AgentProblem().empty() && absl::Now() < deadline) {
    absl::StatusOr<json> items = FetchStatus(false);
    if (items.ok()) {
      bool any = false;
      for (const std::string& g : gone) {
        std::vector<std::string> parts = absl::StrSplit(g, '/');
        any = any || FindObject(*items, parts[0], parts[1], parts[2]) != nullptr;
      }
      if (!any) return;
    }
    if (!SleepUnlessInterrupted(absl::Milliseconds(200))) return;
  }
  if (!gone.empty() && absl::Now() >= deadline)
    spdlog::warn("the agent still reports objects of the last case");
}

std::string Runner::CheckStatusList(const std::vector<StatusCheck>& checks) {
  if (checks.empty()) return "";
  // GatewayClasses, BackendTLSPolicies (X9) and ListenerSets (X13) are listed only by
  // `xgatectl status`.
  bool classes = false;
  for (const StatusCheck& c : checks) {
    classes = classes || c.kind == "GatewayClass" || c.kind == "BackendTLSPolicy" ||
              c.kind == "ListenerSet";
  }
  absl::Time deadline = Deadline();
  std::vector<bool> held(checks.size(), false);
  std::string last;
  for (;;) {
    if (std::string p = AgentProblem(); !p.empty()) return p;
    absl::StatusOr<json> items = FetchStatus(classes);
    if (!items.ok()) {
      last = std::string(items.status().message());
    } else {
      last.clear();
      for (size_t i = 0; i < checks.size(); ++i) {
        if (held[i]) continue;
        std::string d = CheckStatus(checks[i], *items);
        if (d.empty()) {
          held[i] = true;
        } else if (last.empty()) {
          last = absl::StrCat("status (line ", checks[i].line, "): ", d);
        }
      }
      if (last.empty()) return "";
    }
    if (absl::Now() > deadline) return last;
    if (!SleepUnlessInterrupted(absl::Milliseconds(500))) return "interrupted";
  }
}

std::string Runner::GatewayAddress(const Request& r, std::string* address) {
  auto it = addresses_.find(r.gateway_ns + "/" + r.gateway_name);
  if (it == addresses_.end() || it->second.empty()) {
    return absl::StrCat("no address for Gateway ", r.gateway_ns, "/", r.gateway_name);
  }
  *address = it->second;
  return "";
}

int Runner::CountLogged(const std::string& log, size_t offset, const std::string& path) {
  std::ifstream in(log);
  if (!in) return 0;
  in.seekg(static_cast<std::streamoff>(offset));
  int n = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::optional<EchoSeen> seen = ParseEcho(line);
    if (seen && seen->path == path) ++n;
  }
  return n;
}

namespace {

// X10: the request carrying the session value, and the value the answer starts, if any.
Request WithSession(const Request& r, const std::string& session) {
  Request out = r;
  if (r.session_cookie) {
    out.headers.emplace_back("Cookie", absl::StrCat(*r.session_cookie, "=", session));
  } else {
    out.headers.emplace_back(*r.session_header, session);
  }
  return out;
}

void TakeSession(const Request& r, const Response& resp, std::string* session) {
  for (const echo::Header& h : resp.headers) {
    if (r.session_header && absl::EqualsIgnoreCase(h.name, *r.session_header)) {
      *session = h.value;
    }
    absl::string_view cookie = h.value;
    cookie = cookie.substr(0, cookie.find(';'));
    if (r.session_cookie && absl::EqualsIgnoreCase(h.name, "Set-Cookie") &&
        absl::ConsumePrefix(&cookie, absl::StrCat(*r.session_cookie, "="))) {
      *session = std::string(cookie);
    }
  }
}

}  // namespace

std::string Runner::TryOnce(const Request& r, bool check_mirrors, std::string* answered,
                            std::string* session) {
  std::string address;
  if (std::string d = GatewayAddress(r, &address); !d.empty()) return d;
  std::string want_ns = r.ExpectNamespace();
  if (r.scheme == "udp") {
    absl::StatusOr<std::string> got =
        client_->Udp(address, r.Port(), "xgate-conformance", kUdpTimeout);
    if (!got.ok()) return std::string(got.status().message());
    if (explain_ != nullptr) ++explain_skipped_["UDP"];
    if (answered != nullptr) {
      json j = json::parse(*got, nullptr, false);
      if (j.is_object() && j.contains("pod") && j["pod"].is_string()) {
        std::string svc = ServiceOfPod(j["pod"].get<std::string>());
        std::string ns = j.value("namespace", "");
        *answered = ns == want_ns ? svc : ns + "/" + svc;
      }
    }
    return CheckUdpAnswer(r, *got);
  }
  MirrorLogs mirror_logs;
  if (check_mirrors) {
    if (std::string d = MarkMirrorLogs(r, &mirror_logs); !d.empty()) return d;
  }
  if (r.grpc_method) {
    std::string d = TryGrpc(r, address, answered);
    if (!d.empty()) return d;
    return WaitMirrored(r, mirror_logs, absl::StrCat(kGrpcEchoPath, *r.grpc_method));
  }
  std::string raw = session != nullptr && !session->empty()
                        ? BuildHttpRequest(WithSession(r, *session), address)
                        : BuildHttpRequest(r, address);
  std::string sni = r.host.empty() ? address : HostWithoutPort(r.host);
  const IssuedCert* client_cert = nullptr;
  if (std::string d = ClientCertificate(r, &client_cert); !d.empty()) return d;
  absl::StatusOr<Response> resp =
      r.websocket_h2 ? client_->WebSocketH2(address, r, sni, kRequestTimeout)
                     : client_->Http(address, r.Port(), r.scheme == "https", sni, raw,
                                     kRequestTimeout, r.websocket, client_cert);
  if (r.expect.tls_failure) {
    if (explain_ != nullptr) ++explain_skipped_["TLS refused (tlsFailure)"];
    if (resp.ok()) {
      return absl::StrCat("got an answer (status ", resp->status,
                          ") where the connection should have failed");
    }
    return "";
  }
  if (!resp.ok()) return std::string(resp.status().message());
  if (session != nullptr) TakeSession(r, *resp, session);
  EchoSeen seen;
  std::string d = CheckHttpAnswer(r, *resp, &seen);
  if (answered != nullptr && !seen.pod.empty()) {
    *answered = seen.ns == want_ns ? seen.service : seen.ns + "/" + seen.service;
  }
  if (!d.empty()) return d;
  if (const auto& want = r.expect.request.client_certificate; want) {  // X12
    auto it = issued_.find(*want);
    if (it == issued_.end()) {
      return absl::StrCat("expect.request.clientCertificate ", *want,
                          ": no certificate of that name was made (certificates)");
    }
    const std::string& chain = it->second.chain_pem;
    constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
    size_t end = chain.find(kEnd);
    std::string leaf = end == std::string::npos ? chain : chain.substr(0, end + kEnd.size());
    if (d = CheckClientCertificate(seen, *want, leaf); !d.empty()) return d;
  }
  if (d = CrossCheckExplain(r, address, raw, sni, *resp, seen); !d.empty()) return d;
  return WaitMirrored(r, mirror_logs, ExpectedBackendPath(r));
}

std::string Runner::MarkMirrorLogs(const Request& r, MirrorLogs* logs) {
  std::string want_ns = r.ExpectNamespace();
  for (const std::string& m : r.expect.mirror) {
    std::string log = PodLogPath(want_ns, m);
    std::error_code ec;
    size_t size = fs::exists(log, ec) ? fs::file_size(log, ec) : 0;
    logs->emplace_back(log, size);
    if (!pods_.contains(want_ns + "/" + m))
      return absl::StrCat("no echo pod for mirror ", want_ns, "/", m);
  }
  return "";
}

std::string Runner::WaitMirrored(const Request& r, const MirrorLogs& logs,
                                 const std::string& path) {
  for (size_t i = 0; i < logs.size(); ++i) {
    absl::Time deadline = absl::Now() + kMirrorWait;
    while (CountLogged(logs[i].first, logs[i].second, path) == 0) {
      if (absl::Now() > deadline || !SleepUnlessInterrupted(absl::Milliseconds(20))) {
        return absl::StrCat("mirror ", r.expect.mirror[i], " did not see the request for ", path);
      }
    }
  }
  return "";
}

std::string Runner::ClientCertificate(const Request& r, const IssuedCert** cert) const {
  *cert = nullptr;
  if (!r.client_certificate) return "";
  auto it = issued_.find(*r.client_certificate);
  if (it == issued_.end()) {
    return absl::StrCat("clientCertificate ", *r.client_certificate,
                        ": no certificate of that name was made (certificates)");
  }
  *cert = &it->second;
  return "";
}

std::string Runner::TryGrpc(const Request& r, const std::string& address, std::string* answered) {
  const IssuedCert* client_cert = nullptr;
  if (std::string d = ClientCertificate(r, &client_cert); !d.empty()) return d;
  absl::StatusOr<int> fd = client_->Tcp(address, r.Port(), kRequestTimeout);
  if (!fd.ok()) return std::string(fd.status().message());
  std::string authority = r.host;
  if (authority.empty()) {
    authority = absl::StrContains(address, ':') ? absl::StrCat("[", address, "]") : address;
    if (r.Port() != (r.scheme == "https" ? 443 : 80)) absl::StrAppend(&authority, ":", r.Port());
  }
  // Over HTTPS as the runner's HTTPS requests: the run's CA, the host (or the address) as SNI
  // and the name checked.
  GrpcTls tls{ca_->ca_pem(), r.host.empty() ? address : HostWithoutPort(r.host), client_cert};
  absl::StatusOr<GrpcAnswer> got =
      CallGrpcEcho(*fd, authority, *r.grpc_method, r.headers, kRequestTimeout,
                   r.scheme == "https" ? &tls : nullptr);
  if (!got.ok()) return std::string(got.status().message());
  if (answered != nullptr && got->code == 0) {
    std::string svc = ServiceOfPod(got->pod);
    *answered = got->ns == r.ExpectNamespace() ? svc : got->ns + "/" + svc;
  }
  return CheckGrpcAnswer(r, *got);
}

std::string Runner::CrossCheckExplain(const Request& r, const std::string& address,
                                      const std::string& raw, const std::string& sni,
                                      const Response& resp, const EchoSeen& seen) {
  if (explain_ == nullptr) return "";
  std::string protocol = r.scheme == "https" ? "HTTPS" : "HTTP";
  if (auto gw = listener_protocols_.find(r.gateway_ns + "/" + r.gateway_name);
      gw != listener_protocols_.end()) {
    if (auto l = gw->second.find(r.Port()); l != gw->second.end()) protocol = l->second;
  }
  if (protocol == "TCP" || protocol == "UDP") {  // the fast path's: no request to explain
    ++explain_skipped_[protocol];
    return "";
  }
  bool tls = r.scheme == "https";
  absl::StatusOr<api::RequestProbe> probe =
      ProbeFor(raw, address, r.Port(), tls && !IsIpAddress(sni) ? sni : "");
  if (!probe.ok()) return absl::StrCat("explain: ", probe.status().message());
  absl::StatusOr<api::RequestExplanation> e = explain_->Explain(*probe);
  if (!e.ok()) return std::string(e.status().message());
  std::string pod_ip;
  if (auto p = pods_.find(seen.ns + "/" + seen.service); p != pods_.end()) pod_ip = p->second.ip;
  std::string compared;
  std::string d = CompareExplanation(*e, resp, &seen, pod_ip, &compared);
  if (d.empty()) {
    if (!compared.empty()) {
      ++explained_[compared];
    } else {
      ++explain_skipped_[absl::StrCat("status ", resp.status)];
    }
  }
  return d;
}

std::string Runner::ExplainSummary() const {
  if (!opts_.explain) return "explain: not cross-checked (--no-explain)";
  int total = 0;
  std::vector<std::string> kinds;
  for (const auto& [what, n] : explained_) {
    total += n;
    kinds.push_back(absl::StrCat(n, " ", what));
  }
  std::string s =
      absl::StrCat("explain: ", total, " HTTP requests cross-checked against the agent's Explain");
  if (!kinds.empty()) absl::StrAppend(&s, " (", absl::StrJoin(kinds, ", "), ")");
  if (!explain_skipped_.empty()) {
    std::vector<std::string> parts;
    for (const auto& [what, n] : explain_skipped_) parts.push_back(absl::StrCat(n, " ", what));
    absl::StrAppend(&s, "; not cross-checked: ", absl::StrJoin(parts, ", "));
  }
  return s;
}

std::string Runner::CheckRequest(const Request& r) {
  std::string what = DescribeRequest(r);
  absl::Time deadline = Deadline();
  int holds = 0;
  int needed = r.samples > 0 ? 1 : kHoldsInARow;
  std::string last;
  while (holds < needed) {
    if (std::string p = AgentProblem(); !p.empty()) return p;
    std::string answered;
    std::string d = TryOnce(r, true, &answered);
    if (d.empty() && !r.expect.weights.empty()) {  // routing is up once a weighted Service answers
      bool weighted = false;
      for (const auto& [name, w] : r.expect.weights)
        weighted = weighted || (name == answered && w > 0);
      if (!weighted) d = absl::StrCat("answered by ", answered, ", which has no weight");
    }
    if (d.empty()) {
      ++holds;
      continue;
    }
    holds = 0;
    last = d;
    if (absl::Now() > deadline) return absl::StrCat(what, ": ", last);
    if (!SleepUnlessInterrupted(kRetryEvery)) return "interrupted";
  }
  if (r.samples == 0) return "";
  std::string d = TakeSamples(r);
  return d.empty() ? "" : absl::StrCat(what, ": ", d);
}

std::string Runner::TakeSamples(const Request& r) {
  std::string want_ns = r.ExpectNamespace();
  std::string path = ExpectedBackendPath(r);
  // Services whose pods must have seen copies: mirrorShares (a share) and mirror (all).
  std::vector<std::pair<std::string, double>> copies = r.expect.mirror_shares;
  for (const std::string& m : r.expect.mirror) copies.emplace_back(m, 100);
  std::string last;
  for (int attempt = 1; attempt <= r.attempts; ++attempt) {
    std::vector<size_t> offsets;
    for (const auto& [svc, share] : copies) {
      std::error_code ec;
      std::string log = PodLogPath(want_ns, svc);
      offsets.push_back(fs::exists(log, ec) ? fs::file_size(log, ec) : 0);
    }
    std::map<std::string, int> counts;
    std::string failed;
    bool sessions = r.session_cookie || r.session_header;
    std::string session;  // X10: started by the first sample's answer, carried by the others
    std::string session_backend;
    for (int i = 0; i < r.samples && failed.empty(); ++i) {
      if (Interrupted()) return "interrupted";
      std::string answered;
      std::string d = TryOnce(r, false, &answered, sessions ? &session : nullptr);
      if (!d.empty()) {
        failed = absl::StrCat("sample ", i + 1, ": ", d);
      } else if (sessions && session.empty()) {
        failed = absl::StrCat("sample ", i + 1, ": the answer started no session (",
                              r.session_cookie ? "cookie " : "header ",
                              r.session_cookie.value_or(r.session_header.value_or("")), ")");
      } else if (sessions && i > 0 && answered != session_backend) {
        failed = absl::StrCat("sample ", i + 1, " carried the session ", session_backend,
                              " started and was answered by ", answered);
      }
      if (i == 0) session_backend = answered;
      ++counts[answered];
    }
    if (failed.empty() && !r.expect.weights.empty()) {
      failed = CheckShares(r.expect.weights, counts, r.samples, r.expect.tolerance, false, true);
    }
    if (failed.empty() && !copies.empty()) {
      std::map<std::string, int> mirrored;
      for (size_t i = 0; i < copies.size(); ++i) {
        std::string log = PodLogPath(want_ns, copies[i].first);
        // Late copies: wait until the count stops growing (bounded).
        int n = CountLogged(log, offsets[i], path);
        absl::Time deadline = absl::Now() + kMirrorWait;
        for (;;) {
          if (!SleepUnlessInterrupted(absl::Milliseconds(500))) return "interrupted";
          int again = CountLogged(log, offsets[i], path);
          if (again == n || absl::Now() > deadline) break;
          n = again;
        }
        mirrored[copies[i].first] = n;
      }
      // A plain mirror gets every copy: no tolerance below 100%.
      for (const std::string& m : r.expect.mirror) {
        if (mirrored[m] < r.samples) {
          failed = absl::StrCat("mirror ", m, " saw ", mirrored[m], " of ", r.samples, " requests");
        }
      }
      if (failed.empty() && !r.expect.mirror_shares.empty()) {
        failed = CheckShares(r.expect.mirror_shares, mirrored, r.samples, r.expect.tolerance, true,
                             false);
        if (!failed.empty()) failed = "mirrored: " + failed;
      }
    }
    if (failed.empty()) return "";
    last = absl::StrCat(
        failed, r.attempts > 1 ? absl::StrCat(" (attempt ", attempt, " of ", r.attempts, ")") : "");
    spdlog::info("{}", last);
  }
  return last;
}

}  // namespace xgate::conformance
