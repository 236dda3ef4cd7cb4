#include "tests/e2e_agent_l4/agent_process.h"

#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "tests/netns/netns.h"

namespace xgate::e2e {

using Clock = std::chrono::steady_clock;

std::unique_ptr<AgentProcess> AgentProcess::Start(const std::string& netns,
                                                  const std::vector<std::string>& args,
                                                  const std::filesystem::path& log) {
  // Everything the child needs is prepared here: between fork and exec it only makes
  // system calls.
  int ns_fd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0) return nullptr;
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    close(ns_fd);
    return nullptr;
  }
  std::vector<std::string> argv_storage = args;
  argv_storage.insert(argv_storage.begin(), XGATE_AGENT_PATH);
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Dies with the test, so a crashed test leaves no agent behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    if (setns(ns_fd, CLONE_NEWNET) != 0) _exit(125);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    // Stop signals as the agent expects to find them: default disposition, unblocked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(ns_fd);
  close(log_fd);
  if (pid < 0) return nullptr;
  return std::unique_ptr<AgentProcess>(new AgentProcess(pid));
}

AgentProcess::~AgentProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool AgentProcess::Signal(int sig) const { return pid_ > 0 && kill(pid_, sig) == 0; }

int AgentProcess::WaitForExit() { return e2e::WaitForExit(pid_, kDeadline); }

AdminClient::AdminClient(const std::string& socket_path) : socket_path_(socket_path) {
  Reconnect();
}

// A fresh channel: one that failed while the agent was not listening yet would wait out
// gRPC's reconnect backoff first.
void AdminClient::Reconnect() {
  stub_ = api::Admin::NewStub(
      grpc::CreateChannel("unix:" + socket_path_, grpc::InsecureChannelCredentials()));
}

std::optional<api::GetStateResponse> AdminClient::State() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  api::GetStateResponse response;
  if (!stub_->GetState(&context, api::GetStateRequest(), &response).ok()) return std::nullopt;
  return response;
}

std::optional<api::GetSnapshotResponse> AdminClient::Snapshot() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  api::GetSnapshotResponse response;
  if (!stub_->GetSnapshot(&context, api::GetSnapshotRequest(), &response).ok()) {
    return std::nullopt;
  }
  return response;
}

uint64_t AdminClient::WaitApplied(uint64_t after) {
  for (auto end = Clock::now() + kDeadline; Clock::now() < end;) {
    auto state = State();
    if (state && state->generation() > after && state->last_error().empty()) {
      return state->generation();
    }
    if (!state) Reconnect();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

}  // namespace xgate::e2e
