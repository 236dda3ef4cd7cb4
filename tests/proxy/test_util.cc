#include "tests/proxy/test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "userspace-proxy/http/request_parser.h"
#include "userspace-proxy/http/response_parser.h"
#include "userspace-proxy/http/serializer.h"
#include "userspace-proxy/server/net.h"

namespace xgate::proxy::testing {

uint16_t FreePort() {
  // Below the kernel's ephemeral range (32768-60999 by default): a port the kernel chose by
  // itself is free only until the next outgoing connection of any test running beside this one
  // takes it as its source port, before the server under test binds it. Here only another
  // test's pick can collide, one chance in thousands.
  static const int ephemeral_low = [] {
    int low = 32768;
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
    return low;
  }();
  static std::mt19937 rng(static_cast<uint32_t>(getpid()) ^ static_cast<uint32_t>(time(nullptr)));
  std::uniform_int_distribution<int> pick(std::max(1024, ephemeral_low - 12000),
                                          std::max(1025, ephemeral_low - 1));
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto port = static_cast<uint16_t>(pick(rng));
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    int zero = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_any;
    address.sin6_port = htons(port);
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (free) return port;
  }
  return 0;
}

int ListenLoopback(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(fd, 16) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *port = ntohs(address.sin_port);
  return fd;
}

TestUpstream::TestUpstream(std::string name, std::string bind_address)
    : name_(std::move(name)), address_(std::move(bind_address)) {
  auto address = MakeAddress(address_, 0);
  listen_fd_ = socket(address->storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  bind(listen_fd_, address->get(), address->length);
  listen(listen_fd_, 128);
  port_ = LocalAddress(listen_fd_).Port();
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TestUpstream::~TestUpstream() { Stop(); }

void TestUpstream::Stop() {
  if (stopping_.exchange(true)) return;
  shutdown(listen_fd_, SHUT_RDWR);
  {
    std::lock_guard lock(mutex_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
  }
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& thread : threads_) thread.join();
  close(listen_fd_);
}

std::vector<ReceivedRequest> TestUpstream::requests() {
  std::lock_guard lock(mutex_);
  return requests_;
}

size_t TestUpstream::request_count() {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

std::string TestUpstream::raw() {
  std::lock_guard lock(mutex_);
  return raw_;
}

bool TestUpstream::WaitRequests(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void TestUpstream::AcceptLoop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    int number = ++connections_;
    std::lock_guard lock(mutex_);
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd, number] { Serve(fd, number); });
  }
}

void TestUpstream::Serve(int fd, int connection) {
  http::RequestParser parser;
  std::string buffer;
  ReceivedRequest current;
  char chunk[16384];
  bool open = true;
  bool reset = false;
  while (open && !stopping_) {
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    {
      std::lock_guard lock(mutex_);
      raw_.append(chunk, static_cast<size_t>(n));
    }
    buffer.append(chunk, static_cast<size_t>(n));
    for (;;) {
      http::Step step = parser.Parse(buffer);
      if (step.kind == http::StepKind::kNeedMore) {
        buffer.erase(0, step.consumed);
        break;
      }
      if (step.kind == http::StepKind::kError) {
        open = false;
        break;
      }
      if (step.kind == http::StepKind::kHeadComplete) {
        const auto& head = parser.head();
        current = ReceivedRequest();
        current.connection = connection;
        current.method = std::string(head.method);
        current.path = std::string(head.target);
        current.host = std::string(head.host);
        current.chunked = head.framing == http::BodyFraming::kChunked;
        for (const auto& header : head.headers) {
          current.headers[absl::AsciiStrToLower(std::string(header.name))] =
              std::string(header.value);
        }
      } else if (step.kind == http::StepKind::kBodyData) {
        current.body.append(step.body);
      } else if (step.kind == http::StepKind::kMessageComplete) {
        std::string response;
        std::string path = current.path;
        int status = 0;
        size_t bytes_left = 0;
        bool fail_first = fail_first_.fetch_sub(1) > 0;
        if (fail_first && fail_first_status_ == 0) {
          open = false;
          reset = true;  // nothing answered
        } else if (fail_first) {
          response = http::MakeSimpleResponse(fail_first_status_, {}, name_ + " failing\n", false);
        } else if (fail_status_ != 0) {
          response = http::MakeSimpleResponse(fail_status_, {}, name_ + " failing\n", false);
        } else if (auto upgrade = current.headers.find("upgrade");
                   upgrade != current.headers.end() && upgrade->second == "websocket") {
          {
            std::lock_guard lock(mutex_);
            requests_.push_back(current);
          }
          arrived_.notify_all();
          EchoUpgraded(fd, buffer.substr(step.consumed));
          return;
        } else if (absl::StartsWith(path, "/status/") &&
                   absl::SimpleAtoi(path.substr(8), &status)) {
          response = http::MakeSimpleResponse(status, {}, name_ + " status\n", false);
        } else if (absl::StartsWith(path, "/bytes/") && absl::SimpleAtoi(path.substr(7), &status)) {
          // Sent piece by piece below, never held whole.
          bytes_left = static_cast<size_t>(status);
          response = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(status) + "\r\n\r\n";
        } else if (path == "/chunked" || path == "/echo") {
          response =
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Upstream: " + name_ + "\r\n\r\n";
          if (path == "/chunked") {
            for (const char* part : {"one,", "two,", "three"}) http::AppendChunk(part, &response);
          } else {
            http::AppendChunk(current.body, &response);
          }
          http::AppendLastChunk({}, &response);
        } else if (path == "/hang") {
          response.clear();
        } else if (path == "/reset") {
          open = false;
        } else {
          std::vector<http::Header> headers = {{"X-Upstream", name_}};
          response = http::MakeSimpleResponse(200, headers, name_ + " " + path, false);
        }
        std::function<bool()> hold;
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(current);
          hold = hold_;
        }
        arrived_.notify_all();
        if (hold) {
          auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          while (!hold() && std::chrono::steady_clock::now() < deadline && !stopping_) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        }
        if (!response.empty()) send(fd, response.data(), response.size(), MSG_NOSIGNAL);
        static const std::string kPiece(64 * 1024, 'x');
        while (bytes_left > 0) {
          size_t n = std::min(bytes_left, kPiece.size());
          if (send(fd, kPiece.data(), n, MSG_NOSIGNAL) <= 0) break;
          bytes_left -= n;
        }
      }
      buffer.erase(0, step.consumed);
      if (!open) break;
    }
  }
  if (reset) {
    linger abort{.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  }
  close(fd);
}

void TestUpstream::EchoUpgraded(int fd, std::string pending) {
  {
    std::lock_guard lock(mutex_);
    raw_.append(pending);
  }
  std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  if (!pending.empty()) send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
  char chunk[16384];
  for (ssize_t n; (n = recv(fd, chunk, sizeof(chunk), 0)) > 0;) {
    {
      std::lock_guard lock(mutex_);
      raw_.append(chunk, static_cast<size_t>(n));
    }
    if (send(fd, chunk, static_cast<size_t>(n), MSG_NOSIGNAL) <= 0) break;
  }
  close(fd);
}

Client::Client(const std::string& address, uint16_t port) {
  auto target = MakeAddress(address, port);
  fd_ = socket(target->storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd_, target->get(), target->length) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

Client::~Client() {
  if (fd_ >= 0) close(fd_);
}

void Client::Send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

bool Client::Fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_ || fd_ < 0) return false;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[16384];
  ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buffer_.append(chunk, static_cast<size_t>(n));
  return true;
}

Response Client::Read(const std::string& method, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  http::ResponseParser parser;
  parser.ExpectResponseTo(method);
  Response response;
  for (;;) {
    http::Step step = parser.Parse(buffer_);
    switch (step.kind) {
      case http::StepKind::kNeedMore:
        buffer_.erase(0, step.consumed);
        if (!Fill(deadline)) {
          if (eof_) {
            http::Step last = parser.OnEof();
            if (last.kind == http::StepKind::kMessageComplete) {
              response.closed = true;
              return response;
            }
          }
          return Response();
        }
        continue;
      case http::StepKind::kHeadComplete:
        if (parser.head().status < 200) break;  // interim
        response.status = parser.head().status;
        response.chunked = parser.head().framing == http::BodyFraming::kChunked;
        for (const auto& header : parser.head().headers) {
          response.headers[absl::AsciiStrToLower(std::string(header.name))] =
              std::string(header.value);
        }
        break;
      case http::StepKind::kBodyData:
        response.body.append(step.body);
        break;
      case http::StepKind::kMessageComplete:
        buffer_.erase(0, step.consumed);
        if (response.status == 0) {
          parser.ExpectResponseTo(method);
          continue;
        }
        return response;
      case http::StepKind::kError:
        return Response();
    }
    buffer_.erase(0, step.consumed);
  }
}

bool ReadRaw(int fd, std::string& data, size_t want, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto done = [&] {
    return want == 0 ? data.find("\r\n\r\n") != std::string::npos : data.size() >= want;
  };
  while (!done()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    data.append(chunk, static_cast<size_t>(n));
  }
  return true;
}

bool Client::WaitClosed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    if (!Fill(deadline) && !eof_) return false;
  }
  return true;
}

Response Get(uint16_t port, const std::string& host, const std::string& path,
             const std::string& extra_headers) {
  Client client("127.0.0.1", port);
  if (!client.connected()) return Response();
  client.Send("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra_headers + "\r\n");
  return client.Read();
}

api::Port* AddHttpPort(api::L7Config& config, uint16_t port, std::vector<std::string> addresses) {
  api::Port* p = config.add_ports();
  p->set_port(port);
  p->set_protocol(api::Port::HTTP);
  for (auto& address : addresses) p->add_addresses(address);
  return p;
}

api::VirtualHost* AddVirtualHost(api::Port& port, const std::string& hostname,
                                 const std::string& listener_hostname) {
  api::Listener* listener = nullptr;
  for (auto& l : *port.mutable_listeners()) {
    if (l.hostname() == listener_hostname) listener = &l;
  }
  if (listener == nullptr) {
    listener = port.add_listeners();
    listener->set_gateway_namespace("test");
    listener->set_gateway_name("gw");
    listener->set_name("listener-" + std::to_string(port.listeners_size()));
    listener->set_hostname(listener_hostname);
  }
  api::VirtualHost* vhost = listener->add_virtual_hosts();
  vhost->set_hostname(hostname);
  return vhost;
}

api::Route* AddRoute(api::VirtualHost& vhost, const std::string& name, const std::string& prefix,
                     const std::string& cluster) {
  api::Route* route = vhost.add_routes();
  route->set_route_namespace("test");
  route->set_route_name(name);
  route->set_route_kind("HTTPRoute");
  route->mutable_match()->mutable_path()->set_type(api::PathMatch::PATH_PREFIX);
  route->mutable_match()->mutable_path()->set_value(prefix);
  api::WeightedCluster* backend = route->add_backends();  // cluster "" is an invalid backend
  backend->set_cluster(cluster);
  backend->set_weight(1);
  return route;
}

void AddCluster(api::L7Config& config, const std::string& name, const TestUpstream& upstream) {
  AddEndpoint(config, name, upstream.address(), upstream.port());
}

void AddEndpoint(api::L7Config& config, const std::string& name, const std::string& address,
                 uint16_t port) {
  api::Cluster* cluster = nullptr;
  for (auto& c : *config.mutable_clusters()) {
    if (c.name() == name) cluster = &c;
  }
  if (cluster == nullptr) {
    cluster = config.add_clusters();
    cluster->set_name(name);
  }
  api::Endpoint* endpoint = cluster->add_endpoints();
  endpoint->set_address(address);
  endpoint->set_port(port);
}

std::map<std::string, std::string> ProcStatus(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    out[line.substr(0, colon)] = value;
  }
  return out;
}

}  // namespace xgate::proxy::testing
