#include "tools/bench/kube/gateway_probe.h"

#include <curl/curl.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"

namespace xgate::bench {
namespace {

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

std::string Pod(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("pod") || !j["pod"].is_string()) return "";
  return j["pod"];
}

}  // namespace

absl::StatusOr<std::unique_ptr<GatewayProbe>> GatewayProbe::Create(ProbeOptions options) {
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return absl::InternalError("curl_easy_init failed");
  return std::unique_ptr<GatewayProbe>(new GatewayProbe(std::move(options), easy));
}

GatewayProbe::GatewayProbe(ProbeOptions options, void* easy)
    : options_(std::move(options)), easy_(easy) {
  CURL* c = static_cast<CURL*>(easy_);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (options_.fresh_connections) curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  if (options_.connect_timeout.count() > 0) {
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body_);
}

GatewayProbe::~GatewayProbe() { curl_easy_cleanup(static_cast<CURL*>(easy_)); }

absl::StatusOr<GatewayAnswer> GatewayProbe::Ask(const std::string& host) {
  CURL* c = static_cast<CURL*>(easy_);
  std::string resolve = absl::StrCat(host, ":", options_.port, ":", options_.address);
  curl_slist* resolves = curl_slist_append(nullptr, resolve.c_str());
  std::string url = absl::StrCat(options_.scheme, "://", host, ":", options_.port, "/");
  curl_easy_setopt(c, CURLOPT_RESOLVE, resolves);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  body_.clear();
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(resolves);
  if (rc != CURLE_OK)
    return absl::UnavailableError(absl::StrCat(url, ": ", curl_easy_strerror(rc)));
  GatewayAnswer answer;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answer.code);
  answer.pod = Pod(body_);
  return answer;
}

absl::StatusOr<ProbeResult> GatewayProbe::Until(
    const std::string& host, const std::function<bool(const GatewayAnswer&)>& wanted,
    Clock::time_point deadline) {
  return UntilOutcome(
      host, [&](const absl::StatusOr<GatewayAnswer>& a) { return a.ok() && wanted(*a); }, deadline);
}

absl::StatusOr<ProbeResult> GatewayProbe::UntilOutcome(
    const std::string& host,
    const std::function<bool(const absl::StatusOr<GatewayAnswer>&)>& wanted,
    Clock::time_point deadline) {
  ProbeResult result;
  std::string last = "no answer";
  while (Clock::now() < deadline) {
    Clock::time_point sent = Clock::now();
    auto answer = Ask(host);
    ++result.requests;
    if (wanted(answer)) {
      // An outcome that is no answer (a route gone) was shown by the data plane when the try
      // went out, not when its wait for an answer ran out.
      result.answered = answer.ok() ? Clock::now() : sent;
      return result;
    }
    last = answer.ok() ? absl::StrCat("HTTP ", answer->code, answer->pod.empty() ? "" : " from ",
                                      answer->pod)
                       : std::string(answer.status().message());
    std::this_thread::sleep_until(sent + options_.interval);
  }
  return absl::DeadlineExceededError(
      absl::StrCat(host, ": ", result.requests, " requests, the last answer: ", last));
}

}  // namespace xgate::bench
