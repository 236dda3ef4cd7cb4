// xgate-h2load: HTTP/2 load that survives a server's graceful restart (see h2_load_client.h).
// Prints its counts as one JSON object; exits 0 when every request was answered 2xx (none
// failed, no connect error), 1 otherwise.
#include <csignal>
#include <iostream>
#include <string>

#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"
#include "tools/h2load/h2_load_client.h"
#include "tools/version/command_line.h"

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  xgate::h2load::LoadOptions options;
  int64_t duration_s = 10;
  bool h2c = false;
  CLI::App app(
      "Closed-loop HTTP/2 GET load that retries, on a new connection, the streams a server "
      "refused or left above its GOAWAY's last-stream-id, and counts true failures only.",
      "xgate-h2load");
  xgate::cli::AddVersionFlag(app);
  app.add_option("--address", options.address, "IP address to connect to")->required();
  app.add_option("--port", options.port, "port")->capture_default_str();
  app.add_option("--authority", options.authority, ":authority and TLS SNI")->required();
  app.add_option("--path", options.path, ":path")->capture_default_str();
  app.add_flag("--h2c", h2c, "cleartext HTTP/2 (prior knowledge) instead of TLS with ALPN h2");
  app.add_option("-c,--connections", options.connections, "connections kept open")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("-m,--streams", options.streams, "concurrent streams per connection")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("-D,--duration", duration_s, "seconds of load")
      ->check(CLI::Range(1, 24 * 3600))
      ->capture_default_str();
  if (auto code = xgate::cli::Parse(app, argc, argv)) return *code;
  options.tls = !h2c;
  options.duration = std::chrono::seconds(duration_s);

  absl::StatusOr<xgate::h2load::LoadResult> result = xgate::h2load::RunLoad(options);
  if (!result.ok()) {
    spdlog::error("{}", result.status().ToString());
    return xgate::cli::kUsageError;
  }
  nlohmann::json out = {
      {"completed", result->completed},     {"ok_2xx", result->ok_2xx},
      {"non_2xx", result->non_2xx},         {"failed", result->failed},
      {"retried", result->retried},         {"goaways", result->goaways},
      {"connections", result->connections}, {"connect_errors", result->connect_errors},
      {"errors", result->errors},           {"seconds", result->seconds},
  };
  std::cout << out.dump() << std::endl;
  bool clean = result->completed > 0 && result->ok_2xx == result->completed &&
               result->failed == 0 && result->connect_errors == 0;
  return clean ? 0 : 1;
}
