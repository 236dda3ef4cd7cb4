// A map by name that configs hand down to the next one: a shared, immutable base and a small
// overlay of what changed since (nullptr for a name removed). Copying it copies the overlay, not
// the base, so a delta that changes a few of 10,000 clusters costs what it changes; the overlay
// is folded into a new base once it holds more than an eighth of the names.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace xgate::proxy {

template <typename V>
class LayeredMap {
 public:
  using Map = std::map<std::string, std::shared_ptr<const V>, std::less<>>;

  // The value for `name`, or nullptr.
  const V* Find(std::string_view name) const {
    if (!overlay_.empty()) {
      if (auto it = overlay_.find(name); it != overlay_.end()) return it->second.get();
    }
    if (!base_) return nullptr;
    auto it = base_->find(name);
    return it == base_->end() ? nullptr : it->second.get();
  }
  void Set(const std::string& name, std::shared_ptr<const V> value) {
    if (!Find(name)) ++size_;
    overlay_.insert_or_assign(name, std::move(value));
  }
  void Erase(const std::string& name) {
    if (!Find(name)) return;
    --size_;
    if (base_ && base_->contains(name)) {
      overlay_.insert_or_assign(name, nullptr);
    } else {
      overlay_.erase(name);
    }
  }

  // Folds the overlay into a new base when it has grown past an eighth of the names.
  void Settle() {
    if (overlay_.size() <= std::max<size_t>(16, size_ / 8)) return;
    if (!base_) {  // a whole config: no removals in the overlay
      base_ = std::make_shared<const Map>(std::move(overlay_));
      overlay_.clear();
      return;
    }
    auto merged = std::make_shared<Map>(*base_);
    for (auto& [name, value] : overlay_) {
      if (value) {
        merged->insert_or_assign(name, std::move(value));
      } else {
        merged->erase(name);
      }
    }
    overlay_.clear();
    base_ = std::move(merged);
  }

  size_t size() const { return size_; }

  // Each (name, value), in no particular order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const auto& [name, value] : overlay_) {
      if (value) fn(name, *value);
    }
    if (!base_) return;
    for (const auto& [name, value] : *base_) {
      if (!overlay_.contains(name)) fn(name, *value);
    }
  }

 private:
  std::shared_ptr<const Map> base_;
  Map overlay_;
  size_t size_ = 0;
};

}  // namespace xgate::proxy
