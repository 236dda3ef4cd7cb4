// A byte queue: append at the end, consume from the front, without moving bytes on every
// consume.
#pragma once

#include <string>
#include <string_view>

namespace xgate::proxy {

class Buffer {
 public:
  std::string_view view() const { return std::string_view(data_).substr(start_); }
  size_t size() const { return data_.size() - start_; }
  bool empty() const { return size() == 0; }
  void Append(std::string_view bytes) { data_.append(bytes); }
  std::string* Tail() { return &data_; }  // for serializers that append to a std::string
  void Consume(size_t n) {
    start_ += n;
    if (start_ == data_.size()) {
      data_.clear();
      start_ = 0;
    } else if (start_ > 64 * 1024 && start_ > data_.size() / 2) {
      data_.erase(0, start_);
      start_ = 0;
    }
  }
  void Clear() {
    data_.clear();
    start_ = 0;
  }
  std::string Take() {
    std::string out(view());
    Clear();
    return out;
  }

 private:
  std::string data_;
  size_t start_ = 0;
};

}  // namespace xgate::proxy
