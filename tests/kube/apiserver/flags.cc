#include "tests/kube/apiserver/flags.h"

#include <absl/strings/numbers.h>

#include "tools/version/command_line.h"

namespace xgate::kubetest {

void AddFlags(CLI::App& app, Flags& f) {
  app.description(
      "The Kubernetes API server xgate's Kubernetes-mode tests talk to (HTTPS, tokens, RBAC, "
      "discovery, list/watch, status). Writes DIR/server.url once it serves.");
  app.add_option("--dir", f.dir, "CA, certificate, tokens, kubeconfigs and server.url")
      ->type_name("DIR")
      ->required();
  app.add_option_function<std::string>(
         "--listen",
         [&f](const std::string& v) {
           auto colon = v.rfind(':');
           f.host = v.substr(0, colon);
           if (f.host.size() > 1 && f.host.front() == '[') {
             f.host = f.host.substr(1, f.host.size() - 2);
           }
           (void)absl::SimpleAtoi(v.substr(colon + 1), &f.port);
         },
         "Listen here; port 0: any free port (default 127.0.0.1:0)")
      ->type_name("HOST:PORT")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            auto colon = v.rfind(':');
            int port = 0;
            if (colon == std::string::npos || !absl::SimpleAtoi(v.substr(colon + 1), &port) ||
                port < 0 || port > 65535) {
              return "HOST:PORT with a port 0-65535, got " + v;
            }
            return "";
          },
          "", ""));
  app.add_option("--token-file", f.token_file, "Tokens (CSV); default DIR/tokens.csv, made once")
      ->type_name("FILE");
  app.add_option("--state", f.state, "Loaded at start when present, saved on SIGTERM")
      ->type_name("FILE");
  app.add_option("--preload", f.preload, "Created as admin at start (repeatable)")
      ->type_name("FILE|DIR")
      ->allow_extra_args(false);
  app.add_option("--san", f.sans, "One more certificate name (repeatable)")
      ->type_name("HOST")
      ->allow_extra_args(false);
  app.add_option("--history", f.history, "Watch events kept")
      ->type_name("N")
      ->capture_default_str();
  app.add_option_function<int64_t>(
         "--bookmark-interval-ms",
         [&f](int64_t n) { f.bookmark_interval = std::chrono::milliseconds(n); },
         "Between watch BOOKMARK events (default 5000)")
      ->type_name("N");
  app.add_option_function<int64_t>(
         "--watch-timeout-seconds", [&f](int64_t n) { f.watch_timeout = std::chrono::seconds(n); },
         "A watch without timeoutSeconds ends after N (default 1800)")
      ->type_name("N");
  app.add_option("--threads", f.threads, "Connections served at once")
      ->type_name("N")
      ->capture_default_str();
  cli::AddVersionFlag(app);
}

}  // namespace xgate::kubetest
