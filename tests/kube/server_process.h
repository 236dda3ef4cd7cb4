// Runs xgate-test-apiserver as a child for a test: a fresh folder, deploy/ preloaded (CRDs and
// the agent's RBAC), HTTPS clients with its CA and tokens, SIGTERM and restart on the same port.
#pragma once

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace xgate::kubetest {

inline constexpr auto kDeadline = std::chrono::seconds(30);

class ServerProcess {
 public:
  // `extra`: more flags, e.g. {"--preload", XGATE_DEPLOY_DIR}.
  explicit ServerProcess(std::vector<std::string> extra = {});
  ~ServerProcess();

  bool Ready() const { return !url_.empty(); }
  const std::filesystem::path& Dir() const { return dir_; }
  const std::string& Url() const { return url_; }
  std::string Token(const std::string& user) const;  // "admin" or "agent"
  std::filesystem::path Kubeconfig(const std::string& user) const;

  // SIGTERM, then the exit status (-1 when it did not exit within the deadline).
  int Stop();
  // Starts again on the same port with the same folder (CA, tokens, --state).
  bool Restart();

  // An HTTPS client that trusts the server's CA and sends `token` (none when empty).
  std::unique_ptr<httplib::SSLClient> Client(const std::string& token) const;

 private:
  bool Start(const std::vector<std::string>& args);

  std::filesystem::path dir_;
  std::vector<std::string> args_;
  std::string url_;
  int pid_ = -1;
};

// One request as `token`: status code and parsed body (null when not JSON).
struct Reply {
  int status = 0;
  nlohmann::json body;
};
Reply Call(const ServerProcess& server, const std::string& token, const std::string& method,
           const std::string& path, const nlohmann::json& body = nullptr,
           const std::string& content_type = "application/json");

// Runs a shell command; its exit status and combined output.
struct Command {
  int status = -1;
  std::string output;
};
Command RunCommand(const std::string& command);

}  // namespace xgate::kubetest
