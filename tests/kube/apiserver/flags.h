// The command line of xgate-test-apiserver.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace xgate::kubetest {

struct Flags {
  std::filesystem::path dir;         // --dir: CA, certificate, tokens, kubeconfigs, server.url
  std::string host = "127.0.0.1";    // --listen HOST:PORT
  int port = 0;                      //   0: any free port (see dir/server.url)
  std::filesystem::path token_file;  // --token-file: else dir/tokens.csv, made once
  std::filesystem::path state;       // --state: loaded at start when present, saved on SIGTERM
  std::vector<std::filesystem::path> preload;  // --preload FILE|DIR: created as admin at start
  std::vector<std::string> sans;               // --san HOST: more certificate names
  size_t history = 10000;                      // --history N: watch events kept
  std::chrono::milliseconds bookmark_interval{5000};  // --bookmark-interval-ms
  std::chrono::seconds watch_timeout{1800};  // --watch-timeout-seconds (without timeoutSeconds)
  size_t threads = 256;                      // --threads: connections served at once
};

// The flags on `app`, written into `flags` when it parses.
void AddFlags(CLI::App& app, Flags& flags);

}  // namespace xgate::kubetest
