#include "agent/sources/kube/informer.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace xgate::kube {
namespace {

using nlohmann::json;

std::string MetaString(const json& object, const char* key) {
  if (!object.is_object() || !object.contains("metadata")) return "";
  const json& md = object["metadata"];
  if (!md.is_object() || !md.contains(key) || !md[key].is_string()) return "";
  return md[key].get<std::string>();
}

bool Retryable(long code) { return code == 429 || code >= 500; }

}  // namespace

void StopSignal::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool StopSignal::WaitFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, d, [this] { return stopped_.load(); });
}

Informer::Informer(Client& client, Resource resource, std::string kind, InformerSink& sink,
                   InformerOptions options, std::string field_selector)
    : client_(client),
      resource_(std::move(resource)),
      kind_(std::move(kind)),
      sink_(sink),
      options_(options),
      field_selector_(std::move(field_selector)),
      backoff_(options.backoff) {}

std::string Informer::resource_version() const {
  std::lock_guard lock(rv_mu_);
  return rv_;
}

void Informer::SetResourceVersion(const json& object) {
  std::string rv = MetaString(object, "resourceVersion");
  if (rv.empty()) return;
  std::lock_guard lock(rv_mu_);
  rv_ = rv;
}

void Informer::Complete(json& object) const {
  if (!object.is_object()) return;
  if (!object.contains("apiVersion")) object["apiVersion"] = resource_.ApiVersion();
  if (!object.contains("kind")) object["kind"] = kind_;
}

Informer::Outcome Informer::FromResponse(const absl::StatusOr<Response>& response,
                                         const char* what) {
  std::string path = resource_.Path();
  if (!response.ok()) {
    spdlog::warn("{} {}: {}", what, path, std::string(response.status().message()));
    return {Outcome::kBackoff, std::nullopt};
  }
  if (response->code == 410) return {Outcome::kRelist, std::nullopt};
  absl::Status s = ToStatus(*response);
  if (Retryable(response->code)) {
    spdlog::warn("{} {}: {}; backing off", what, path, std::string(s.message()));
  } else {
    spdlog::error("{} {}: {}", what, path, std::string(s.message()));
  }
  return {Outcome::kBackoff, response->retry_after};
}

Informer::Outcome Informer::List() {
  std::vector<json> objects;
  ListOptions options;
  options.limit = options_.page_size;
  options.field_selector = field_selector_;
  std::string list_rv;
  while (true) {
    auto response = client_.List(resource_.Path(), options);
    if (response.ok() && response->code == 400 && !options.field_selector.empty()) {
      spdlog::warn("list {}: the server refuses fieldSelector {} ({}); listing without it",
                   resource_.Path(), options.field_selector,
                   std::string(ToStatus(*response).message()));
      field_selector_.clear();
      options.field_selector.clear();
      options.continue_token.clear();
      objects.clear();
      continue;
    }
    if (!response.ok() || !response->ok()) {
      Outcome out = FromResponse(response, "list");
      // The continue token expired mid-list: start the list over, at once.
      if (out.next == Outcome::kRelist && !options.continue_token.empty()) {
        spdlog::info("list {}: continue token expired; listing again", resource_.Path());
        objects.clear();
        options.continue_token.clear();
        continue;
      }
      if (out.next == Outcome::kRelist) out.next = Outcome::kBackoff;
      return out;
    }
    std::string next;
    if (!DecodeListPage(response->Json(), objects, list_rv, next)) {
      spdlog::error("list {}: the answer is not a list", resource_.Path());
      return {Outcome::kBackoff, std::nullopt};
    }
    if (next.empty()) break;
    options.continue_token = next;
  }
  spdlog::info("list {}: {} objects at resourceVersion {}", resource_.Path(), objects.size(),
               list_rv);
  sink_.Replace(kind_, std::move(objects));
  {
    std::lock_guard lock(rv_mu_);
    rv_ = list_rv;
  }
  synced_ = true;
  return {Outcome::kOk, std::nullopt};
}

Informer::Outcome Informer::Watch(StopSignal& stop) {
  static thread_local std::minstd_rand engine(std::random_device{}());
  WatchOptions options;
  options.resource_version = resource_version();
  options.allow_bookmarks = true;
  options.field_selector = field_selector_;
  int min = static_cast<int>(options_.min_watch_timeout.count());
  options.timeout_seconds =
      min + std::uniform_int_distribution<int>(0, std::max(min - 1, 0))(engine);
  options.cancel = &stop.flag();

  Outcome outcome;
  size_t events = 0;
  auto on_event = [&](const WatchEvent& event) {
    ++events;
    switch (HandleWatchEvent(event)) {
      case EventResult::kGoOn:
        return true;
      case EventResult::kRelist:
        outcome = {Outcome::kRelist, std::nullopt};
        return false;
      case EventResult::kBackoff:
        outcome = {Outcome::kBackoff, std::nullopt};
        return false;
    }
    return false;
  };
  auto response = client_.Watch(resource_.Path(), options, on_event);
  if (stop.stopped()) return {Outcome::kOk, std::nullopt};
  if (outcome.next != Outcome::kOk) return outcome;
  if (!response.ok() || !response->ok()) return FromResponse(response, "watch");
  // The server ended the watch (its timeout, or it went away after answering): resume. A
  // watch that ends at once with nothing in it is retried with a backoff, not in a loop.
  if (events == 0) return {Outcome::kBackoff, std::nullopt};
  return {Outcome::kOk, std::nullopt};
}

bool Informer::DecodeListPage(json page, std::vector<json>& objects, std::string& resource_version,
                              std::string& continue_token) const {
  if (!page.is_object() || !page.contains("items") || !page["items"].is_array()) return false;
  for (json& item : page["items"]) {
    Complete(item);
    objects.push_back(std::move(item));
  }
  resource_version = MetaString(page, "resourceVersion");
  continue_token = MetaString(page, "continue");
  return true;
}

Informer::EventResult Informer::HandleWatchEvent(const WatchEvent& event) {
  if (event.type == "ERROR") {
    long code = event.object.is_object() && event.object.contains("code") &&
                        event.object["code"].is_number_integer()
                    ? event.object["code"].get<long>()
                    : 0;
    std::string message = event.object.is_object() && event.object.contains("message")
                              ? event.object["message"].dump()
                              : event.object.dump();
    if (code == 410) {
      spdlog::info("watch {}: {} (410 Gone): listing again", resource_.Path(), message);
      return EventResult::kRelist;
    }
    spdlog::warn("watch {}: error event {}: {}", resource_.Path(), code, message);
    return EventResult::kBackoff;
  }
  json object = event.object;
  SetResourceVersion(object);
  if (event.type == "BOOKMARK") return EventResult::kGoOn;
  Complete(object);
  if (event.type == "ADDED" || event.type == "MODIFIED") {
    sink_.Upsert(kind_, std::move(object));
  } else if (event.type == "DELETED") {
    sink_.Remove(kind_, object);
  } else {
    spdlog::warn("watch {}: unknown event type {}", resource_.Path(), event.type);
  }
  return EventResult::kGoOn;
}

void Informer::Run(StopSignal& stop) {
  bool listed = false;
  while (!stop.stopped()) {
    Outcome out;
    if (!listed) {
      out = List();
      if (out.next == Outcome::kOk) {
        listed = true;
        backoff_.Reset();
      }
    } else {
      out = Watch(stop);
      if (stop.stopped()) break;
      ++watch_restarts_;
      if (out.next == Outcome::kOk) backoff_.Reset();
      if (out.next == Outcome::kRelist) {
        ++relists_;
        listed = false;
        continue;
      }
    }
    if (out.next == Outcome::kBackoff) {
      auto wait = backoff_.Next(out.retry_after);
      spdlog::debug("{} {}: retrying in {} ms", listed ? "watch" : "list", resource_.Path(),
                    wait.count());
      if (stop.WaitFor(wait)) break;
    }
  }
}

}  // namespace xgate::kube
