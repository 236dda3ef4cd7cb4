#include "agent/sources/store.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "absl/strings/str_cat.h"

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

namespace {

bool SameDocument(const Document& a, const Document& b) {
  return a.unreadable == b.unreadable && a.origin == b.origin && a.text == b.text &&
         a.object == b.object;
}

void Decode(const Document& doc, model::LoadResult& into) {
  if (doc.unreadable) {
    model::LoadError e;
    e.pos.file = doc.origin;
    e.message = "cannot read file";
    into.errors.push_back(std::move(e));
  } else if (!doc.text.empty()) {
    model::LoadText(doc.text, doc.origin, into);
  } else {
    model::LoadObject(doc.object, doc.origin, into);
  }
}

}  // namespace

absl::StatusOr<model::LoadResult> ObjectStore::Load() const {
  std::lock_guard load_lock(load_mu_);
  // Looked up by origin, not key: a file added to a folder moves the keys of those after it.
  std::map<std::pair<std::string, std::string>, Decoded> next;  // (source, origin)
  std::vector<const Decoded*> order;                            // the load's order
  {
    std::lock_guard lock(mu_);
    if (!errors_.empty()) return errors_.begin()->second;
    for (const auto& [source, docs] : documents_) {
      std::map<std::string, int> seen;  // documents of one origin: the first, the second...
      for (const auto& [key, doc] : docs) {
        int n = seen[doc.origin]++;
        std::pair id(source, n == 0 ? doc.origin : absl::StrCat(doc.origin, "\n", n));
        auto cached = decoded_.find(id);
        Decoded& d = next[id];
        if (cached != decoded_.end() && SameDocument(cached->second.document, doc)) {
          d = std::move(cached->second);
        } else {
          d.document = doc;
        }
        order.push_back(&d);
      }
    }
  }
  // Decoded outside mu_: sources keep writing meanwhile.
  for (auto& [id, d] : next) {
    if (d.result) continue;
    auto result = std::make_shared<model::LoadResult>();
    Decode(d.document, *result);
    d.result = std::move(result);
  }
  model::LoadResult result;
  bool whole = false;
  for (const Decoded* d : order) {
    if (!whole && !model::AppendLoaded(*d->result, result)) whole = true;
  }
  if (whole) {  // a duplicate name: reported where a load of everything at once reports it
    result = model::LoadResult();
    for (const Decoded* d : order) Decode(d->document, result);
  }
  decoded_ = std::move(next);
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
