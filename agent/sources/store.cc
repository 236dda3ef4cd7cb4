#include "agent/sources/store.h"

#include <openssl/evp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/model/json_text.h"

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

namespace {

// The SHA-256 of an API object as compact JSON. SHA-256 is fetched once: EVP_sha256() with
// EVP_Digest looks the implementation up at each call, which cost as much as the hashing
// itself over 30,000 objects of a few KB.
std::string Digest(std::string_view compact) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (sha256 == nullptr ||
      EVP_Digest(compact.data(), compact.size(), md, &size, sha256, nullptr) != 1) {
    return std::string(compact);  // no digest: the JSON itself compares as well
  }
  return std::string(reinterpret_cast<const char*>(md), size);
}

// The digest of an API object's tree, its compact JSON written into a buffer kept per thread.
std::string DigestOfTree(const nlohmann::json& object) {
  return model::WithCompactJson(object, Digest);
}

// An API object's digest, however the document holds it ("" for none).
std::string DigestOf(const Document& doc) {
  if (!doc.object_digest.empty()) return doc.object_digest;
  if (!doc.object_json.empty()) return Digest(doc.object_json);
  return doc.object.is_null() ? std::string() : DigestOfTree(doc.object);
}

// Whether two API objects are the same, each parsed or kept as compact JSON or a digest.
bool SameObject(const Document& a, const Document& b) {
  if (!a.object_digest.empty() || !b.object_digest.empty()) return DigestOf(a) == DigestOf(b);
  const bool a_json = !a.object_json.empty(), b_json = !b.object_json.empty();
  if (a_json && b_json) return a.object_json == b.object_json;
  if (a_json) return !b.object.is_null() && a.object_json == model::CompactJson(b.object);
  if (b_json) return !a.object.is_null() && b.object_json == model::CompactJson(a.object);
  return a.object == b.object;
}

bool SameContent(const Document& a, const Document& b) {
  return a.unreadable == b.unreadable && a.origin == b.origin && a.text == b.text &&
         SameObject(a, b);
}

// An API object whose parsed tree the store holds (a load moves it into its decode).
bool HasTree(const Document& doc) {
  return !doc.unreadable && doc.text.empty() && doc.object_digest.empty() &&
         doc.object_json.empty() && !doc.object.is_null();
}

}  // namespace

void ObjectStore::Stamp(Document& doc, const Document* old) {
  doc.revision = old != nullptr && SameContent(*old, doc) ? old->revision : ++revisions_;
}

void ObjectStore::StampNew(std::map<std::string, Document>& docs) {
  for (auto& [key, doc] : docs) {
    if (doc.revision == 0) doc.revision = ++revisions_;
  }
}

void ObjectStore::Replace(const std::string& source, std::map<std::string, Document> documents) {
  std::lock_guard lock(mu_);
  auto& current = documents_[source];
  // Matched by origin, not key: a file added to a folder moves the keys of those after it.
  std::unordered_map<std::string_view, std::vector<const Document*>> by_origin;
  for (const auto& [key, doc] : current) by_origin[doc.origin].push_back(&doc);
  std::unordered_map<std::string_view, size_t> seen;  // origin -> its documents so far
  for (auto& [key, doc] : documents) {
    auto old = by_origin.find(doc.origin);
    size_t n = seen[doc.origin]++;
    Stamp(doc, old != by_origin.end() && n < old->second.size() ? old->second[n] : nullptr);
  }
  current = std::move(documents);
  errors_.erase(source);
  Changed();
}

void ObjectStore::ReplacePrefix(const std::string& source, const std::string& prefix,
                                std::map<std::string, Document> documents) {
  std::lock_guard lock(mu_);
  auto& docs = documents_[source];
  auto it = docs.lower_bound(prefix);
  while (it != docs.end() && it->first.starts_with(prefix)) {
    auto listed = documents.find(it->first);
    if (listed == documents.end()) {
      it = docs.erase(it);
      continue;
    }
    Stamp(listed->second, &it->second);
    // The same object again keeps the stored document (its digest, not the listed tree).
    if (listed->second.revision != it->second.revision) it->second = std::move(listed->second);
    documents.erase(listed);
    ++it;
  }
  for (auto& [key, doc] : documents) {
    Stamp(doc, nullptr);
    docs[key] = std::move(doc);
  }
  Changed();
}

void ObjectStore::Put(const std::string& source, const std::string& key, Document document) {
  std::lock_guard lock(mu_);
  auto& docs = documents_[source];
  auto old = docs.find(key);
  Stamp(document, old == docs.end() ? nullptr : &old->second);
  // The same content again (a watch event for a field sources drop): no change to wake for.
  if (old != docs.end() && old->second.revision == document.revision) return;
  docs[key] = std::move(document);
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
  auto& docs = documents_[source];
  edit(docs);
  StampNew(docs);
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

// Decodes `doc`; an API object's tree is moved into the decode when `doc` is an rvalue.
template <typename Doc>
void Decode(Doc&& doc, model::LoadResult& into) {
  if (doc.unreadable) {
    model::LoadError e;
    e.pos.file = doc.origin;
    e.message = "cannot read file";
    into.errors.push_back(std::move(e));
  } else if (!doc.text.empty()) {
    model::LoadText(doc.text.str(), doc.origin, into);
  } else if (!doc.object_json.empty()) {
    model::LoadObject(nlohmann::json::parse(doc.object_json), doc.origin, into);
  } else if (!doc.object_digest.empty()) {  // not reached: ObjectStore::DecodeAgain reads it
    model::LoadError e;
    e.pos.file = doc.origin;
    e.message = "internal error: the object is kept as a digest; it is read again when it changes";
    into.errors.push_back(std::move(e));
  } else {
    model::LoadObject(std::forward<Doc>(doc).object, doc.origin, into);
  }
}

// Decodes `docs[i]` into `into[i]`, an API object's tree moved into its decode and kept in
// `kept[i]` first: its digest when `digest[i]`, else its compact JSON. A cold start or a large
// batch (thousands of files or API objects) is decoded on several threads: each document is decoded
// on its own, into its own result, and the results keep the load's order. A few documents are
// decoded here.
void DecodeAll(std::vector<Document>& docs,
               const std::vector<std::shared_ptr<model::LoadResult>>& into,
               const std::vector<char>& digest, std::vector<std::string>& kept) {
  constexpr size_t kPerThread = 128;  // below this a thread costs more than it saves
  constexpr unsigned kMostThreads = 8;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads = std::min<size_t>({cores, kMostThreads, docs.size() / kPerThread});
  kept.assign(docs.size(), std::string());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < docs.size(); i = next++) {
      if (HasTree(docs[i])) {
        kept[i] = digest[i] ? DigestOfTree(docs[i].object) : model::CompactJson(docs[i].object);
      }
      Decode(std::move(docs[i]), *into[i]);
    }
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (auto& h : helpers) h.join();
}

}  // namespace

void ObjectStore::Decoded::Compact() {
  if (!result || !result->errors.empty()) return;
  size_t objects = 0;
  int at = 0;
  model::ForEachKindMap(result->store, result->store, [&](const auto& map, const auto&) {
    objects += map.size();
    if (map.size() == 1) {
      kind = at;
      key = map.begin()->first;
      object = map.begin().shared();
    }
    ++at;
  });
  if (objects == 1) {
    result = nullptr;
  } else {
    object = nullptr;
    kind = -1;
    key = {};
  }
}

bool ObjectStore::Decoded::AppendTo(model::LoadResult& into) const {
  if (result) return model::AppendLoaded(*result, into);
  bool appended = false;
  int at = 0;
  model::ForEachKindMap(into.store, into.store, [&](auto& map, auto&) {
    if (at++ != kind || map.contains(key)) return;
    using T = typename std::decay_t<decltype(map)>::mapped_type;
    map.Share(key, std::static_pointer_cast<T>(object));
    appended = true;
  });
  return appended;
}

void ObjectStore::Decoded::RemoveFrom(model::Store& from) const {
  auto remove = [](auto& map, const auto& key, const model::Object& object) {
    auto it = map.find(key);
    if (it != map.end() && it->second.decode_id == object.decode_id) map.erase(key);
  };
  if (result) {
    model::ForEachKindMap(result->store, from, [&](const auto& part, auto& map) {
      for (const auto& [key, object] : part) remove(map, key, object);
    });
    return;
  }
  int at = 0;
  model::ForEachKindMap(from, from, [&](auto& map, auto&) {
    using T = typename std::decay_t<decltype(map)>::mapped_type;
    if (at++ == kind) remove(map, key, *static_cast<const T*>(object.get()));
  });
}

void ObjectStore::Unmerge(Decoded& d) const {
  if (d.merged && merged_valid_) d.RemoveFrom(merged_);
  d.merged = false;
}

void ObjectStore::DecodeAgain(const std::string& source, const Document& doc, int n,
                              model::LoadResult& into) const {
  const Decoded* d = nullptr;
  if (auto cache = decoded_.find(source); cache != decoded_.end()) {
    auto it = n == 0 ? cache->second.find(std::string_view(doc.origin))
                     : cache->second.find(absl::StrCat(doc.origin, "\n", n));
    if (it != cache->second.end() && it->second.revision == doc.revision) d = &it->second;
  }
  if (d == nullptr) {  // not reached: a digested document was decoded by this load
    model::LoadError e;
    e.pos.file = doc.origin;
    e.message = "internal error: the object's decode is gone; it is read again when it changes";
    into.errors.push_back(std::move(e));
    return;
  }
  // Each object from what its decode kept of it (status aside), then the decode's errors.
  int at = 0;
  model::Store kinds;  // for the kinds' types, when the decode is one object
  model::ForEachKindMap(d->result ? d->result->store : kinds, kinds,
                        [&](const auto& map, const auto&) {
                          using T = typename std::decay_t<decltype(map)>::mapped_type;
                          for (const auto& [key, object] : map) {
                            model::LoadObject(object.raw.Parse(), doc.origin, into);
                          }
                          if (at++ == d->kind && d->object) {
                            const auto& object = *static_cast<const T*>(d->object.get());
                            model::LoadObject(object.raw.Parse(), doc.origin, into);
                          }
                        });
  if (d->result) {
    into.errors.insert(into.errors.end(), d->result->errors.begin(), d->result->errors.end());
  }
}

void ObjectStore::Predecode() const {
  std::lock_guard load_lock(load_mu_);
  std::vector<Decoded*> order;
  DecodeChanged(order).IgnoreError();  // a source's error: Load reports it
}

absl::StatusOr<model::LoadResult> ObjectStore::Load(const model::Store* carry_from) const {
  std::lock_guard load_lock(load_mu_);
  std::vector<Decoded*> order;  // the load's order
  if (absl::Status s = DecodeChanged(order); !s.ok()) return s;
  if (!merged_valid_) {  // every document merged again
    merged_ = model::Store();
    for (Decoded* d : order) d->merged = false;
    merged_valid_ = true;
  }
  // The merged result holds what every unchanged document gave (DecodeChanged took out what
  // the changed and the gone ones had given): the changed and new ones are added to it. A name
  // defined twice is found as a merge of every document finds it: a name already there.
  model::LoadResult result;
  bool whole = false;
  model::LoadResult into;
  into.store = std::move(merged_);
  for (Decoded* d : order) {
    if (d->merged) continue;
    if (!d->AppendTo(into)) {
      whole = true;
      break;
    }
    d->merged = true;
  }
  merged_ = std::move(into.store);
  if (!whole) {
    if (carry_from != nullptr) model::CarryGenerations(*carry_from, merged_);
    result.store = merged_;           // a copy of chunk pointers
    for (const Decoded* d : order) {  // the errors in the documents' order
      if (d->result) {
        result.errors.insert(result.errors.end(), d->result->errors.begin(),
                             d->result->errors.end());
      }
    }
  } else {
    merged_valid_ = false;
    merged_ = model::Store();
  }
  if (whole) {  // a duplicate name: reported where a load of everything at once reports it
    result = model::LoadResult();
    std::lock_guard lock(mu_);
    for (const auto& [source, docs] : documents_) {
      std::unordered_map<std::string_view, int> seen;  // as DecodeChanged counts them
      for (const auto& [key, doc] : docs) {
        const int n = seen[doc.origin]++;
        if (doc.object_digest.empty()) {
          Decode(doc, result);
        } else {
          DecodeAgain(source, doc, n, result);
        }
      }
    }
    if (carry_from != nullptr) model::CarryGenerations(*carry_from, result.store);
  }
  return result;
}

absl::Status ObjectStore::DecodeChanged(std::vector<Decoded*>& order) const {
  // The documents to decode, in `order`'s order: copies, but for an API object's tree, moved
  // out of the store (its source and key in `trees`, to put it back as compact JSON).
  std::vector<Document> fresh;
  struct Tree {
    size_t fresh = 0;  // index in `fresh`
    std::string source, key;
  };
  std::vector<char> digest;  // per `fresh` document: kept as a digest (its source is `unique`)
  std::vector<Tree> trees;
  ++loads_;
  {
    std::lock_guard lock(mu_);
    if (!errors_.empty()) return errors_.begin()->second;
    for (auto& [source, docs] : documents_) {
      // Looked up by origin, not key: a file added to a folder moves the keys after it.
      auto& cache = decoded_[source];
      // Every origin its document's key (the Kubernetes source's objects): each is unique, and
      // the cache is in the documents' order, so the entry after the last one is the next.
      const bool unique = std::all_of(docs.begin(), docs.end(), [](const auto& entry) {
        return entry.first == entry.second.origin;
      });
      std::unordered_map<std::string_view, int> seen;  // origin -> documents of it so far
      if (!unique) seen.reserve(docs.size());
      auto next = cache.begin();
      for (auto& [key, doc] : docs) {
        int n = unique ? 0 : seen[doc.origin]++;
        auto it = n == 0 && next != cache.end() && next->first == doc.origin ? next
                  : n == 0 ? cache.find(std::string_view(doc.origin))
                           : cache.find(absl::StrCat(doc.origin, "\n", n));
        if (it == cache.end()) {
          it = cache.emplace(n == 0 ? doc.origin : absl::StrCat(doc.origin, "\n", n), Decoded{})
                   .first;
        }
        Decoded& d = it->second;
        if (d.revision != doc.revision || !d.done()) {
          Unmerge(d);
          d.revision = doc.revision;
          d.result = nullptr;
          d.object = nullptr;
          d.kind = -1;  // Compact sets them again only for a decode of one object
          d.key = {};
          if (HasTree(doc)) {
            trees.push_back({fresh.size(), source, key});
            fresh.push_back(Document{doc.origin, {}, std::move(doc.object), false, doc.revision});
            doc.object = nullptr;
          } else {
            fresh.push_back(doc);
          }
          digest.push_back(unique);
        }
        d.load = loads_;
        order.push_back(&d);
        next = std::next(it);
      }
    }
  }
  // Decoded outside mu_: sources keep writing meanwhile.
  std::vector<std::shared_ptr<model::LoadResult>> results;
  std::vector<Decoded*> decoding;
  results.reserve(fresh.size());
  decoding.reserve(fresh.size());
  for (Decoded* d : order) {
    if (d->done()) continue;
    auto result = std::make_shared<model::LoadResult>();
    result->first_index = kIndexesPerDocument * decodes_++;  // in the load's order, as before
    d->result = result;
    results.push_back(std::move(result));
    decoding.push_back(d);
  }
  std::vector<std::string> kept;
  DecodeAll(fresh, results, digest, kept);
  results.clear();  // the Decoded entries hold them
  for (Decoded* d : decoding) d->Compact();
  {
    // Back into the documents the trees came from, unless a source wrote them meanwhile.
    std::lock_guard lock(mu_);
    for (Tree& t : trees) {
      auto docs = documents_.find(t.source);
      if (docs == documents_.end()) continue;
      auto doc = docs->second.find(t.key);
      if (doc == docs->second.end() || doc->second.revision != fresh[t.fresh].revision ||
          !doc->second.object.is_null() || !doc->second.object_digest.empty() ||
          !doc->second.object_json.empty()) {
        continue;
      }
      (digest[t.fresh] ? doc->second.object_digest : doc->second.object_json) =
          std::move(kept[t.fresh]);
    }
  }
  // What this load did not see is gone.
  for (auto& [source, cache] : decoded_) {
    for (auto it = cache.begin(); it != cache.end();) {
      if (it->second.load == loads_) {
        ++it;
        continue;
      }
      Unmerge(it->second);
      it = cache.erase(it);
    }
  }
  std::erase_if(decoded_, [](const auto& entry) { return entry.second.empty(); });
  return absl::OkStatus();
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
