#include "tools/echo/http_io.h"

#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace xgate::echo {

Stream::~Stream() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<size_t> Stream::Fill() {
  char tmp[16384];
  if (ssl_ != nullptr) {
    int n = SSL_read(ssl_, tmp, sizeof tmp);
    if (n > 0) {
      buf_.append(tmp, n);
      return static_cast<size_t>(n);
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0) return 0;
    if (err == SSL_ERROR_SSL) {
      // A peer that closes without close_notify shows up here on OpenSSL 3.
      unsigned long e = ERR_get_error();
      if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return 0;
      ERR_clear_error();
      return absl::UnavailableError("TLS read failed");
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return absl::DeadlineExceededError("read timed out");
    return absl::UnavailableError(absl::StrCat("TLS read failed: ", std::strerror(errno)));
  }
  for (;;) {
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n >= 0) {
      buf_.append(tmp, n);
      return static_cast<size_t>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return absl::DeadlineExceededError("read timed out");
    return absl::UnavailableError(absl::StrCat("read failed: ", std::strerror(errno)));
  }
}

absl::StatusOr<std::string> Stream::ReadLine(size_t max) {
  for (;;) {
    size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buf_.size() - pos_ > max) return absl::ResourceExhaustedError("line too long");
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    absl::StatusOr<size_t> n = Fill();
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::UnavailableError("connection closed");
  }
}

absl::StatusOr<std::string> Stream::ReadExactly(size_t n) {
  while (buf_.size() - pos_ < n) {
    absl::StatusOr<size_t> got = Fill();
    if (!got.ok()) return got.status();
    if (*got == 0) return absl::UnavailableError("connection closed in the middle of a body");
  }
  std::string out = buf_.substr(pos_, n);
  pos_ += n;
  return out;
}

absl::StatusOr<std::string> Stream::ReadToEnd(size_t max) {
  for (;;) {
    if (buf_.size() - pos_ > max) return absl::ResourceExhaustedError("body too long");
    absl::StatusOr<size_t> got = Fill();
    if (!got.ok()) return got.status();
    if (*got == 0) break;
  }
  std::string out = buf_.substr(pos_);
  pos_ = buf_.size();
  return out;
}

absl::StatusOr<std::string> Stream::ReadSome(size_t max) {
  if (pos_ >= buf_.size()) {
    buf_.clear();
    pos_ = 0;
    absl::StatusOr<size_t> got = Fill();
    if (!got.ok()) return got.status();
    if (*got == 0) return std::string();
  }
  size_t n = std::min(max, buf_.size() - pos_);
  std::string out = buf_.substr(pos_, n);
  pos_ += n;
  return out;
}

bool Stream::AtEof() {
  if (pos_ < buf_.size()) return false;
  absl::StatusOr<size_t> got = Fill();
  return !got.ok() || *got == 0;
}

absl::Status Stream::WriteAll(absl::string_view data) {
  while (!data.empty()) {
    ssize_t n;
    if (ssl_ != nullptr) {
      n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      if (n <= 0) return absl::UnavailableError("TLS write failed");
    } else {
      n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(absl::StrCat("write failed: ", std::strerror(errno)));
      }
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

void Stream::Shutdown() {
  if (ssl_ != nullptr) SSL_shutdown(ssl_);
  shutdown(fd_, SHUT_WR);
}

absl::StatusOr<Message> ReadHead(Stream& s, size_t max_bytes) {
  Message m;
  absl::StatusOr<std::string> line = s.ReadLine(max_bytes);
  if (!line.ok()) return line.status();
  std::vector<std::string> parts = absl::StrSplit(*line, absl::MaxSplits(' ', 2));
  if (parts.size() < 2) return absl::InvalidArgumentError(absl::StrCat("bad first line: ", *line));
  m.first = parts[0];
  m.second = parts[1];
  if (parts.size() == 3) m.third = parts[2];
  size_t total = line->size();
  for (;;) {
    absl::StatusOr<std::string> h = s.ReadLine(max_bytes);
    if (!h.ok()) return h.status();
    if (h->empty()) break;
    total += h->size();
    if (total > max_bytes) return absl::ResourceExhaustedError("header block too large");
    size_t colon = h->find(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad header line: ", *h));
    }
    m.headers.push_back(
        {h->substr(0, colon), std::string(absl::StripAsciiWhitespace(h->substr(colon + 1)))});
  }
  return m;
}

absl::Status ReadBody(Stream& s, Message& m, bool until_eof, size_t max_bytes) {
  bool found = false;
  std::string te = absl::AsciiStrToLower(JoinedHeader(m.headers, "Transfer-Encoding", &found));
  if (found && absl::StrContains(te, "chunked")) {
    for (;;) {
      absl::StatusOr<std::string> size_line = s.ReadLine(4096);
      if (!size_line.ok()) return size_line.status();
      absl::string_view hex = *size_line;
      hex = hex.substr(0, hex.find(';'));
      hex = absl::StripAsciiWhitespace(hex);
      uint64_t size = 0;
      if (hex.empty() || !absl::SimpleHexAtoi(hex, &size) || size > max_bytes) {
        return absl::InvalidArgumentError(absl::StrCat("bad chunk size: ", *size_line));
      }
      if (size == 0) {
        for (;;) {  // trailers
          absl::StatusOr<std::string> t = s.ReadLine(4096);
          if (!t.ok()) return t.status();
          if (t->empty()) return absl::OkStatus();
        }
      }
      absl::StatusOr<std::string> chunk = s.ReadExactly(size);
      if (!chunk.ok()) return chunk.status();
      m.body += *chunk;
      if (m.body.size() > max_bytes) return absl::ResourceExhaustedError("body too long");
      absl::StatusOr<std::string> crlf = s.ReadLine(2);
      if (!crlf.ok()) return crlf.status();
    }
  }
  std::string cl = JoinedHeader(m.headers, "Content-Length", &found);
  if (found) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(cl, &n) || n > max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("bad Content-Length: ", cl));
    }
    absl::StatusOr<std::string> body = s.ReadExactly(n);
    if (!body.ok()) return body.status();
    m.body = *std::move(body);
    return absl::OkStatus();
  }
  if (!until_eof) return absl::OkStatus();
  absl::StatusOr<std::string> body = s.ReadToEnd(max_bytes);
  if (!body.ok()) return body.status();
  m.body = *std::move(body);
  return absl::OkStatus();
}

namespace {
bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}
}  // namespace

std::string CanonicalHeaderKey(absl::string_view name) {
  for (char c : name) {
    if (!IsTokenChar(c)) return std::string(name);
  }
  std::string out(name);
  bool upper = true;
  for (char& c : out) {
    c = upper ? absl::ascii_toupper(static_cast<unsigned char>(c))
              : absl::ascii_tolower(static_cast<unsigned char>(c));
    upper = c == '-';
  }
  return out;
}

bool HeaderNameEquals(absl::string_view a, absl::string_view b) {
  return absl::EqualsIgnoreCase(a, b);
}

std::string JoinedHeader(const Headers& h, absl::string_view name, bool* found) {
  std::string out;
  bool any = false;
  for (const Header& x : h) {
    if (!HeaderNameEquals(x.name, name)) continue;
    if (any) out += ',';
    out += x.value;
    any = true;
  }
  if (found != nullptr) *found = any;
  return out;
}

}  // namespace xgate::echo
