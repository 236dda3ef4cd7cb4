#include "userspace-proxy/server/h2_fields.h"

#include <algorithm>
#include <cstring>

#include "userspace-proxy/http/message.h"

namespace xgate::proxy {
namespace {

constexpr uint64_t kOnes = 0x0101010101010101;

// Eight bytes with their ASCII capitals lower-cased (bytes >= 0x80 left as they are).
uint64_t Lower8(uint64_t x) {
  uint64_t low7 = x & (kOnes * 0x7f);  // no carry from one byte into the next below
  uint64_t capital =
      (low7 + kOnes * (0x80 - 'A')) & ~(low7 + kOnes * (0x80 - 'Z' - 1)) & ~x & (kOnes * 0x80);
  return x | capital >> 2;  // 0x80 >> 2: the case bit
}

// Copies `n` bytes lower-cased, eight at a time (a last, overlapping eight for the tail;
// names of 4 to 7 bytes as two overlapping fours).
void CopyLower(char* out, const char* in, size_t n) {
  uint64_t x;
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&x, in + i, 8);
      x = Lower8(x);
      std::memcpy(out + i, &x, 8);
    }
    std::memcpy(&x, in + n - 8, 8);
    x = Lower8(x);
    std::memcpy(out + n - 8, &x, 8);
    return;
  }
  if (n >= 4) {  // the first and the last four bytes (overlapping when n < 8)
    uint32_t first, last;
    std::memcpy(&first, in, 4);
    std::memcpy(&last, in + n - 4, 4);
    x = Lower8(first | uint64_t{last} << 32);
    first = static_cast<uint32_t>(x);
    last = static_cast<uint32_t>(x >> 32);
    std::memcpy(out, &first, 4);
    std::memcpy(out + n - 4, &last, 4);
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    char c = in[i];
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
  }
}

}  // namespace

bool H2ConnectionSpecific(std::string_view name) {
  switch (name.size()) {  // one comparison at most per name
    case 2:
      return http::EqualsIgnoreCase(name, "te");
    case 7:
      return http::EqualsIgnoreCase(name, "upgrade");
    case 10:
      return http::EqualsIgnoreCase(name, "connection") ||
             http::EqualsIgnoreCase(name, "keep-alive");
    case 16:
      return http::EqualsIgnoreCase(name, "proxy-connection");
    case 17:
      return http::EqualsIgnoreCase(name, "transfer-encoding");
    default:
      return false;
  }
}

void H2HeaderBlock::Start(size_t bytes) {
  nva_.clear();
  used_ = 0;
  if (bytes > capacity_) {
    capacity_ = std::max(bytes, 2 * capacity_);
    bytes_ = std::make_unique_for_overwrite<char[]>(capacity_);
  }
}

void H2HeaderBlock::AddStatic(std::string_view name, std::string_view value) {
  if (value.size() > capacity_ - used_) {
    nva_.push_back(H2Nv(name, value, NGHTTP2_NV_FLAG_NO_COPY_NAME));
    return;
  }
  char* copy = bytes_.get() + used_;
  std::memcpy(copy, value.data(), value.size());
  used_ += value.size();
  nva_.push_back(H2Nv(name, std::string_view(copy, value.size()),
                      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE));
}

void H2HeaderBlock::Add(std::string_view name, std::string_view value) {
  if (H2ConnectionSpecific(name)) return;
  if (name.size() + value.size() > capacity_ - used_) {
    nva_.push_back(H2Nv(name, value));  // nghttp2 copies it, lower-casing the name
    return;
  }
  char* copy = bytes_.get() + used_;
  CopyLower(copy, name.data(), name.size());
  std::memcpy(copy + name.size(), value.data(), value.size());
  used_ += name.size() + value.size();
  nva_.push_back(H2Nv(std::string_view(copy, name.size()),
                      std::string_view(copy + name.size(), value.size()),
                      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE));
}

}  // namespace xgate::proxy
