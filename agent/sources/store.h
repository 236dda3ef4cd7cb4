// The object store every source feeds and the pipeline reads: documents (a manifest file's
// text, or one object as the API server serves it), grouped by the source that gave them.
// Load() decodes them all into one typed model::Store; the pipeline does not know where they
// came from.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/model/loader.h"

namespace xgate::sources {

// A file's text, shared by the copies of its Document: a source that read a file once hands
// the store the same text on every sync, neither copied nor compared byte by byte.
class SharedText {
 public:
  SharedText() = default;
  SharedText(std::string text) : text_(std::make_shared<const std::string>(std::move(text))) {}
  SharedText(const char* text) : SharedText(std::string(text)) {}

  const std::string& str() const { return text_ ? *text_ : Empty(); }
  bool empty() const { return str().empty(); }
  bool operator==(const SharedText& o) const { return text_ == o.text_ || str() == o.str(); }

 private:
  static const std::string& Empty() {
    static const std::string kEmpty;
    return kEmpty;
  }
  std::shared_ptr<const std::string> text_;
};

struct Document {
  // A manifest file's path (errors carry its lines), or "Kind/namespace/name" for an object.
  std::string origin;
  SharedText text;          // a file's YAML or JSON (one or more documents)
  nlohmann::json object;    // an API object, when `text` is empty
  bool unreadable = false;  // a file that is listed but could not be read
  // Set by the ObjectStore on each write, kept while the content stays the same (sources
  // leave it 0): a load decodes again only the documents whose revision it has not seen.
  uint64_t revision = 0;
  // Set by the ObjectStore once a load has decoded an API object, `object` then null: what a
  // write of the same key is compared with. The decoded object (which keeps its JSON, `raw`)
  // is what the pipeline reads. In a source whose every document is keyed by its origin (the
  // Kubernetes source) it is the SHA-256 of the object as compact JSON, 32 bytes where the
  // compact JSON is ~400 (10,000 routes with their Services and EndpointSlices: ~12 MB); in
  // any other source, where a document may have to be decoded again (documents of one origin
  // are matched by their order), the compact JSON itself.
  std::string object_digest = {};
  std::string object_json = {};
};

class ObjectStore {
 public:
  ObjectStore();
  ~ObjectStore();
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  // Replaces every document of `source`, keyed (and loaded in key order) by the map's keys,
  // and clears the source's error.
  void Replace(const std::string& source, std::map<std::string, Document> documents);
  // Replaces the documents of `source` whose keys start with `prefix` (a Kubernetes kind's
  // relist) by `documents`, all keyed under `prefix`, as one change.
  void ReplacePrefix(const std::string& source, const std::string& prefix,
                     std::map<std::string, Document> documents);
  // Adds or replaces one document of `source`; the same content as the document it replaces
  // is no change (readers are not woken).
  void Put(const std::string& source, const std::string& key, Document document);
  void Erase(const std::string& source, const std::string& key);
  // Edits the documents of `source` in place, as one change (an empty edit still counts as
  // one: readers waiting on change_fd wake up). A document the edit writes anew is decoded
  // again by the next load; one it leaves in place is not.
  void Update(const std::string& source,
              const std::function<void(std::map<std::string, Document>&)>& edit);
  // A source that cannot be read right now: Load fails with `error` (what was serving keeps
  // serving) until the source's next Replace.
  void SetError(const std::string& source, absl::Status error);

  // Decodes every document, the sources in name order, each in key order. Documents that do
  // not decode are in the result's errors; fails only with a source's error. Each document
  // is decoded on its own and kept while it stays the same, so a load decodes only the
  // documents that changed since the previous one, and merges only theirs into the previous
  // load's result (kept, and returned as a copy of its maps). An API object's parsed tree is
  // moved into its decode, not copied, and the document keeps its digest or compact JSON.
  // With `carry_from` (the load the result follows), the result's generations are carried
  // from it (model::CarryGenerations) in the kept result itself: the next load shares the
  // carried objects rather than carrying its own copies again.
  absl::StatusOr<model::LoadResult> Load(const model::Store* carry_from = nullptr) const;
  // Decodes the documents written since the last load or predecode, as Load does, without
  // building a result: the next Load then only gathers. The Kubernetes source calls it as
  // each kind's first list lands, so a cold start decodes one kind while listing the next.
  void Predecode() const;

  // Counts changes: a reader that saw version N knows whether something changed since.
  uint64_t version() const;
  // Readable (and drained by WaitForChange) after every change.
  int change_fd() const { return change_fd_; }

 private:
  void Changed();  // with mu_ held
  // Gives `doc` `old`'s revision when their contents are the same, else a new one (mu_ held).
  void Stamp(Document& doc, const Document* old);
  // Stamps every document of `docs` that has no revision yet (mu_ held).
  void StampNew(std::map<std::string, Document>& docs);

  struct Decoded {
    uint64_t revision = 0;  // of the document decoded
    // A document decoded to one object and no error (an API object) is kept as that object,
    // its kind (its map's place in model::ForEachKindMap's order) and key: a LoadResult of
    // its own is ~770 bytes of empty maps, 23 MB for 30,000 objects. Any other document
    // keeps its LoadResult.
    std::shared_ptr<const model::LoadResult> result;
    std::shared_ptr<void> object;
    int kind = -1;
    model::Store::Key key;
    uint64_t load = 0;  // the last load that saw the document
    // Its objects are in the store's merged result (ObjectStore::merged_).
    bool merged = false;

    bool done() const { return result || object; }
    // Keeps `result` as its one object when it is no more than that.
    void Compact();
    // Adds the decoded objects and errors to `into`; false on a name `into` has already (see
    // model::AppendLoaded).
    bool AppendTo(model::LoadResult& into) const;
    // Takes the decoded objects out of `from` (each only where `from` holds that object or
    // a carried copy of it: the same decode_id), undoing AppendTo.
    void RemoveFrom(model::Store& from) const;
  };
  // Takes `d`'s objects out of the merged result before its decode is dropped (load_mu_ held).
  void Unmerge(Decoded& d) const;
  // Decodes what changed (load_mu_ held), and lists every document's decode in the load's
  // order; fails with a source's error.
  absl::Status DecodeChanged(std::vector<Decoded*>& order) const;
  // Decodes an API object kept as a digest again, from the JSON its decode kept (load_mu_
  // and mu_ held): a load that decodes everything (a name defined twice) reports it as a
  // load of everything at once does.
  // `n`: the documents of the same origin before it in its source.
  void DecodeAgain(const std::string& source, const Document& doc, int n,
                   model::LoadResult& into) const;

  // Each document decoded gets creation indexes from kIndexesPerDocument * (its decode's
  // sequence number): after those of every document decoded before it, and unchanged while
  // the document is, so its objects are shared by every load until it changes.
  static constexpr int64_t kIndexesPerDocument = int64_t{1} << 20;

  mutable std::mutex mu_;
  // source -> key -> doc. Mutable: a load moves an API object's tree out of its document.
  mutable std::map<std::string, std::map<std::string, Document>> documents_;
  std::map<std::string, absl::Status> errors_;
  uint64_t version_ = 0;
  int change_fd_ = -1;          // eventfd
  mutable std::mutex load_mu_;  // one Load at a time; taken before mu_
  // source -> origin ("origin\nN" for the Nth other document of one origin) -> decoded
  mutable std::map<std::string, std::map<std::string, Decoded, std::less<>>> decoded_;
  // Every merged document's objects, as the last load gave them: a load edits it by the
  // documents that changed (O(changed) map edits) and returns a copy, rather than merging
  // every document again (30,000 one-object parts at 10,000 routes). Not valid after a load
  // that found a name twice (the next one merges every document again).
  mutable model::Store merged_;
  mutable bool merged_valid_ = false;
  mutable uint64_t loads_ = 0;
  mutable int64_t decodes_ = 0;  // documents decoded so far
  uint64_t revisions_ = 0;       // revisions given so far
};

enum class WaitResult { kChanged, kStopped };

// Waits until the store changed, then until `quiet` passes with no further change (or `most`
// since the first one), so a burst of changes is one reconcile. Returns kStopped as soon as
// `stop_fd` becomes readable (-1 for none).
WaitResult WaitForChanges(const ObjectStore& store, int stop_fd, std::chrono::milliseconds quiet,
                          std::chrono::milliseconds most);

}  // namespace xgate::sources
