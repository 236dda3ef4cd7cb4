// What an operator runs against a node, from a test: commands (xgatectl, bpftool) with their
// output, the agent's /metrics over HTTP inside a namespace, parsed Prometheus samples.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace xgate::e2e {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

// Runs `cmd` with sh from the calling thread's namespaces, output captured.
CommandResult RunCommand(const std::string& cmd);

// GET http://127.0.0.1:port/path from inside the network namespace `netns` (a thread of
// its own goes there); the response body, or "" on any failure (3 s at most).
std::string HttpGetInNs(const std::string& netns, uint16_t port, const std::string& path);

// One Prometheus sample: its labels. "name{a=\"x\",b=\"y\"} value" -> ({a:x, b:y}, value).
using Labels = std::map<std::string, std::string>;
// The samples of metric `name` in the text exposition format, keyed by their labels.
std::map<Labels, double> Samples(const std::string& text, const std::string& name);

// Sends `count` UDP datagrams to address:port from the calling thread's namespace; how many
// were sent.
int SendUdp(const std::string& address, uint16_t port, int count);

// The port after "metrics on http://HOST:" in an agent's log; 0 when not logged.
uint16_t LoggedMetricsPort(const std::string& log);

}  // namespace xgate::e2e
