#include "tools/echo/echo.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"

namespace xgate::echo {

namespace {

std::string CertificatePem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(size > 0 ? size : 0));
  BIO_free(bio);
  return out;
}

}  // namespace

std::string SubjectText(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(size > 0 ? size : 0));
  BIO_free(bio);
  return out;
}

nlohmann::json TlsJson(const SSL* ssl) {
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  nlohmann::json out = {
      {"version", SSL_get_version(ssl)},
      {"serverName", sni ? sni : ""},
      {"negotiatedProtocol",
       alpn ? std::string(reinterpret_cast<const char*>(alpn), alpn_len) : std::string()},
      {"cipherSuite", SSL_CIPHER_get_name(SSL_get_current_cipher(ssl))}};
  // The client's certificate (leaf first, then the chain it sent), as upstream's echo lists
  // its peer certificates; the leaf's subject beside it.
  if (X509* leaf = SSL_get1_peer_certificate(ssl)) {
    nlohmann::json pems = nlohmann::json::array({CertificatePem(leaf)});
    out["peerCertificateSubject"] = SubjectText(leaf);
    X509_free(leaf);
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {  // a server's excludes the leaf
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        pems.push_back(CertificatePem(sk_X509_value(chain, i)));
      }
    }
    out["peerCertificates"] = std::move(pems);
  }
  return out;
}

nlohmann::json EchoJson(const Message& req, absl::string_view ns, absl::string_view pod,
                        const SSL* ssl) {
  nlohmann::json headers = nlohmann::json::object();
  std::string host;
  for (const Header& h : req.headers) {
    if (HeaderNameEquals(h.name, "Host")) {
      if (host.empty()) host = h.value;
      continue;
    }
    headers[CanonicalHeaderKey(h.name)].push_back(h.value);
  }
  nlohmann::json out = {{"path", req.second}, {"host", host},       {"method", req.first},
                        {"proto", req.third}, {"headers", headers}, {"namespace", ns},
                        {"pod", pod}};
  if (ssl != nullptr) out["tls"] = TlsJson(ssl);
  return out;
}

Headers ParseEchoSetHeader(absl::string_view value) {
  Headers out;
  for (absl::string_view pair : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    size_t colon = pair.find(':');
    if (colon == absl::string_view::npos) continue;
    std::string name(absl::StripAsciiWhitespace(pair.substr(0, colon)));
    std::string val(absl::StripAsciiWhitespace(pair.substr(colon + 1)));
    if (name.empty()) continue;
    bool merged = false;
    for (Header& h : out) {
      if (HeaderNameEquals(h.name, name)) {
        h.value += "," + val;
        merged = true;
        break;
      }
    }
    if (!merged) out.push_back({name, val});
  }
  return out;
}

std::optional<std::string> QueryParam(absl::string_view target, absl::string_view key) {
  size_t q = target.find('?');
  if (q == absl::string_view::npos) return std::nullopt;
  absl::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  for (absl::string_view kv : absl::StrSplit(query, '&')) {
    size_t eq = kv.find('=');
    absl::string_view k = kv.substr(0, eq);
    if (k != key) continue;
    return std::string(eq == absl::string_view::npos ? "" : kv.substr(eq + 1));
  }
  return std::nullopt;
}

absl::StatusOr<absl::Duration> RequestDelay(absl::string_view target) {
  std::optional<std::string> v = QueryParam(target, "delay");
  if (!v.has_value()) return absl::ZeroDuration();
  absl::Duration d;
  if (!absl::ParseDuration(*v, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("bad delay: ", *v));
  }
  return d;
}

std::string EchoResponse(const Message& req, absl::string_view ns, absl::string_view pod,
                         bool keep_alive, const SSL* ssl) {
  std::string body = EchoJson(req, ns, pod, ssl).dump();
  std::string out = absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
                                 "Content-Length: ", body.size(), "\r\n");
  bool found = false;
  std::string set = JoinedHeader(req.headers, "X-Echo-Set-Header", &found);
  if (found) {
    for (const Header& h : ParseEchoSetHeader(set))
      absl::StrAppend(&out, h.name, ": ", h.value, "\r\n");
  }
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (req.first != "HEAD") out += body;
  return out;
}

std::optional<FailRequest> ParseEchoFail(absl::string_view value) {
  std::vector<std::string> parts = absl::StrSplit(value, absl::MaxSplits(':', 2));
  FailRequest f;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &f.count) ||
      !absl::SimpleAtoi(parts[1], &f.status) || f.count < 0 || f.status < 100 || f.status > 599 ||
      parts[2].empty()) {
    return std::nullopt;
  }
  f.key = parts[2];
  return f;
}

std::string WebSocketAccept(absl::string_view key) {
  std::string text = absl::StrCat(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

bool IsWebSocketUpgrade(const Message& req) {
  std::string connection = absl::AsciiStrToLower(JoinedHeader(req.headers, "Connection"));
  std::string upgrade = absl::AsciiStrToLower(JoinedHeader(req.headers, "Upgrade"));
  return absl::StrContains(connection, "upgrade") && absl::StrContains(upgrade, "websocket");
}

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(absl::string_view addr) {
  size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(addr.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("want ADDR:PORT, got ", addr));
  }
  std::string host(addr.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  return std::make_pair(host, port);
}

namespace {

absl::StatusOr<int> BindSocket(absl::string_view addr, int type, int* bound_port) {
  absl::StatusOr<std::pair<std::string, int>> hp = SplitHostPort(addr);
  if (!hp.ok()) return hp.status();
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  if (hp->first.find(':') != std::string::npos) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(hp->second);
    if (inet_pton(AF_INET6, hp->first.c_str(), &s6->sin6_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad address ", addr));
    }
    len = sizeof *s6;
    family = AF_INET6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(hp->second);
    if (inet_pton(AF_INET, hp->first.c_str(), &s4->sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad address ", addr));
    }
    len = sizeof *s4;
    family = AF_INET;
  }
  int fd = socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      (type == SOCK_STREAM && listen(fd, 512) != 0)) {
    std::string err = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(absl::StrCat("bind ", addr, ": ", err));
  }
  sockaddr_storage got{};
  socklen_t got_len = sizeof got;
  getsockname(fd, reinterpret_cast<sockaddr*>(&got), &got_len);
  *bound_port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&got)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&got)->sin6_port);
  return fd;
}

bool KeepAlive(const Message& req) {
  std::string conn = absl::AsciiStrToLower(JoinedHeader(req.headers, "Connection"));
  if (req.third == "HTTP/1.0") return absl::StrContains(conn, "keep-alive");
  return !absl::StrContains(conn, "close");
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

EchoServer::~EchoServer() {
  for (int fd : tcp_fds_) close(fd);
  for (int fd : udp_fds_) close(fd);
  for (int fd : h2c_fds_) close(fd);
  if (log_fd_ >= 0) close(log_fd_);
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

absl::Status EchoServer::Start() {
  // TLS writes go through write(2), which raises SIGPIPE when a peer has gone.
  signal(SIGPIPE, SIG_IGN);
  if (config_.tls_cert.empty() != config_.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!config_.tls_cert.empty()) {
    tls_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(tls_, config_.tls_cert.c_str()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("cannot load certificate ", config_.tls_cert));
    }
    if (SSL_CTX_use_PrivateKey_file(tls_, config_.tls_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(tls_) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("cannot load key ", config_.tls_key));
    }
    if (!config_.tls_client_ca.empty()) {
      // mTLS: a client must present a certificate that chains to one of these CAs.
      if (SSL_CTX_load_verify_locations(tls_, config_.tls_client_ca.c_str(), nullptr) != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot load client CA certificates ", config_.tls_client_ca));
      }
      SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
  } else if (!config_.tls_client_ca.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (!config_.log_path.empty()) {
    log_fd_ = open(config_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd_ < 0) return absl::UnavailableError(absl::StrCat("cannot open ", config_.log_path));
  }
  for (const std::string& a : config_.listen) {
    int port = 0;
    absl::StatusOr<int> fd = BindSocket(a, SOCK_STREAM, &port);
    if (!fd.ok()) return fd.status();
    tcp_fds_.push_back(*fd);
    tcp_ports_.push_back(port);
  }
  for (const std::string& a : config_.h2c) {
    int port = 0;
    absl::StatusOr<int> fd = BindSocket(a, SOCK_STREAM, &port);
    if (!fd.ok()) return fd.status();
    h2c_fds_.push_back(*fd);
    h2c_ports_.push_back(port);
  }
  if (!config_.grpc.empty()) {
    GrpcEchoOptions options{config_.grpc, config_.ns, config_.pod, "", "", {}};
    options.log = [this](const Message& request) { Log(request); };
    if (!config_.tls_cert.empty()) {
      options.tls_cert_pem = ReadWholeFile(config_.tls_cert);
      options.tls_key_pem = ReadWholeFile(config_.tls_key);
      if (!config_.tls_client_ca.empty()) {
        options.tls_client_ca_pem = ReadWholeFile(config_.tls_client_ca);
      }
    }
    absl::StatusOr<std::unique_ptr<GrpcEcho>> grpc = GrpcEcho::Start(options);
    if (!grpc.ok()) return grpc.status();
    grpc_ = std::move(*grpc);
  }
  for (const std::string& a : config_.udp) {
    int port = 0;
    absl::StatusOr<int> fd = BindSocket(a, SOCK_DGRAM, &port);
    if (!fd.ok()) return fd.status();
    udp_fds_.push_back(*fd);
  }
  if (!config_.ready_file.empty()) {
    std::ofstream(config_.ready_file) << "ready\n";
  }
  return absl::OkStatus();
}

void EchoServer::Serve() {
  std::vector<std::thread> loops;
  for (int fd : tcp_fds_) loops.emplace_back([this, fd] { AcceptLoop(fd, false); });
  for (int fd : h2c_fds_) loops.emplace_back([this, fd] { AcceptLoop(fd, true); });
  for (int fd : udp_fds_) loops.emplace_back([this, fd] { UdpLoop(fd); });
  for (std::thread& t : loops) t.join();
  if (grpc_) grpc_->Wait();
}

void EchoServer::AcceptLoop(int lfd, bool h2c) {
  for (;;) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      spdlog::error("accept: {}", std::strerror(errno));
      return;
    }
    std::thread([this, fd, h2c] {
      if (h2c) {
        HandleH2cConnection(fd);
      } else {
        HandleConnection(fd);
      }
    }).detach();
  }
}

void EchoServer::UdpLoop(int fd) {
  std::string answer = nlohmann::json{{"namespace", config_.ns}, {"pod", config_.pod}}.dump();
  char buf[65536];
  for (;;) {
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("recvfrom: {}", std::strerror(errno));
      return;
    }
    sendto(fd, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

void EchoServer::HandleConnection(int fd) {
  timeval tv{.tv_sec = 120, .tv_usec = 0};  // an idle keep-alive connection ends after this
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  SSL* ssl = nullptr;
  if (tls_ != nullptr) {
    ssl = SSL_new(tls_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      SSL_free(ssl);
      close(fd);
      return;
    }
  }
  Stream s(fd, ssl);
  for (;;) {
    absl::StatusOr<Message> req = ReadHead(s);
    if (!req.ok()) return;
    if (absl::Status st = ReadBody(s, *req, false); !st.ok()) {
      s.WriteAll("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
          .IgnoreError();
      return;
    }
    Log(*req);
    absl::StatusOr<absl::Duration> delay = RequestDelay(req->second);
    if (!delay.ok()) {
      s.WriteAll("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
          .IgnoreError();
      return;
    }
    if (*delay > absl::ZeroDuration()) absl::SleepFor(*delay);
    if (IsWebSocketUpgrade(*req)) {
      ServeWebSocket(s, *req);
      return;
    }
    bool keep = KeepAlive(*req);
    std::string response = EchoResponse(*req, config_.ns, config_.pod, keep, ssl);
    bool fail_found = false;
    std::string fail_header = JoinedHeader(req->headers, "X-Echo-Fail", &fail_found);
    if (std::optional<FailRequest> fail = ParseEchoFail(fail_header); fail_found && fail) {
      int attempt = CountAttempt(fail->key);
      std::string attempt_header = absl::StrCat("X-Echo-Attempt: ", attempt, "\r\n");
      if (attempt <= fail->count) {  // a body that is not an echo answer
        response = absl::StrCat("HTTP/1.1 ", fail->status, " Failing\r\n", attempt_header,
                                "Content-Length: 17\r\n", keep ? "" : "Connection: close\r\n",
                                "\r\nfailing as asked\n");
      } else {
        response.insert(response.find("\r\n") + 2, attempt_header);
      }
    }
    if (!s.WriteAll(response).ok() || !keep) {
      s.Shutdown();
      return;
    }
  }
}

int EchoServer::CountAttempt(const std::string& key) {
  std::lock_guard<std::mutex> lock(attempts_mu_);
  return ++attempts_[key];
}

void EchoServer::ServeWebSocket(Stream& s, const Message& req) {
  std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  bool found = false;
  std::string key = JoinedHeader(req.headers, "Sec-WebSocket-Key", &found);
  if (found) absl::StrAppend(&head, "Sec-WebSocket-Accept: ", WebSocketAccept(key), "\r\n");
  absl::StrAppend(&head, "\r\n", EchoJson(req, config_.ns, config_.pod).dump(), "\n");
  if (!s.WriteAll(head).ok()) return;
  for (;;) {
    absl::StatusOr<std::string> bytes = s.ReadSome(64 * 1024);
    if (!bytes.ok() || bytes->empty() || !s.WriteAll(*bytes).ok()) break;
  }
  s.Shutdown();
}

void EchoServer::Log(const Message& req) {
  if (log_fd_ < 0) return;
  nlohmann::json line = EchoJson(req, config_.ns, config_.pod);
  line["time"] = absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone());
  std::string text = line.dump() + "\n";
  std::lock_guard<std::mutex> lock(log_mu_);
  // One write per line with O_APPEND, so a reader never sees half a line from us.
  if (write(log_fd_, text.data(), text.size()) < 0) spdlog::warn("log write failed");
}

}  // namespace xgate::echo
