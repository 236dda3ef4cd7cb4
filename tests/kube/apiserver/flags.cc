#include "tests/kube/apiserver/flags.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>

namespace xgate::kubetest {

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  auto usage = absl::InvalidArgumentError(
      "usage: xgate-test-apiserver --dir DIR [--listen HOST:PORT] [--token-file FILE] "
      "[--state FILE] [--preload FILE|DIR]... [--san HOST]... [--history N] "
      "[--bookmark-interval-ms N] [--watch-timeout-seconds N] [--threads N]");
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    if (auto eq = a.find('='); eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      return usage;
    }
    auto number = [&](auto* out) -> absl::Status {
      if (!absl::SimpleAtoi(v, out)) return absl::InvalidArgumentError(a + ": not a number: " + v);
      return absl::OkStatus();
    };
    absl::Status s;
    int64_t n = 0;
    if (a == "--dir")
      f.dir = v;
    else if (a == "--token-file")
      f.token_file = v;
    else if (a == "--state")
      f.state = v;
    else if (a == "--preload")
      f.preload.emplace_back(v);
    else if (a == "--san")
      f.sans.push_back(v);
    else if (a == "--history")
      s = number(&f.history);
    else if (a == "--threads")
      s = number(&f.threads);
    else if (a == "--bookmark-interval-ms") {
      s = number(&n);
      f.bookmark_interval = std::chrono::milliseconds(n);
    } else if (a == "--watch-timeout-seconds") {
      s = number(&n);
      f.watch_timeout = std::chrono::seconds(n);
    } else if (a == "--listen") {
      auto colon = v.rfind(':');
      if (colon == std::string::npos)
        return absl::InvalidArgumentError("--listen: HOST:PORT, got " + v);
      f.host = v.substr(0, colon);
      if (f.host.size() > 1 && f.host.front() == '[') f.host = f.host.substr(1, f.host.size() - 2);
      if (!absl::SimpleAtoi(v.substr(colon + 1), &f.port))
        return absl::InvalidArgumentError("--listen: bad port in " + v);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", a, "\n", usage.message()));
    }
    if (!s.ok()) return s;
  }
  if (f.dir.empty()) return usage;
  if (f.history == 0) f.history = 1;
  return f;
}

}  // namespace xgate::kubetest
