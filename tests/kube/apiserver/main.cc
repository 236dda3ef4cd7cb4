// xgate-test-apiserver: a Kubernetes API server for tests (see README.md beside this file).
#include <absl/strings/str_cat.h>
#include <httplib.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <thread>

#include "tests/kube/apiserver/certs.h"
#include "tests/kube/apiserver/flags.h"
#include "tests/kube/apiserver/http_api.h"
#include "tests/kube/apiserver/preload.h"
#include "tools/version/command_line.h"

namespace fs = std::filesystem;
using namespace xgate::kubetest;

namespace {

std::string RandomToken() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 32; ++i) out += "0123456789abcdef"[rd() % 16];
  return out;
}

// dir/tokens.csv with an admin (system:masters) and the agent's service account, made once
// so a restarted server keeps the tokens its clients hold.
void EnsureTokens(const Flags& flags) {
  if (!flags.token_file.empty() || fs::exists(flags.dir / "tokens.csv")) return;
  std::string admin = RandomToken(), agent = RandomToken();
  std::ofstream(flags.dir / "tokens.csv")
      << admin << ",admin,admin,\"system:masters\"\n"
      << agent << ",system:serviceaccount:xgate-system:xgate-agent,xgate-agent-uid,"
      << "\"system:serviceaccounts,system:serviceaccounts:xgate-system\"\n";
  std::ofstream(flags.dir / "admin.token") << admin;
  std::ofstream(flags.dir / "agent.token") << agent;
}

std::string ReadToken(const fs::path& file) {
  std::ifstream in(file);
  std::string token;
  in >> token;
  return token;
}

}  // namespace

int main(int argc, char** argv) {
  Flags parsed;
  CLI::App app("", "xgate-test-apiserver");
  AddFlags(app, parsed);
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;
  if (parsed.history == 0) parsed.history = 1;
  const Flags* flags = &parsed;
  signal(SIGPIPE, SIG_IGN);

  fs::create_directories(flags->dir);
  std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1", flags->host};
  hosts.insert(hosts.end(), flags->sans.begin(), flags->sans.end());
  if (auto s = MakeCertificates(flags->dir, hosts); !s.ok()) {
    spdlog::error("certificates: {}", std::string(s.message()));
    return 1;
  }
  EnsureTokens(*flags);
  fs::path token_file = flags->token_file.empty() ? flags->dir / "tokens.csv" : flags->token_file;

  Store store(flags->history);
  bool restored = !flags->state.empty() && fs::exists(flags->state);
  if (restored) {
    if (auto s = store.Load(flags->state); !s.ok()) {
      spdlog::error("{}", std::string(s.message()));
      return 1;
    }
    spdlog::info("restored {} at resourceVersion {}", flags->state.string(), store.Head());
  }
  Resources resources(store);
  if (auto s = Bootstrap(resources, flags->preload, restored); !s.ok()) {
    spdlog::error("{}", std::string(s.message()));
    return 1;
  }

  // SIGTERM and SIGINT are taken by sigwait from here on (blocked before any thread starts);
  // until now, while a large preload runs, they end the process at once.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  httplib::SSLServer server((flags->dir / "server.crt").c_str(),
                            (flags->dir / "server.key").c_str());
  if (!server.is_valid()) {
    spdlog::error("cannot load {}/server.{{crt,key}}", flags->dir.string());
    return 1;
  }
  // As kube-apiserver (Go's sockets have TCP_NODELAY): without it, an answer written in parts
  // waits for the client's delayed ACK (~40 ms) behind Nagle.
  server.set_tcp_nodelay(true);
  // As kube-apiserver, a connection serves any number of requests (cpp-httplib closes it after
  // 5 by default): a client that reads 10,000 objects one by one would otherwise make a TLS
  // handshake every 5 requests, and the handshakes, not the requests, would be measured.
  server.set_keep_alive_max_count(std::numeric_limits<size_t>::max());
  size_t threads = flags->threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  int port = flags->port;
  if (port == 0) {
    port = server.bind_to_any_port(flags->host);
  } else if (!server.bind_to_port(flags->host, port)) {
    port = -1;
  }
  if (port <= 0) {
    spdlog::error("cannot listen on {}:{}", flags->host, flags->port);
    return 1;
  }
  std::string host =
      flags->host.find(':') != std::string::npos ? "[" + flags->host + "]" : flags->host;
  std::string address = absl::StrCat(host, ":", port);
  std::string url = "https://" + address;
  TokenFile tokens(token_file);
  HttpApi api(store, tokens, {address, flags->bookmark_interval, flags->watch_timeout});
  api.Register(server);

  for (const char* user : {"admin", "agent"}) {
    fs::path token = flags->dir / absl::StrCat(user, ".token");
    if (!fs::exists(token)) continue;
    auto s = WriteKubeconfig(flags->dir / absl::StrCat(user, ".kubeconfig"), url,
                             flags->dir / "ca.crt", user, ReadToken(token));
    if (!s.ok()) {
      spdlog::error("{}", std::string(s.message()));
      return 1;
    }
  }
  // Written last: once it exists, the server accepts connections and the kubeconfigs are there.
  std::ofstream(flags->dir / "server.url.tmp") << url << "\n";
  fs::rename(flags->dir / "server.url.tmp", flags->dir / "server.url");
  spdlog::info("serving {} (files in {})", url, flags->dir.string());

  std::thread stopper([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: stopping", sig);
    store.Stop();
    server.stop();
  });
  server.listen_after_bind();
  stopper.join();
  if (!flags->state.empty()) {
    if (auto s = store.Save(flags->state); !s.ok()) {
      spdlog::error("{}", std::string(s.message()));
      return 1;
    }
    spdlog::info("saved {} at resourceVersion {}", flags->state.string(), store.Head());
  }
  fs::remove(flags->dir / "server.url");
  return 0;
}
