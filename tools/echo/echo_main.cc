// xgate-echo: the conformance echo backend (see echo.h).
#include <csignal>
#include <string>

#include "spdlog/spdlog.h"
#include "tools/echo/echo.h"
#include "tools/version/command_line.h"

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  xgate::echo::EchoConfig cfg;
  CLI::App app(
      "The conformance echo backend: answers each HTTP request with what it received, as JSON, "
      "and echoes UDP datagrams.",
      "xgate-echo");
  app.add_option("--listen", cfg.listen, "Serve HTTP (HTTPS with --tls-cert) here; repeatable")
      ->type_name("ADDR:PORT")
      ->allow_extra_args(false);
  app.add_option("--h2c", cfg.h2c,
                 "Serve HTTP/2 cleartext with prior knowledge (h2c) here; repeatable")
      ->type_name("ADDR:PORT")
      ->allow_extra_args(false);
  app.add_option("--grpc", cfg.grpc,
                 "Serve the conformance GrpcEcho service (gRPC, TLS with --tls-cert) here; "
                 "repeatable")
      ->type_name("ADDR:PORT")
      ->allow_extra_args(false);
  app.add_option("--udp", cfg.udp, "Echo UDP datagrams here; repeatable")
      ->type_name("ADDR:PORT")
      ->allow_extra_args(false);
  auto* cert =
      app.add_option("--tls-cert", cfg.tls_cert, "TLS certificate (PEM)")->type_name("FILE");
  auto* key = app.add_option("--tls-key", cfg.tls_key, "TLS key (PEM)")->type_name("FILE");
  auto* client_ca = app.add_option("--tls-client-ca", cfg.tls_client_ca,
                                   "Require a client certificate that chains to these CA "
                                   "certificates (PEM), and report it in the JSON's tls")
                        ->type_name("FILE");
  cert->needs(key);
  key->needs(cert);
  client_ca->needs(cert);
  app.add_option("--namespace", cfg.ns, "The namespace it reports")->type_name("NS");
  app.add_option("--pod", cfg.pod, "The pod name it reports")->type_name("NAME");
  app.add_option("--log", cfg.log_path, "Append each request here")->type_name("FILE");
  app.add_option("--ready-file", cfg.ready_file, "Written once it serves")->type_name("FILE");
  app.final_callback([&] {
    if (cfg.listen.empty() && cfg.udp.empty() && cfg.h2c.empty() && cfg.grpc.empty()) {
      throw CLI::ValidationError("--listen/--h2c/--grpc/--udp",
                                 "at least one --listen, --h2c, --grpc or --udp is required");
    }
  });
  xgate::cli::AddVersionFlag(app);
  if (auto exit_code = xgate::cli::Parse(app, argc, argv)) return *exit_code;
  xgate::echo::EchoServer server(cfg);
  if (absl::Status st = server.Start(); !st.ok()) {
    spdlog::error("xgate-echo: {}", st.ToString());
    return 1;
  }
  spdlog::info("xgate-echo {} ({}) serving", cfg.pod, cfg.ns);
  server.Serve();
  return 0;
}
