#include "tools/conformance/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace xgate::conformance {

// RFC 6455's example key: the echo answers with its Sec-WebSocket-Accept.
constexpr char kWebSocketKey[] = "dGhlIHNhbXBsZSBub25jZQ==";

absl::StatusOr<int> PlainSocket(int domain, int type) {
  int fd = socket(domain, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  return fd;
}

bool MatchHostname(absl::string_view pattern, absl::string_view host) {
  if (absl::EndsWith(host, ".")) host.remove_suffix(1);
  if (absl::EndsWith(pattern, ".")) pattern.remove_suffix(1);
  if (pattern.empty() || host.empty()) return false;
  std::vector<absl::string_view> p = absl::StrSplit(pattern, '.');
  std::vector<absl::string_view> h = absl::StrSplit(host, '.');
  if (p.size() != h.size()) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (i == 0 && p[i] == "*" && !h[i].empty()) continue;
    if (!absl::EqualsIgnoreCase(p[i], h[i])) return false;
  }
  return true;
}

std::string HostWithoutPort(const std::string& host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string::npos ? host : host.substr(1, close - 1);
  }
  size_t colon = host.find(':');
  if (colon == std::string::npos || host.find(':', colon + 1) != std::string::npos) return host;
  return host.substr(0, colon);
}

std::string RequestHost(const Request& r, const std::string& address) {
  std::string host = r.host;
  if (host.empty()) {
    host = address;
    int def = r.scheme == "https" ? 443 : 80;
    if (r.Port() != def) absl::StrAppend(&host, ":", r.Port());
  }
  return host;
}

std::string BuildHttpRequest(const Request& r, const std::string& address) {
  std::string host = RequestHost(r, address);
  std::string out = absl::StrCat(r.method, " ", r.path, " HTTP/1.1\r\nHost: ", host, "\r\n");
  for (const auto& [k, v] : r.headers) absl::StrAppend(&out, k, ": ", v, "\r\n");
  if (!r.backend_response_headers.empty()) {
    std::vector<std::string> pairs;
    for (const auto& [k, v] : r.backend_response_headers) pairs.push_back(absl::StrCat(k, ":", v));
    absl::StrAppend(&out, "X-Echo-Set-Header: ", absl::StrJoin(pairs, ","), "\r\n");
  }
  if (r.backend_failures > 0) {
    static std::atomic<uint64_t> sent{0};
    absl::StrAppend(&out, "X-Echo-Fail: ", r.backend_failures, ":", r.backend_failure_status, ":",
                    getpid(), "-", absl::ToUnixNanos(absl::Now()), "-", ++sent, "\r\n");
  }
  if (r.websocket) {
    absl::StrAppend(&out,
                    "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: ",
                    kWebSocketKey, "\r\n");
  }
  if (r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
    out += "Content-Length: 0\r\n";
  }
  out += "\r\n";
  return out;
}

bool IsIpAddress(const std::string& h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

namespace {

// The server's certificate names `host` (DNS SANs by Go's rule, IP SANs for addresses).
bool CertNamesHost(X509* cert, const std::string& host) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return false;
  bool ok = false;
  unsigned char ip[16];
  int ip_len = 0;
  if (inet_pton(AF_INET, host.c_str(), ip) == 1)
    ip_len = 4;
  else if (inet_pton(AF_INET6, host.c_str(), ip) == 1)
    ip_len = 16;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !ok; ++i) {
    GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (ip_len == 0 && n->type == GEN_DNS) {
      const auto* s = reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName));
      ok = MatchHostname(absl::string_view(s, ASN1_STRING_length(n->d.dNSName)), host);
    } else if (ip_len != 0 && n->type == GEN_IPADD) {
      ok = ASN1_STRING_length(n->d.iPAddress) == ip_len &&
           std::memcmp(ASN1_STRING_get0_data(n->d.iPAddress), ip, ip_len) == 0;
    }
  }
  GENERAL_NAMES_free(names);
  return ok;
}

absl::Status SslError(absl::string_view what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return absl::UnavailableError(absl::StrCat(what, e != 0 ? ": " : "", buf));
}

int ParseAddress(const std::string& ip, int port, sockaddr_storage* ss, socklen_t* len) {
  *ss = {};
  auto* s4 = reinterpret_cast<sockaddr_in*>(ss);
  if (inet_pton(AF_INET, ip.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    *len = sizeof *s4;
    return AF_INET;
  }
  auto* s6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    *len = sizeof *s6;
    return AF_INET6;
  }
  return -1;
}

// The leaf of `cert.chain_pem` with `cert.key_pem`, and the rest of the chain, for `ssl`.
absl::Status UseClientCertificate(SSL* ssl, const IssuedCert& cert) {
  BIO* chain = BIO_new_mem_buf(cert.chain_pem.data(), static_cast<int>(cert.chain_pem.size()));
  BIO* key_bio = BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size()));
  X509* leaf = PEM_read_bio_X509(chain, nullptr, nullptr, nullptr);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  bool ok = leaf != nullptr && key != nullptr && SSL_use_certificate(ssl, leaf) == 1 &&
            SSL_use_PrivateKey(ssl, key) == 1;
  while (X509* extra = ok ? PEM_read_bio_X509(chain, nullptr, nullptr, nullptr) : nullptr) {
    SSL_add0_chain_cert(ssl, extra);
  }
  ERR_clear_error();
  X509_free(leaf);
  EVP_PKEY_free(key);
  BIO_free(chain);
  BIO_free(key_bio);
  if (!ok) return absl::InternalError("the client certificate or its key does not load");
  return absl::OkStatus();
}

}  // namespace

Client::Client(SocketFactory sockets, const std::string& ca_pem) : sockets_(std::move(sockets)) {
  signal(SIGPIPE, SIG_IGN);  // TLS writes to a server that has gone must fail, not kill us
  X509_STORE* store = X509_STORE_new();  // the run's CA and nothing else
  BIO* b = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  while (X509* c = PEM_read_bio_X509(b, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, c);
    X509_free(c);
  }
  ERR_clear_error();
  BIO_free(b);
  auto context = [store](absl::string_view alpn) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set1_cert_store(ctx, store);
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned int>(alpn.size()));
    return ctx;
  };
  tls_ = context("\x08http/1.1");
  tls_h2_ = context("\x02h2");
  X509_STORE_free(store);  // the contexts hold it
}

Client::~Client() {
  SSL_CTX_free(tls_);
  SSL_CTX_free(tls_h2_);
}

absl::StatusOr<int> Client::Connect(const std::string& ip, int port, int type,
                                    absl::Duration timeout) {
  sockaddr_storage ss;
  socklen_t len;
  int family = ParseAddress(ip, port, &ss, &len);
  if (family < 0) return absl::InvalidArgumentError(absl::StrCat("not an address: ", ip));
  absl::StatusOr<int> fd = sockets_(family, type);
  if (!fd.ok()) return fd.status();
  int flags = fcntl(*fd, F_GETFL);
  fcntl(*fd, F_SETFL, flags | O_NONBLOCK);
  int rc = connect(*fd, reinterpret_cast<sockaddr*>(&ss), len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{*fd, POLLOUT, 0};
    rc = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    int err = 0;
    socklen_t el = sizeof err;
    if (rc == 1) getsockopt(*fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (rc != 1 || err != 0) {
      close(*fd);
      return absl::UnavailableError(absl::StrCat("connect to ", ip, ":", port, ": ",
                                                 rc == 0 ? "timed out" : std::strerror(err)));
    }
  } else if (rc != 0) {
    std::string e = std::strerror(errno);
    close(*fd);
    return absl::UnavailableError(absl::StrCat("connect to ", ip, ":", port, ": ", e));
  }
  fcntl(*fd, F_SETFL, flags);
  timeval tv{.tv_sec = absl::ToInt64Seconds(timeout),
             .tv_usec = absl::ToInt64Microseconds(timeout) % 1000000};
  setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(*fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return *fd;
}

absl::StatusOr<std::unique_ptr<echo::Stream>> Client::Open(const std::string& ip, int port,
                                                           SSL_CTX* tls, const std::string& sni,
                                                           absl::Duration timeout,
                                                           const IssuedCert* client_cert) {
  absl::StatusOr<int> fd = Connect(ip, port, SOCK_STREAM, timeout);
  if (!fd.ok()) return fd.status();
  SSL* ssl = nullptr;
  if (tls != nullptr) {
    ssl = SSL_new(tls);
    SSL_set_fd(ssl, *fd);
    if (!sni.empty() && !IsIpAddress(sni)) SSL_set_tlsext_host_name(ssl, sni.c_str());
    if (client_cert != nullptr) {
      if (absl::Status st = UseClientCertificate(ssl, *client_cert); !st.ok()) {
        SSL_free(ssl);
        close(*fd);
        return st;
      }
    }
    if (SSL_connect(ssl) != 1) {
      absl::Status st = SslError(absl::StrCat("TLS handshake with ", ip, ":", port));
      SSL_free(ssl);
      close(*fd);
      return st;
    }
    X509* peer = SSL_get1_peer_certificate(ssl);
    bool named = peer != nullptr && CertNamesHost(peer, sni.empty() ? ip : sni);
    X509_free(peer);
    if (!named) {
      SSL_free(ssl);
      close(*fd);
      return absl::UnavailableError(
          absl::StrCat("the server's certificate is not valid for ", sni.empty() ? ip : sni));
    }
  }
  return std::make_unique<echo::Stream>(*fd, ssl);
}

absl::StatusOr<Response> Client::Http(const std::string& ip, int port, bool tls,
                                      const std::string& sni, absl::string_view request,
                                      absl::Duration timeout,
                                      const std::optional<std::string>& websocket,
                                      const IssuedCert* client_cert) {
  absl::StatusOr<std::unique_ptr<echo::Stream>> opened =
      Open(ip, port, tls ? tls_ : nullptr, sni, timeout, client_cert);
  if (!opened.ok()) return opened.status();
  echo::Stream& s = **opened;
  if (absl::Status st = s.WriteAll(request); !st.ok()) return st;
  std::string method(request.substr(0, request.find(' ')));
  for (;;) {
    absl::StatusOr<echo::Message> head = echo::ReadHead(s);
    if (!head.ok())
      return absl::UnavailableError(absl::StrCat("no response: ", head.status().message()));
    Response r;
    if (!absl::StartsWith(head->first, "HTTP/") || !absl::SimpleAtoi(head->second, &r.status)) {
      return absl::UnavailableError(
          absl::StrCat("bad status line: ", head->first, " ", head->second));
    }
    if (r.status == 101 && websocket) {
      r.headers = std::move(head->headers);
      absl::StatusOr<std::string> line = s.ReadLine(64 * 1024);
      if (!line.ok())
        return absl::UnavailableError(absl::StrCat("after the 101: ", line.status().message()));
      r.body = *line;
      if (absl::Status st = s.WriteAll(*websocket); !st.ok()) return st;
      absl::StatusOr<std::string> back = s.ReadExactly(websocket->size());
      if (!back.ok())
        return absl::UnavailableError(
            absl::StrCat("no echo through the WebSocket: ", back.status().message()));
      r.websocket_echo = *back;
      return r;
    }
    if (r.status >= 100 && r.status < 200) continue;  // interim answers
    bool no_body = method == "HEAD" || r.status == 204 || r.status == 304;
    if (!no_body) {
      if (absl::Status st = echo::ReadBody(s, *head, true); !st.ok()) {
        return absl::UnavailableError(absl::StrCat("reading the body: ", st.message()));
      }
    }
    r.headers = std::move(head->headers);
    r.body = std::move(head->body);
    return r;
  }
}

absl::StatusOr<std::string> Client::Udp(const std::string& ip, int port, absl::string_view payload,
                                        absl::Duration timeout) {
  absl::StatusOr<int> fd = Connect(ip, port, SOCK_DGRAM, timeout);
  if (!fd.ok()) return fd.status();
  echo::Stream guard(*fd, nullptr);
  if (send(*fd, payload.data(), payload.size(), 0) < 0) {
    return absl::UnavailableError(
        absl::StrCat("send to ", ip, ":", port, ": ", std::strerror(errno)));
  }
  char buf[65536];
  ssize_t n = recv(*fd, buf, sizeof buf, 0);
  if (n < 0) {
    return absl::UnavailableError(
        absl::StrCat("no answer from ", ip, ":", port, ": ",
                     errno == EAGAIN ? "timed out" : std::strerror(errno)));
  }
  return std::string(buf, n);
}

}  // namespace xgate::conformance
