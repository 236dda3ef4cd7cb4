#include "tests/kube/server_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <thread>

#include "tests/netns/netns.h"

namespace xgate::kubetest {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> extra) {
  char tmpl[] = "/tmp/xgate-kubetest.XXXXXX";
  dir_ = mkdtemp(tmpl);
  args_ = {
      XGATE_TEST_APISERVER_PATH, "--dir", dir_.string(), "--state", (dir_ / "state.json").string(),
      "--bookmark-interval-ms",  "200"};
  args_.insert(args_.end(), extra.begin(), extra.end());
  Start(args_);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

bool ServerProcess::Start(const std::vector<std::string>& args) {
  fs::remove(dir_ / "server.url");
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open((dir_ / "server.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  url_.clear();
  for (auto end = std::chrono::steady_clock::now() + kDeadline;
       std::chrono::steady_clock::now() < end;) {
    if (fs::exists(dir_ / "server.url")) {
      url_ = Slurp(dir_ / "server.url");
      return true;
    }
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  return e2e::WaitForExit(pid_, kDeadline);
}

bool ServerProcess::Restart() {
  std::string port = url_.substr(url_.rfind(':') + 1);
  auto args = args_;
  args.insert(args.end(), {"--listen", "127.0.0.1:" + port});
  return Start(args);
}

std::string ServerProcess::Token(const std::string& user) const {
  return Slurp(dir_ / (user + ".token"));
}

fs::path ServerProcess::Kubeconfig(const std::string& user) const {
  return dir_ / (user + ".kubeconfig");
}

std::unique_ptr<httplib::SSLClient> ServerProcess::Client(const std::string& token) const {
  std::string hostport = url_.substr(std::string("https://").size());
  auto colon = hostport.rfind(':');
  auto client = std::make_unique<httplib::SSLClient>(hostport.substr(0, colon),
                                                     std::stoi(hostport.substr(colon + 1)));
  client->set_ca_cert_path((dir_ / "ca.crt").c_str());
  client->enable_server_certificate_verification(true);
  if (!token.empty()) client->set_bearer_token_auth(token.c_str());
  client->set_read_timeout(10, 0);
  return client;
}

Reply Call(const ServerProcess& server, const std::string& token, const std::string& method,
           const std::string& path, const json& body, const std::string& content_type) {
  auto client = server.Client(token);
  std::string text = body.is_null() ? "" : body.dump();
  httplib::Result r = method == "GET"     ? client->Get(path.c_str())
                      : method == "POST"  ? client->Post(path.c_str(), text, content_type.c_str())
                      : method == "PUT"   ? client->Put(path.c_str(), text, content_type.c_str())
                      : method == "PATCH" ? client->Patch(path.c_str(), text, content_type.c_str())
                                          : client->Delete(path.c_str());
  if (!r) return {};
  return {r->status, json::parse(r->body, nullptr, false)};
}

Command RunCommand(const std::string& command) {
  Command c;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return c;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) c.output.append(buf.data(), n);
  int status = pclose(p);
  c.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return c;
}

}  // namespace xgate::kubetest
