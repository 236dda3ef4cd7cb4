#include "userspace-proxy/server/h2_fields.h"

#include <algorithm>
#include <cstring>

#include "userspace-proxy/http/chars.h"
#include "userspace-proxy/http/message.h"

namespace xgate::proxy {

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
  http::chars::CopyLower(copy, name.data(), name.size());
  std::memcpy(copy + name.size(), value.data(), value.size());
  used_ += name.size() + value.size();
  nva_.push_back(H2Nv(std::string_view(copy, name.size()),
                      std::string_view(copy + name.size(), value.size()),
                      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE));
}

}  // namespace xgate::proxy
