#include "tools/bench/convergence/measure.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "tools/bench/convergence/bench_routes.h"

namespace xgate::bench {
namespace {

constexpr char kL4Host[] = "l4.bench";  // any name: the L4 probe resolves it to --l4-address

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

bool Is200(const GatewayAnswer& a) { return a.code == 200; }

double RssMb(int pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string key;
  double kb = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> kb;
      break;
    }
    status.ignore(4096, '\n');
  }
  return kb / 1024;
}

// One datagram to address:port; true when any answer comes within `timeout`.
bool UdpAnswers(const std::string& address, int port, std::chrono::milliseconds timeout) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address.c_str(), &to.sin_addr);
  bool answered = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0 &&
      send(fd, "ping", 4, 0) == 4) {
    pollfd p{fd, POLLIN, 0};
    char buffer[512];
    answered = poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
               recv(fd, buffer, sizeof(buffer), 0) > 0;
  }
  close(fd);
  return answered;
}

bool Record(std::map<std::string, Series>& series, const std::string& what,
            std::optional<double> ms) {
  Series& s = series[what];
  if (ms) {
    s.ms.push_back(*ms);
  } else {
    ++s.timeouts;
  }
  return ms.has_value();
}

// When the probe's wanted answer came.
absl::StatusOr<Clock::time_point> AnsweredAt(
    GatewayProbe& probe, const std::string& host,
    const std::function<bool(const GatewayAnswer&)>& wanted, Clock::time_point deadline) {
  auto r = probe.Until(host, wanted, deadline);
  if (!r.ok()) return r.status();
  return r->answered;
}

// When the wanted outcome came, confirmed by the next `confirmations` asks (a new split is
// seen once every answer shows it; a route gone once no try gets through).
absl::StatusOr<Clock::time_point> ConfirmedAt(
    GatewayProbe& probe, const std::string& host,
    const std::function<bool(const absl::StatusOr<GatewayAnswer>&)>& wanted,
    Clock::time_point deadline, int confirmations = 3) {
  while (true) {
    auto r = probe.UntilOutcome(host, wanted, deadline);
    if (!r.ok()) return r.status();
    bool all = true;
    for (int i = 0; i < confirmations && all; ++i) all = wanted(probe.Ask(host));
    if (all) return r->answered;
  }
}

absl::StatusOr<std::unique_ptr<GatewayProbe>> L4Probe(const Target& target, int port) {
  ProbeOptions options;
  options.address = target.l4_address;
  options.port = port;
  options.scheme = "http";
  options.fresh_connections = true;
  // A local connect takes < 1 ms; the timeout is the resolution of a new TCPRoute's figure.
  options.connect_timeout = std::chrono::milliseconds(5);
  return GatewayProbe::Create(std::move(options));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RouteWriter>> MakeWriter(const Source& source) {
  return MakeRouteWriter(source.kubeconfig, source.manifests);
}

absl::StatusOr<std::unique_ptr<Bench>> Bench::Create(const Source& source, const Target& target) {
  std::unique_ptr<RouteWriter> no_writer;
  auto writer = source.kubeconfig.empty() && source.manifests.empty()
                    ? absl::StatusOr<std::unique_ptr<RouteWriter>>(std::move(no_writer))
                    : MakeWriter(source);
  if (!writer.ok()) return writer.status();
  auto https =
      GatewayProbe::Create({.address = target.address, .port = 443, .ca_file = target.cacert});
  if (!https.ok()) return https.status();
  return std::unique_ptr<Bench>(new Bench(*std::move(writer), *std::move(https), target));
}

template <typename Change, typename Seen>
std::optional<double> Bench::Timed(const std::string& what, Change change, Seen seen) {
  absl::Status made = change();
  Clock::time_point taken = Clock::now();
  if (!made.ok()) {
    spdlog::error("{}: {}", what, std::string(made.message()));
    return std::nullopt;
  }
  absl::StatusOr<Clock::time_point> at =
      seen(taken + std::chrono::milliseconds(target_.timeout_ms));
  if (!at.ok()) {
    spdlog::error("{}: not seen within {} ms: {}", what, target_.timeout_ms,
                  std::string(at.status().message()));
    return std::nullopt;
  }
  return Ms(*at - taken);
}

bool Bench::HttpRound(int run, std::map<std::string, Series>& series) {
  std::string name = absl::StrCat("conv-", getpid(), "-", run), host = name + ".example.com";
  auto from = [&](const char* pod) {
    return [this, host, pod](Clock::time_point deadline) -> absl::StatusOr<Clock::time_point> {
      return AnsweredAt(
          *https_, host, [pod](const GatewayAnswer& a) { return Is200(a) && a.pod == pod; },
          deadline);
    };
  };
  // The new split: the new backend answers, and the next answers all come from it.
  auto only_from = [&](const char* pod) {
    return [this, host, pod](Clock::time_point deadline) {
      return ConfirmedAt(
          *https_, host,
          [pod](const absl::StatusOr<GatewayAnswer>& a) {
            return a.ok() && Is200(*a) && a->pod == pod;
          },
          deadline);
    };
  };
  bool ok =
      Record(series, "new HTTPRoute",
             Timed(
                 "new HTTPRoute " + host,
                 [&] { return writer_->Create(HttpRoute(name, host, 100, 0)); }, from(kHomePod)));
  if (!ok) {  // a deletion timed from here would time nothing
    writer_->Delete(HttpRoute(name, host, 100, 0)).IgnoreError();
    return false;
  }
  ok = Record(
      series, "weight change",
      Timed(
          "weight flip of " + host, [&] { return writer_->Change(HttpRoute(name, host, 0, 100)); },
          only_from(kAuthPod)));
  bool gone = Record(
      series, "deleted HTTPRoute",
      Timed(
          "delete of " + host, [&] { return writer_->Delete(HttpRoute(name, host, 0, 100)); },
          [&](Clock::time_point deadline) -> absl::StatusOr<Clock::time_point> {
            return AnsweredAt(
                *https_, host, [](const GatewayAnswer& a) { return a.code == 404; }, deadline);
          }));
  return ok && gone;
}

bool Bench::TcpRound(int run, std::map<std::string, Series>& series) {
  if (tcp_ == nullptr) {
    auto probe = L4Probe(target_, target_.l4_port);
    if (!probe.ok()) return false;
    tcp_ = *std::move(probe);
  }
  nlohmann::json route = TcpRoute(absl::StrCat("conv-tcp-", getpid(), "-", run), "tcp-new");
  // Answering: one 200 is enough. Gone: no try gets through, confirmed (a connect that
  // timed out on a loaded machine is not yet a route gone).
  auto until = [this](bool answering) {
    return [this, answering](Clock::time_point deadline) {
      return ConfirmedAt(
          *tcp_, kL4Host,
          [answering](const absl::StatusOr<GatewayAnswer>& a) {
            return answering == (a.ok() && Is200(*a));
          },
          deadline, answering ? 0 : 3);
    };
  };
  bool ok = Record(series, "new TCPRoute",
                   Timed(
                       "new TCPRoute", [&] { return writer_->Create(route); }, until(true)));
  if (!ok) {  // the listener is shared by the rounds: the next starts once this one is gone
    if (writer_->Delete(route).ok()) {
      until(false)(Clock::now() + std::chrono::milliseconds(target_.timeout_ms)).IgnoreError();
    }
    return false;
  }
  bool gone =
      Record(series, "deleted TCPRoute",
             Timed(
                 "delete of the TCPRoute", [&] { return writer_->Delete(route); }, until(false)));
  return ok && gone;
}

bool Bench::Wait(const std::string& host, std::chrono::milliseconds timeout) {
  auto r = https_->Until(host, Is200, Clock::now() + timeout);
  if (!r.ok()) spdlog::error("{}", std::string(r.status().message()));
  return r.ok();
}

absl::StatusOr<std::vector<RssSample>> Bench::Changes(int count, int agent_pid, int proxy_pid) {
  std::string name = absl::StrCat("conv-changes-", getpid());
  auto host = [&](int i) { return absl::StrCat(name, "-", i, ".example.com"); };
  std::vector<RssSample> samples;
  auto sample = [&](std::string at) {
    samples.push_back({std::move(at), RssMb(agent_pid), RssMb(proxy_pid)});
  };
  if (absl::Status s = writer_->Create(HttpRoute(name, host(0), 1, 0)); !s.ok()) return s;
  // A burst of changes among many routes may take longer than one change.
  auto timeout =
      std::max(std::chrono::milliseconds(target_.timeout_ms), std::chrono::milliseconds(60000));
  if (!Wait(host(0), timeout))
    return absl::DeadlineExceededError("the changed route was never served");
  sample("before the changes");
  int warm_up = std::max(1, count / 10);
  Clock::time_point start = Clock::now();
  for (int i = 1; i <= count; ++i) {
    if (absl::Status s = writer_->Change(HttpRoute(name, host(i), 1, 0)); !s.ok()) return s;
    if (i == warm_up || i == count) {
      if (!Wait(host(i), timeout))
        return absl::DeadlineExceededError(absl::StrCat("change ", i, " unseen"));
      sample(i == count ? absl::StrCat("after ", count, " changes")
                        : absl::StrCat("after ", i, " (warm-up)"));
    }
  }
  spdlog::info("{} changes in {:.1f} s", count, Ms(Clock::now() - start) / 1000);
  writer_->Delete(HttpRoute(name, host(count), 1, 0)).IgnoreError();
  return samples;
}

Series Bench::Swaps(int count) {
  std::string name = absl::StrCat("conv-swap-", getpid());
  auto host = [&](int i) { return absl::StrCat(name, "-", i, ".example.com"); };
  Series s;
  if (!writer_->Create(HttpRoute(name, host(0), 1, 0)).ok() ||
      !Wait(host(0), std::chrono::milliseconds(target_.timeout_ms))) {
    s.timeouts = count;
    return s;
  }
  for (int i = 1; i <= count; ++i) {
    std::optional<double> ms = Timed(
        "swap " + host(i), [&] { return writer_->Change(HttpRoute(name, host(i), 1, 0)); },
        [&](Clock::time_point deadline) -> absl::StatusOr<Clock::time_point> {
          return AnsweredAt(*https_, host(i), Is200, deadline);
        });
    if (ms) {
      s.ms.push_back(*ms);
    } else {
      ++s.timeouts;
    }
  }
  writer_->Delete(HttpRoute(name, host(count), 1, 0)).IgnoreError();
  return s;
}

absl::StatusOr<int64_t> Bench::Served(const std::string& host, int tcp_port, int udp_port,
                                      Clock::time_point deadline) {
  auto unix_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  constexpr auto kEvery = std::chrono::milliseconds(5);
  if (udp_port > 0) {
    while (Clock::now() < deadline) {
      if (UdpAnswers(target_.l4_address, udp_port, std::chrono::milliseconds(100)))
        return unix_ms();
      std::this_thread::sleep_for(kEvery);
    }
    return absl::DeadlineExceededError(absl::StrCat("udp:", udp_port, " never answered"));
  }
  absl::StatusOr<std::unique_ptr<GatewayProbe>> l4;
  if (tcp_port > 0) {
    l4 = L4Probe(target_, tcp_port);
    if (!l4.ok()) return l4.status();
  }
  GatewayProbe& probe = tcp_port > 0 ? **l4 : *https_;
  while (Clock::now() < deadline) {
    auto a = probe.Ask(tcp_port > 0 ? kL4Host : host);
    if (a.ok() && Is200(*a)) return unix_ms();
    std::this_thread::sleep_for(kEvery);
  }
  return absl::DeadlineExceededError(absl::StrCat(host, tcp_port, " never answered"));
}

}  // namespace xgate::bench
