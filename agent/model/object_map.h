// A map of objects that loads share: each value is held by a shared pointer, so copying a
// Store (a reload keeps the objects of every document that did not change) copies pointers,
// not objects, and two loads holding the same object compare equal at once. Reads look like
// a std::map of values (`for (const auto& [key, obj] : map)`, `at`, `find(...)->second`);
// writes go through Mutable, which copies an object another map still shares.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <utility>

namespace xgate::model {

template <typename Key, typename T>
class ObjectMap {
  using Inner = std::map<Key, std::shared_ptr<T>>;

 public:
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
    explicit const_iterator(typename Inner::const_iterator it) : it_(it) {}
    value_type operator*() const { return {it_->first, *it_->second}; }
    pointer operator->() const { return {**this}; }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    const_iterator operator++(int) { return const_iterator(it_++); }
    const_iterator& operator--() {
      --it_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return it_ == o.it_; }
    // The shared pointer behind the entry (to share it with another map).
    const std::shared_ptr<T>& shared() const { return it_->second; }

   private:
    typename Inner::const_iterator it_;
  };
  using iterator = const_iterator;

  const_iterator begin() const { return const_iterator(map_.begin()); }
  const_iterator end() const { return const_iterator(map_.end()); }
  const_iterator find(const Key& key) const { return const_iterator(map_.find(key)); }
  // Appending keys in order (a reload's parts come sorted) costs one compare, no lookup.
  bool contains(const Key& key) const {
    if (map_.empty() || map_.rbegin()->first < key) return false;
    return map_.contains(key);
  }
  size_t count(const Key& key) const { return map_.count(key); }
  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  void clear() { map_.clear(); }
  size_t erase(const Key& key) { return map_.erase(key); }

  const T& at(const Key& key) const {
    auto it = map_.find(key);
    if (it == map_.end()) throw std::out_of_range("ObjectMap::at");
    return *it->second;
  }

  // Inserts `value` unless `key` is present (as std::map::emplace).
  std::pair<const_iterator, bool> emplace(const Key& key, T value) {
    auto [it, inserted] = map_.try_emplace(key);
    if (inserted) it->second = std::make_shared<T>(std::move(value));
    return {const_iterator(it), inserted};
  }
  // Inserts (or replaces) an object another map holds, without copying it.
  // Appended in key order, each insert is O(1) (the end() hint holds).
  void Share(const Key& key, std::shared_ptr<T> object) {
    map_.insert_or_assign(map_.end(), key, std::move(object));
  }

  // The object at `key` for writing (default-constructed when absent), copied first when
  // another map shares it.
  T& Mutable(const Key& key) { return Unshared(map_[key]); }
  T& operator[](const Key& key) { return Mutable(key); }

  // The object in `slot` for writing: made when empty, copied first when shared.
  static T& Unshared(std::shared_ptr<T>& slot) {
    if (!slot) {
      slot = std::make_shared<T>();
    } else if (slot.use_count() > 1) {
      slot = std::make_shared<T>(*slot);
    }
    return *slot;
  }

  // Walks this map and `other` together in key order, one pass and no lookups:
  // `fn(key, slot, old)` for each entry of this map, `old` the pointer `other` holds at the
  // same key or nullptr. `fn` may replace the object in `slot` (Unshared, or another pointer).
  template <typename Fn>
  void JoinWith(const ObjectMap& other, Fn fn) {
    auto o = other.map_.begin();
    for (auto& [key, slot] : map_) {
      // The very object `other` holds next is under the same key (an object has one): most
      // entries of a reload are, and cost a pointer compare.
      if (o != other.map_.end() && o->second == slot) {
        fn(key, slot, &o->second);
        ++o;
        continue;
      }
      while (o != other.map_.end() && o->first < key) ++o;
      const bool same_key = o != other.map_.end() && !(key < o->first);
      fn(key, slot, same_key ? &o->second : nullptr);
    }
  }

  // Whether both maps hold the very same object at `key`.
  bool SameObject(const ObjectMap& other, const Key& key) const {
    auto a = map_.find(key);
    auto b = other.map_.find(key);
    return a != map_.end() && b != other.map_.end() && a->second == b->second;
  }

 private:
  Inner map_;
};

}  // namespace xgate::model
