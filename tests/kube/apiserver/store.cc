#include "tests/kube/apiserver/store.h"

#include <fstream>

#include "tests/kube/apiserver/api_status.h"

namespace xgate::kubetest {

using nlohmann::json;

std::string ObjectKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

uint64_t Store::Head() const {
  std::lock_guard lock(mu_);
  return rv_;
}

uint64_t Store::CompactedAt() const {
  std::lock_guard lock(mu_);
  return compacted_;
}

std::optional<json> Store::Get(const std::string& store_key, const std::string& key) const {
  std::lock_guard lock(mu_);
  auto r = objects_.find(store_key);
  if (r == objects_.end()) return std::nullopt;
  auto o = r->second.find(key);
  if (o == r->second.end()) return std::nullopt;
  return o->second;
}

std::vector<json> Store::List(const std::string& store_key, uint64_t* head,
                              const std::string& after_key) const {
  std::vector<json> out;
  Visit(store_key, head, after_key, [&out](const std::string&, const json& o) {
    out.push_back(o);
    return true;
  });
  return out;
}

void Store::Visit(const std::string& store_key, uint64_t* head, const std::string& after_key,
                  const std::function<bool(const std::string&, const json&)>& visit) const {
  std::lock_guard lock(mu_);
  *head = rv_;
  auto r = objects_.find(store_key);
  if (r == objects_.end()) return;
  for (auto it = r->second.upper_bound(after_key); it != r->second.end(); ++it) {
    if (!visit(it->first, it->second)) return;
  }
}

std::vector<std::string> Store::StoreKeys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> keys;
  for (const auto& [k, objects] : objects_)
    if (!objects.empty()) keys.push_back(k);
  return keys;
}

uint64_t Store::Revision(const std::string& store_key) const {
  std::lock_guard lock(mu_);
  auto it = revisions_.find(store_key);
  return it == revisions_.end() ? 0 : it->second;
}

absl::StatusOr<json> Store::Write(const std::string& store_key, const std::string& key,
                                  const Mutation& mutate, bool dry_run) {
  std::unique_lock lock(mu_);
  auto& objects = objects_[store_key];
  auto it = objects.find(key);
  const json* current = it == objects.end() ? nullptr : &it->second;
  auto next = mutate(current);
  if (!next.ok()) return next.status();
  if (!next->has_value() && current == nullptr) return json();  // nothing to delete
  if (next->has_value() && current != nullptr) {
    json a = **next, b = *current;
    a["metadata"].erase("resourceVersion");
    b["metadata"].erase("resourceVersion");
    if (a == b) return *current;
  }
  if (dry_run) return next->has_value() ? **next : *current;
  WatchEvent ev{++rv_, store_key, "", json(), current ? *current : json()};
  if (next->has_value()) {
    ev.type = current ? "MODIFIED" : "ADDED";
    ev.object = std::move(**next);
    ev.object["metadata"]["resourceVersion"] = std::to_string(rv_);
    objects[key] = ev.object;
  } else {
    ev.type = "DELETED";
    ev.object = *current;
    ev.object["metadata"]["resourceVersion"] = std::to_string(rv_);
    objects.erase(it);
  }
  json result = ev.object;
  revisions_[store_key] = rv_;
  history_.push_back(std::move(ev));
  while (history_.size() > history_limit_) {
    compacted_ = history_.front().rv;
    history_.pop_front();
  }
  changed_.notify_all();
  return result;
}

absl::StatusOr<std::vector<WatchEvent>> Store::EventsAfter(
    const std::string& store_key, uint64_t rv, std::chrono::steady_clock::time_point deadline,
    uint64_t* head) const {
  std::unique_lock lock(mu_);
  std::vector<WatchEvent> out;
  for (;;) {
    if (rv < compacted_) {
      return ApiError(410, "Expired",
                      "too old resource version: " + std::to_string(rv) + " (" +
                          std::to_string(compacted_) + ")");
    }
    for (auto it = history_.rbegin(); it != history_.rend() && it->rv > rv; ++it)
      if (it->store_key == store_key) out.insert(out.begin(), *it);
    *head = rv_;
    if (!out.empty() || stopping_ ||
        changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return out;
    }
  }
}

void Store::Compact() {
  std::lock_guard lock(mu_);
  history_.clear();
  compacted_ = rv_;
  changed_.notify_all();
}

void Store::Stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  changed_.notify_all();
}

bool Store::Stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

absl::Status Store::Save(const std::filesystem::path& file) const {
  std::lock_guard lock(mu_);
  json history = json::array();
  for (const auto& e : history_)
    history.push_back({{"rv", e.rv},
                       {"key", e.store_key},
                       {"type", e.type},
                       {"object", e.object},
                       {"previous", e.previous}});
  json state = {{"resourceVersion", rv_},
                {"compacted", compacted_},
                {"objects", objects_},
                {"history", history}};
  auto tmp = file;
  tmp += ".tmp";
  std::ofstream(tmp) << state.dump();
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) return absl::InternalError("saving " + file.string() + ": " + ec.message());
  return absl::OkStatus();
}

absl::Status Store::Load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(file.string() + ": cannot read");
  json state = json::parse(in, nullptr, false);
  if (state.is_discarded() || !state.is_object())
    return absl::InvalidArgumentError(file.string() + ": not a saved store (bad JSON)");
  std::lock_guard lock(mu_);
  rv_ = state.value("resourceVersion", uint64_t{1});
  compacted_ = state.value("compacted", uint64_t{1});
  objects_ = state.value("objects", decltype(objects_){});
  revisions_.clear();
  history_.clear();
  for (const json& e : state.value("history", json::array()))
    history_.push_back({e.at("rv"), e.at("key"), e.at("type"), e.at("object"), e.at("previous")});
  return absl::OkStatus();
}

}  // namespace xgate::kubetest
