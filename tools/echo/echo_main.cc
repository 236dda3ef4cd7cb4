// xgate-echo: the conformance echo backend (see echo.h).
#include <csignal>
#include <string>

#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"
#include "tools/echo/echo.h"

namespace {

constexpr char kUsage[] =
    "usage: xgate-echo --listen ADDR:PORT... [--udp ADDR:PORT]... [--tls-cert FILE --tls-key "
    "FILE]\n"
    "                  [--namespace NS] [--pod NAME] [--log FILE] [--ready-file FILE]\n";

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  xgate::echo::EchoConfig cfg;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    bool ok = true;
    if (a == "--listen") {
      ok = value(&v);
      cfg.listen.push_back(v);
    } else if (a == "--udp") {
      ok = value(&v);
      cfg.udp.push_back(v);
    } else if (a == "--tls-cert") {
      ok = value(&cfg.tls_cert);
    } else if (a == "--tls-key") {
      ok = value(&cfg.tls_key);
    } else if (a == "--namespace") {
      ok = value(&cfg.ns);
    } else if (a == "--pod") {
      ok = value(&cfg.pod);
    } else if (a == "--log") {
      ok = value(&cfg.log_path);
    } else if (a == "--ready-file") {
      ok = value(&cfg.ready_file);
    } else if (a == "-h" || a == "--help") {
      fputs(kUsage, stdout);
      return 0;
    } else {
      ok = false;
    }
    if (!ok) {
      fprintf(stderr, "xgate-echo: bad argument %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (cfg.listen.empty() && cfg.udp.empty()) {
    fputs(kUsage, stderr);
    return 2;
  }
  xgate::echo::EchoServer server(cfg);
  if (absl::Status st = server.Start(); !st.ok()) {
    spdlog::error("xgate-echo: {}", st.ToString());
    return 1;
  }
  spdlog::info("xgate-echo {} ({}) serving", cfg.pod, cfg.ns);
  server.Serve();
  return 0;
}
