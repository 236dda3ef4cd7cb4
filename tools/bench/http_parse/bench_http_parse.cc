// Request parsing throughput: xgate's strict incremental parser against Node's http_parser
// on the same inputs, in the same run. Each parser records every header as a (name, value)
// view, which is what the proxy needs. Ends with one "ratio" line per input
// (xgate CPU time / http_parser CPU time: below 1 means xgate is faster; CPU time because
// the machine is shared).
#include <benchmark/benchmark.h>
#include <http_parser.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tools/version/version.h"
#include "userspace-proxy/http/request_parser.h"

namespace {

std::string BrowserGet() {
  return "GET /api/v1/items?page=2&sort=desc HTTP/1.1\r\n"
         "Host: shop.example.com\r\n"
         "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
         "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
         "Accept-Language: en-US,en;q=0.5\r\n"
         "Accept-Encoding: gzip, deflate, br\r\n"
         "Referer: https://shop.example.com/catalog\r\n"
         "Connection: keep-alive\r\n"
         "Cookie: session=4f8a1c2e9b7d6a5f3e2c1b0a9f8e7d6c; theme=dark; consent=yes\r\n"
         "Upgrade-Insecure-Requests: 1\r\n"
         "Sec-Fetch-Dest: document\r\n"
         "Sec-Fetch-Mode: navigate\r\n"
         "Sec-Fetch-Site: same-origin\r\n"
         "Cache-Control: max-age=0\r\n\r\n";
}

std::string ChunkedPost() {
  std::string s =
      "POST /upload HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 16; ++i) s += "100\r\n" + std::string(256, 'x') + "\r\n";
  return s + "0\r\n\r\n";
}

std::string Pipelined(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += BrowserGet();
  return s;
}

const std::map<std::string, std::string>& Inputs() {
  static const auto* inputs = new std::map<std::string, std::string>{
      {"browser_get", BrowserGet()},
      {"chunked_post_4k", ChunkedPost()},
      {"pipelined_x32", Pipelined(32)},
  };
  return *inputs;
}

void BM_Xgate(benchmark::State& state, const std::string& input) {
  xgate::http::RequestParser parser;
  size_t headers = 0, body = 0;
  for (auto _ : state) {
    std::string_view rest = input;
    for (;;) {
      xgate::http::Step s = parser.Parse(rest);
      if (s.kind == xgate::http::StepKind::kNeedMore) break;
      if (s.kind == xgate::http::StepKind::kError) {
        state.SkipWithError("parse error");
        return;
      }
      if (s.kind == xgate::http::StepKind::kHeadComplete) headers += parser.head().headers.size();
      if (s.kind == xgate::http::StepKind::kBodyData) body += s.body.size();
      rest.remove_prefix(s.consumed);
    }
    benchmark::DoNotOptimize(headers);
    benchmark::DoNotOptimize(body);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

// http_parser reports header names and values through callbacks; recording them as views
// matches what xgate's parser hands out.
struct PeerCapture {
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  size_t body = 0;
  size_t messages = 0;
};

int OnField(http_parser* p, const char* at, size_t len) {
  static_cast<PeerCapture*>(p->data)->headers.emplace_back(std::string_view(at, len),
                                                           std::string_view());
  return 0;
}
int OnValue(http_parser* p, const char* at, size_t len) {
  static_cast<PeerCapture*>(p->data)->headers.back().second = std::string_view(at, len);
  return 0;
}
int OnBody(http_parser* p, const char*, size_t len) {
  static_cast<PeerCapture*>(p->data)->body += len;
  return 0;
}
int OnComplete(http_parser* p) {
  ++static_cast<PeerCapture*>(p->data)->messages;
  return 0;
}

void BM_HttpParser(benchmark::State& state, const std::string& input) {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_header_field = OnField;
  settings.on_header_value = OnValue;
  settings.on_body = OnBody;
  settings.on_message_complete = OnComplete;
  PeerCapture capture;
  capture.headers.reserve(128);
  http_parser parser;
  for (auto _ : state) {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &capture;
    capture.headers.clear();
    size_t n = http_parser_execute(&parser, &settings, input.data(), input.size());
    if (n != input.size() || HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
      state.SkipWithError("peer parse error");
      return;
    }
    benchmark::DoNotOptimize(capture.body);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

// Keeps each run's time per iteration so the ratios can be printed at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (!r.error_occurred) times_[r.benchmark_name()] = r.GetAdjustedCPUTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void PrintRatios() const {
    for (const auto& [name, input] : Inputs()) {
      auto x = times_.find("xgate/" + name), p = times_.find("http_parser/" + name);
      if (x == times_.end() || p == times_.end()) continue;
      std::printf("ratio %s: xgate/http_parser = %.2f\n", name.c_str(), x->second / p->second);
    }
  }

 private:
  std::map<std::string, double> times_;
};

}  // namespace

int main(int argc, char** argv) {
  for (const auto& [name, input] : Inputs()) {
    benchmark::RegisterBenchmark(("xgate/" + name).c_str(), BM_Xgate, input);
    benchmark::RegisterBenchmark(("http_parser/" + name).c_str(), BM_HttpParser, input);
  }
  // Google Benchmark's own flags stay (--benchmark_filter=..., --help lists them); --version
  // is xgate's.
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--version") {
      std::cout << "xgate-bench-http-parse " << xgate::GitDescription() << "\n";
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
