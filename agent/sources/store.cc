#include "agent/sources/store.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace xgate::sources {

ObjectStore::ObjectStore() : change_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

ObjectStore::~ObjectStore() {
  if (change_fd_ >= 0) close(change_fd_);
}

void ObjectStore::Changed() {
  ++version_;
  uint64_t one = 1;
  if (change_fd_ >= 0) (void)!write(change_fd_, &one, sizeof one);
}

void ObjectStore::Replace(const std::string& source, std::map<std::string, Document> documents) {
  std::lock_guard lock(mu_);
  documents_[source] = std::move(documents);
  errors_.erase(source);
  Changed();
}

void ObjectStore::Put(const std::string& source, const std::string& key, Document document) {
  std::lock_guard lock(mu_);
  documents_[source][key] = std::move(document);
  Changed();
}

void ObjectStore::Erase(const std::string& source, const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = documents_.find(source);
  if (it == documents_.end() || it->second.erase(key) == 0) return;
  Changed();
}

void ObjectStore::Update(const std::string& source,
                         const std::function<void(std::map<std::string, Document>&)>& edit) {
  std::lock_guard lock(mu_);
  edit(documents_[source]);
  Changed();
}

void ObjectStore::SetError(const std::string& source, absl::Status error) {
  std::lock_guard lock(mu_);
  errors_[source] = std::move(error);
  Changed();
}

uint64_t ObjectStore::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

absl::StatusOr<model::LoadResult> ObjectStore::Load() const {
  std::map<std::string, std::map<std::string, Document>> documents;
  {
    std::lock_guard lock(mu_);
    if (!errors_.empty()) return errors_.begin()->second;
    documents = documents_;  // decoded outside the lock: sources keep writing meanwhile
  }
  model::LoadResult result;
  for (auto& [source, docs] : documents) {
    for (auto& [key, doc] : docs) {
      if (doc.unreadable) {
        model::LoadError e;
        e.pos.file = doc.origin;
        e.message = "cannot read file";
        result.errors.push_back(std::move(e));
      } else if (!doc.text.empty()) {
        model::LoadText(doc.text, doc.origin, result);
      } else {
        model::LoadObject(std::move(doc.object), doc.origin, result);
      }
    }
  }
  return result;
}

WaitResult WaitForChanges(const ObjectStore& store, int stop_fd, std::chrono::milliseconds quiet,
                          std::chrono::milliseconds most) {
  using Clock = std::chrono::steady_clock;
  bool changed = false;
  Clock::time_point first;
  while (true) {
    int timeout = -1;
    if (changed && Clock::now() >= first + most) return WaitResult::kChanged;
    if (changed) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(first + most - Clock::now());
      timeout = static_cast<int>(std::max<int64_t>(0, std::min(quiet, left).count()));
    }
    pollfd fds[2] = {{store.change_fd(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int n = poll(fds, stop_fd >= 0 ? 2 : 1, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return WaitResult::kStopped;
    if (stop_fd >= 0 && (fds[1].revents & POLLIN)) return WaitResult::kStopped;
    if (fds[0].revents & POLLIN) {
      uint64_t count = 0;
      (void)!read(store.change_fd(), &count, sizeof count);
      if (!changed) first = Clock::now();
      changed = true;
      continue;
    }
    if (n == 0 && changed) return WaitResult::kChanged;
  }
}

}  // namespace xgate::sources
