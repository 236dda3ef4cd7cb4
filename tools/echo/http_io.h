// Small HTTP/1.1 message I/O shared by the echo backend and the conformance runner's
// client. Test tooling: blocking sockets with timeouts, optionally wrapped in TLS.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace xgate::echo {

// A byte stream over a connected socket (owned), optionally through TLS (owned).
class Stream {
 public:
  Stream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Reads one line ending in LF (CRLF or LF stripped). Fails on EOF or when longer than max.
  absl::StatusOr<std::string> ReadLine(size_t max);
  absl::StatusOr<std::string> ReadExactly(size_t n);
  // Everything up to EOF, at most max bytes.
  absl::StatusOr<std::string> ReadToEnd(size_t max);
  // What is buffered, else what one read brings (at most max bytes); "" on EOF.
  absl::StatusOr<std::string> ReadSome(size_t max);
  // True when the peer closed before sending anything more (waits for data or EOF).
  bool AtEof();
  absl::Status WriteAll(absl::string_view data);
  // Half-closes the sending side (TLS close_notify first).
  void Shutdown();
  int fd() const { return fd_; }

 private:
  // Appends what is available to buf_; 0 on EOF.
  absl::StatusOr<size_t> Fill();
  int fd_;
  SSL* ssl_;
  std::string buf_;
  size_t pos_ = 0;
};

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// A request or response: the first line split in three, the header lines as received,
// and the decoded body.
struct Message {
  std::string first;   // method, or protocol for responses
  std::string second;  // target, or status code
  std::string third;   // protocol, or reason
  Headers headers;
  std::string body;
};

// Reads the first line and the header block (up to the empty line).
absl::StatusOr<Message> ReadHead(Stream& s, size_t max_bytes = 64 * 1024);
// Reads the body the headers announce (chunked or Content-Length). With neither, a response
// (`until_eof`) reads to EOF and a request has no body.
absl::Status ReadBody(Stream& s, Message& m, bool until_eof, size_t max_bytes = 16 << 20);

// Go's textproto.CanonicalMIMEHeaderKey: "x-foo-bar" -> "X-Foo-Bar"; names holding a
// byte that is not a token character are returned unchanged.
std::string CanonicalHeaderKey(absl::string_view name);
bool HeaderNameEquals(absl::string_view a, absl::string_view b);
// All values of the header `name` (any case), joined with "," and no space; nullopt-like
// empty result distinguished by `found`.
std::string JoinedHeader(const Headers& h, absl::string_view name, bool* found = nullptr);

}  // namespace xgate::echo
