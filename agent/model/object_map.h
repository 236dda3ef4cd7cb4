// A map of objects that loads share: each value is held by a shared pointer, so copying a
// Store (a reload keeps the objects of every document that did not change) copies pointers,
// not objects, and two loads holding the same object compare equal at once. Reads look like
// a std::map of values (`for (const auto& [key, obj] : map)`, `at`, `find(...)->second`);
// writes go through Mutable, which copies an object another map still shares.
//
// The entries are kept in chunks (sorted runs of up to kChunkMost entries), themselves shared:
// copying or freeing a map of 30,000 objects costs a few hundred chunk pointers, a write
// copies only the chunk it lands in when another map holds that chunk too, and a walk of two
// maps (JoinChanged, Equals) skips every chunk both hold.
//
// An insert or an erase invalidates the map's iterators; a write to an entry that is there
// (Mutable, Share, a JoinChanged slot) does not. A reference to an object given for writing
// is for writing until the map's next call.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace xgate::model {

template <typename Key, typename T>
class ObjectMap {
  struct Entry {
    Key key;
    std::shared_ptr<T> object;
  };
  static constexpr int64_t kUnknown = std::numeric_limits<int64_t>::min();
  struct Chunk {
    std::vector<Entry> entries;  // sorted, never empty in a map
    // The largest creation index of its objects (kUnknown: not computed since the last
    // write). Atomic: maps on several threads may share the chunk and fill it at once.
    mutable std::atomic<int64_t> max_index{kUnknown};

    Chunk() = default;
    Chunk(const Chunk& o) : entries(o.entries) {}
    const Key& last() const { return entries.back().key; }
  };
  using ChunkPtr = std::shared_ptr<Chunk>;

 public:
  // A chunk that grows past this splits in two; one that shrinks below a quarter of it joins
  // a neighbour.
  static constexpr size_t kChunkMost = 128;

  using key_type = Key;
  using mapped_type = T;
  using value_type = std::pair<const Key&, const T&>;

  class const_iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = ObjectMap::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = value_type;
    struct pointer {
      value_type pair;
      const value_type* operator->() const { return &pair; }
    };

    const_iterator() = default;
    value_type operator*() const { return {Get().key, *Get().object}; }
    pointer operator->() const { return {**this}; }
    const_iterator& operator++() {
      if (++entry_ == (*chunk_)->entries.size()) {
        ++chunk_;
        entry_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator was = *this;
      ++*this;
      return was;
    }
    const_iterator& operator--() {
      if (entry_ == 0) entry_ = (*--chunk_)->entries.size();
      --entry_;
      return *this;
    }
    const_iterator operator--(int) {
      const_iterator was = *this;
      --*this;
      return was;
    }
    bool operator==(const const_iterator& o) const {
      return chunk_ == o.chunk_ && entry_ == o.entry_;
    }
    // The shared pointer behind the entry (to share it with another map).
    const std::shared_ptr<T>& shared() const { return Get().object; }

   private:
    friend class ObjectMap;
    const_iterator(const ChunkPtr* chunk, size_t entry) : chunk_(chunk), entry_(entry) {}
    // Read through the map's chunk pointer: a write that copies the chunk leaves it valid.
    const Entry& Get() const { return (*chunk_)->entries[entry_]; }

    const ChunkPtr* chunk_ = nullptr;  // in the map's chunks (one past them at end())
    size_t entry_ = 0;
  };
  using iterator = const_iterator;

  const_iterator begin() const { return chunks_.empty() ? end() : At(0, 0); }
  const_iterator end() const { return const_iterator(chunks_.data() + chunks_.size(), 0); }
  const_iterator find(const Key& key) const {
    Place p = Locate(key);
    return p.found ? At(p.chunk, p.entry) : end();
  }
  // Appending keys in order (a reload's parts come sorted) costs one compare, no lookup.
  bool contains(const Key& key) const {
    if (chunks_.empty() || chunks_.back()->last() < key) return false;
    return Locate(key).found;
  }
  size_t count(const Key& key) const { return contains(key) ? 1 : 0; }
  ObjectMap() = default;
  ObjectMap(const ObjectMap&) = default;
  ObjectMap& operator=(const ObjectMap&) = default;
  // A moved-from map is empty, as a moved-from std::map is in practice.
  ObjectMap(ObjectMap&& o) noexcept
      : chunks_(std::move(o.chunks_)), size_(std::exchange(o.size_, 0)) {
    o.chunks_.clear();
  }
  ObjectMap& operator=(ObjectMap&& o) noexcept {
    chunks_ = std::move(o.chunks_);
    o.chunks_.clear();
    size_ = std::exchange(o.size_, 0);
    return *this;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() {
    chunks_.clear();
    size_ = 0;
  }
  size_t erase(const Key& key) {
    Place p = Locate(key);
    if (!p.found) return 0;
    auto& entries = Writable(p.chunk).entries;
    entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(p.entry));
    --size_;
    if (entries.size() < kChunkMost / 4) Join(p.chunk);
    return 1;
  }

  const T& at(const Key& key) const {
    Place p = Locate(key);
    if (!p.found) throw std::out_of_range("ObjectMap::at");
    return *chunks_[p.chunk]->entries[p.entry].object;
  }

  // Inserts `value` unless `key` is present (as std::map::emplace).
  std::pair<const_iterator, bool> emplace(const Key& key, T value) {
    Place p = Locate(key);
    if (p.found) return {At(p.chunk, p.entry), false};
    p = Insert(p, key, std::make_shared<T>(std::move(value)));
    return {At(p.chunk, p.entry), true};
  }
  // Inserts (or replaces) an object another map holds, without copying it.
  // Appended in key order, each insert is O(1) (the last chunk is found first).
  void Share(const Key& key, std::shared_ptr<T> object) {
    Place p = Locate(key);
    if (!p.found) {
      Insert(p, key, std::move(object));
    } else if (chunks_[p.chunk]->entries[p.entry].object != object) {
      Writable(p.chunk).entries[p.entry].object = std::move(object);
    }
  }

  // The object at `key` for writing (default-constructed when absent), copied first when
  // another map shares it.
  T& Mutable(const Key& key) {
    Place p = Locate(key);
    if (!p.found) p = Insert(p, key, nullptr);
    return Unshared(Writable(p.chunk).entries[p.entry].object);
  }
  T& operator[](const Key& key) { return Mutable(key); }

  // An entry of this map that JoinChanged hands its function: read it, or write it (its chunk
  // is copied first when another map shares it).
  class Slot {
   public:
    const Key& key() const { return map_.chunks_[chunk_]->entries[entry_].key; }
    const std::shared_ptr<T>& get() const { return map_.chunks_[chunk_]->entries[entry_].object; }
    const T& operator*() const { return *get(); }
    const T* operator->() const { return get().get(); }
    // The object for writing, copied first when shared.
    T& Mutable() { return Unshared(Own()); }
    void Set(std::shared_ptr<T> object) { Own() = std::move(object); }

   private:
    friend class ObjectMap;
    Slot(ObjectMap& map, size_t chunk, size_t entry) : map_(map), chunk_(chunk), entry_(entry) {}
    std::shared_ptr<T>& Own() { return map_.Writable(chunk_).entries[entry_].object; }

    ObjectMap& map_;
    size_t chunk_, entry_;
  };

  // Walks this map and `other` together in key order: `fn(slot, old)` for each entry of
  // this map but those that hold the very object `other` holds at the same key, `old` what
  // `other` holds at the key or nullptr. A chunk both maps hold is skipped whole, so two
  // loads that share most chunks cost about the chunks that differ. `fn` may write `slot`.
  template <typename Fn>
  void JoinChanged(const ObjectMap& other, Fn fn) {
    Cursor o{other};
    for (size_t c = 0; c < chunks_.size(); ++c) {
      o.Seek(chunks_[c]->entries.front().key);
      if (o.AtChunkStart() && o.chunk() == chunks_[c]) {
        o.NextChunk();
        continue;
      }
      for (size_t e = 0; e < chunks_[c]->entries.size(); ++e) {
        // Not kept across `fn`: a write copies the chunk, another thread may free the old one.
        const Entry& entry = chunks_[c]->entries[e];
        o.Seek(entry.key);
        const std::shared_ptr<T>* old = o.At(entry.key);
        if (old != nullptr && *old == entry.object) continue;
        Slot slot(*this, c, e);
        fn(slot, old);
      }
    }
  }

  // Whether both maps hold the same keys and, at each, objects that are the same one or
  // `same(a, b)`. Chunks both maps hold at the same place are not walked.
  template <typename Same>
  bool Equals(const ObjectMap& other, Same same) const {
    if (size_ != other.size_) return false;
    size_t c = 0, e = 0, oc = 0, oe = 0;
    while (c < chunks_.size()) {
      const Chunk& x = *chunks_[c];
      const Chunk& y = *other.chunks_[oc];
      if (e == 0 && oe == 0 && &x == &y) {
        ++c;
        ++oc;
        continue;
      }
      const Entry& a = x.entries[e];
      const Entry& b = y.entries[oe];
      if (a.key < b.key || b.key < a.key) return false;
      if (a.object != b.object && !same(*a.object, *b.object)) return false;
      if (++e == x.entries.size()) ++c, e = 0;
      if (++oe == y.entries.size()) ++oc, oe = 0;
    }
    return true;
  }

  // The largest meta.creation_index of the objects (`floor` when empty or larger): each
  // chunk keeps its own until it is written, so a map sharing most chunks with one already
  // asked costs about the chunks it wrote.
  int64_t MaxCreationIndex(int64_t floor) const {
    for (const ChunkPtr& c : chunks_) {
      int64_t max = c->max_index.load(std::memory_order_relaxed);
      if (max == kUnknown) {
        for (const Entry& e : c->entries) max = std::max(max, e.object->meta.creation_index);
        c->max_index.store(max, std::memory_order_relaxed);
      }
      floor = std::max(floor, max);
    }
    return floor;
  }

  // Whether both maps hold the very same object at `key`.
  bool SameObject(const ObjectMap& other, const Key& key) const {
    auto a = find(key);
    auto b = other.find(key);
    return a != end() && b != other.end() && a.shared() == b.shared();
  }

 private:
  // Where a key is or would be inserted: chunk `chunk` (chunks_.size() when the map is
  // empty), before entry `entry`.
  struct Place {
    size_t chunk = 0;
    size_t entry = 0;
    bool found = false;
  };

  // A read position in another map that only moves forward.
  class Cursor {
   public:
    explicit Cursor(const ObjectMap& map) : map_(map) {}
    // To the first entry whose key is not below `key`.
    void Seek(const Key& key) {
      const auto& chunks = map_.chunks_;
      while (chunk_ < chunks.size() && chunks[chunk_]->last() < key) NextChunk();
      if (chunk_ == chunks.size()) return;
      const auto& entries = chunks[chunk_]->entries;
      while (entries[entry_].key < key) ++entry_;
    }
    // The object at `key` when the cursor is on it, else nullptr.
    const std::shared_ptr<T>* At(const Key& key) const {
      if (chunk_ == map_.chunks_.size()) return nullptr;
      const Entry& e = map_.chunks_[chunk_]->entries[entry_];
      return key < e.key ? nullptr : &e.object;
    }
    bool AtChunkStart() const { return chunk_ < map_.chunks_.size() && entry_ == 0; }
    const ChunkPtr& chunk() const { return map_.chunks_[chunk_]; }
    void NextChunk() {
      ++chunk_;
      entry_ = 0;
    }

   private:
    const ObjectMap& map_;
    size_t chunk_ = 0;
    size_t entry_ = 0;
  };

  const_iterator At(size_t chunk, size_t entry) const {
    return const_iterator(chunks_.data() + chunk, entry);
  }

  Place Locate(const Key& key) const {
    if (chunks_.empty()) return {};
    Place p;
    // The last chunk first: loads append in key order.
    if (chunks_.back()->entries.front().key < key) {
      p.chunk = chunks_.size() - 1;
    } else {
      auto c = std::partition_point(chunks_.begin(), chunks_.end(),
                                    [&](const ChunkPtr& x) { return x->last() < key; });
      p.chunk = static_cast<size_t>(c - chunks_.begin());
    }
    const auto& entries = chunks_[p.chunk]->entries;
    auto e = std::lower_bound(entries.begin(), entries.end(), key,
                              [](const Entry& x, const Key& k) { return x.key < k; });
    p.entry = static_cast<size_t>(e - entries.begin());
    p.found = e != entries.end() && !(key < e->key);
    return p;
  }

  // The chunk for writing: copied first when another map holds it too.
  Chunk& Writable(size_t chunk) {
    ChunkPtr& c = chunks_[chunk];
    if (c.use_count() > 1) {
      c = std::make_shared<Chunk>(*c);
    } else {
      // What the maps that held it before did to it happened before this write.
      std::atomic_thread_fence(std::memory_order_acquire);
      c->max_index.store(kUnknown, std::memory_order_relaxed);
    }
    return *c;
  }

  // Inserts at `p` (not found); returns where the entry is after a split.
  Place Insert(Place p, const Key& key, std::shared_ptr<T> object) {
    ++size_;
    if (chunks_.empty()) {
      chunks_.push_back(std::make_shared<Chunk>());
      chunks_.back()->entries.push_back(Entry{key, std::move(object)});
      return {0, 0, true};
    }
    auto& entries = Writable(p.chunk).entries;
    entries.insert(entries.begin() + static_cast<std::ptrdiff_t>(p.entry),
                   Entry{key, std::move(object)});
    p.found = true;
    if (entries.size() <= kChunkMost) return p;
    // Appending in key order fills each chunk; anywhere else a full chunk splits in halves.
    const bool appended = p.chunk + 1 == chunks_.size() && p.entry + 1 == entries.size();
    const size_t keep = appended ? kChunkMost : entries.size() / 2;
    auto tail = std::make_shared<Chunk>();
    tail->entries.assign(
        std::make_move_iterator(entries.begin() + static_cast<std::ptrdiff_t>(keep)),
        std::make_move_iterator(entries.end()));
    entries.resize(keep);
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(p.chunk + 1), std::move(tail));
    if (p.entry >= keep) {
      ++p.chunk;
      p.entry -= keep;
    }
    return p;
  }

  // Joins a small chunk to a neighbour when both fit in one (drops it when empty).
  void Join(size_t chunk) {
    if (chunks_[chunk]->entries.empty()) {
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(chunk));
      return;
    }
    const size_t n = chunks_[chunk]->entries.size();
    size_t into;
    if (chunk > 0 && chunks_[chunk - 1]->entries.size() + n <= kChunkMost) {
      into = chunk - 1;
    } else if (chunk + 1 < chunks_.size() && chunks_[chunk + 1]->entries.size() + n <= kChunkMost) {
      into = chunk;
      ++chunk;
    } else {
      return;
    }
    // Entries of chunk `into` then of `chunk`, in chunk `into`.
    auto& from = chunks_[chunk]->entries;
    auto& to = Writable(into).entries;
    to.insert(to.end(), from.begin(), from.end());
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(chunk));
  }

  static T& Unshared(std::shared_ptr<T>& slot) {
    if (!slot) {
      slot = std::make_shared<T>();
    } else if (slot.use_count() > 1) {
      slot = std::make_shared<T>(*slot);
    }
    return *slot;
  }

  std::vector<ChunkPtr> chunks_;
  size_t size_ = 0;
};

}  // namespace xgate::model
