// Header fields handed to nghttp2, shared by the downstream (h2_connection) and upstream
// (h2_upstream) sessions.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/container/inlined_vector.h"

namespace xgate::proxy {

// A field for an nghttp2 submit call. With flags NONE nghttp2 copies the name (lower-casing
// it) and the value at the submit.
inline nghttp2_nv H2Nv(std::string_view name, std::string_view value,
                       uint8_t flags = NGHTTP2_NV_FLAG_NONE) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), flags};
}

// Fields HTTP/2 forbids (RFC 9113 8.2.2): Connection, Keep-Alive, Proxy-Connection,
// Transfer-Encoding, Upgrade, and TE (which a request may carry only as "trailers": the
// upstream side adds it back when asked).
bool H2ConnectionSpecific(std::string_view name);

// A header block that nghttp2 submits without copying anything (NGHTTP2_NV_FLAG_NO_COPY_NAME
// and _VALUE): names (lower-cased) and values are copied once into a buffer of the block's
// own, reused from one block to the next. The block must then stay unchanged until nghttp2
// has serialized the frame or dropped it. Each stream has one: nghttp2 serializes a stream's
// HEADERS before the stream can close (a response's only while the stream is open; a
// request's, unless cancelled by the RST_STREAM a cancelled stream sends, when the stream's
// id is opened), and the block is rebuilt only for the trailers, after the HEADERS and DATA.
class H2HeaderBlock {
 public:
  // Starts a block whose added names and values (connection-specific ones included) take at
  // most `bytes` bytes. A field past that bound is left for nghttp2 to copy at the submit.
  void Start(size_t bytes);
  // A field whose name is a static lower-case string (a literal) and whose value is copied.
  void AddStatic(std::string_view name, std::string_view value);
  // A field copied with its name lower-cased; a connection-specific one is left out.
  void Add(std::string_view name, std::string_view value);

  const nghttp2_nv* data() const { return nva_.data(); }
  size_t size() const { return nva_.size(); }

 private:
  absl::InlinedVector<nghttp2_nv, 12> nva_;  // no allocation for a usual block
  // The copies: allocated by Start when too small, never moved while a block is built.
  std::unique_ptr<char[]> bytes_;
  size_t capacity_ = 0;
  size_t used_ = 0;
};

}  // namespace xgate::proxy
