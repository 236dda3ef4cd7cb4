#include "userspace-proxy/http/serializer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "absl/container/inlined_vector.h"
#include "userspace-proxy/http/header_semantics.h"

namespace xgate::http {
namespace {

// absl::string_view is not std::string_view in this absl build, so append by hand.
template <typename... Parts>
void Append(std::string* out, const Parts&... parts) {
  (out->append(parts), ...);
}

void AppendNumber(std::string* out, uint64_t value, int base) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof(buf), value, base);
  out->append(buf, res.ptr);
}

// At least what AppendFields writes: received lines lie within received() (each written
// once), another line takes name, ": ", value, CRLF.
size_t FieldsBound(const HeaderMap& headers) {
  size_t n = headers.received().size() + 2;
  for (const HeaderView& h : headers.fields()) n += h.name.size() + h.value.size() + 4;
  return n;
}

bool Within(std::string_view outer, const char* begin, const char* end) {
  auto b = reinterpret_cast<uintptr_t>(begin), e = reinterpret_cast<uintptr_t>(end);
  auto ob = reinterpret_cast<uintptr_t>(outer.data());
  return b >= ob && e <= ob + outer.size();
}

// The field's line as received ("Name:" OWS value) when it is unchanged, else "".
std::string_view ReceivedLine(std::string_view received, const HeaderView& h) {
  if (h.value.empty()) return {};
  const char* begin = h.name.data();
  const char* name_end = begin + h.name.size();
  const char* end = h.value.data() + h.value.size();
  if (!Within(received, begin, end) || h.value.data() <= name_end || *name_end != ':') return {};
  for (const char* c = name_end + 1; c < h.value.data(); ++c) {
    if (*c != ' ' && *c != '\t') return {};
  }
  return std::string_view(begin, static_cast<size_t>(end - begin));
}

// Unchanged fields that were adjacent when received are written as one span of the
// received bytes; the others line by line. `out` is grown once to a bound (received lines
// lie within received(), each once; another takes name, ": ", value), written in one pass
// that finds each field's received line once, and cut to what was written.
void AppendFields(const HeaderMap& headers, std::string* out) {
  std::string_view received = headers.received();
  // Received lines are taken in increasing order only (a field met again, or out of order,
  // is written anew): those written never add up to more than received().
  const char* next = received.data();
  auto line_of = [&](const HeaderView& h) {
    if (received.empty()) return std::string_view();
    std::string_view line = ReceivedLine(received, h);
    if (line.empty() || line.data() < next) return std::string_view();
    next = line.data() + line.size();
    return line;
  };
  size_t bound = FieldsBound(headers);
  size_t at = out->size();
  out->resize(at + bound);
  char* p = out->data() + at;
  auto put = [&p](std::string_view bytes) {
    std::memcpy(p, bytes.data(), bytes.size());
    p += bytes.size();
  };
  const char* run = nullptr;
  const char* run_end = nullptr;
  auto flush = [&] {
    if (run == nullptr) return;
    put(std::string_view(run, static_cast<size_t>(run_end - run)));
    put("\r\n");
    run = nullptr;
  };
  for (const HeaderView& h : headers.fields()) {
    std::string_view line = line_of(h);
    if (!line.empty()) {
      if (run != nullptr && line.data() == run_end + 2 && run_end[0] == '\r' &&
          run_end[1] == '\n') {
        run_end = line.data() + line.size();
        continue;
      }
      flush();
      run = line.data();
      run_end = line.data() + line.size();
      continue;
    }
    flush();
    put(h.name);
    put(": ");
    put(h.value);
    put("\r\n");
  }
  flush();
  out->resize(static_cast<size_t>(p - out->data()));
}

}  // namespace

void StripHopByHop(HeaderMap& headers) {
  if (!headers.may_hold_hop_fields()) return;
  // The fields Connection names (views into the map's storage, which erasing leaves in
  // place), except hop-by-hop ones: one pass then removes both kinds.
  absl::InlinedVector<std::string_view, 2> named;
  for (const HeaderView& h : headers.fields()) {
    if (h.name.size() != 10 || !EqualsIgnoreCase(h.name, "connection")) continue;
    internal::ForEachListElement(h.value, [&](std::string_view e) {
      if (!IsHopByHop(e)) named.push_back(e);
    });
  }
  auto& fields = headers.mutable_fields();
  fields.erase(std::remove_if(fields.begin(), fields.end(),
                              [&](const HeaderView& h) {
                                if (IsHopByHop(h.name)) return true;
                                for (std::string_view n : named) {
                                  if (EqualsIgnoreCase(h.name, n)) return true;
                                }
                                return false;
                              }),
               fields.end());
}

void AppendRequestHead(const RequestHead& head, std::string* out) {
  // One allocation for the whole head instead of doubling as it grows.
  out->reserve(out->size() + head.method.size() + head.path.size() + head.host.size() + 32 +
               FieldsBound(head.headers));
  Append(out, head.method, " ", head.path.empty() ? std::string_view("/") : head.path,
         " HTTP/1.1\r\nHost: ", head.host, "\r\n");
  AppendFields(head.headers, out);
  out->append("\r\n");
}

void AppendResponseHead(const ResponseHead& head, std::string* out, std::string_view framing) {
  std::string_view reason = head.reason.empty() ? ReasonPhrase(head.status) : head.reason;
  out->reserve(out->size() + 16 + reason.size() + FieldsBound(head.headers) + framing.size());
  if (head.status >= 100 && head.status <= 999) {  // three digits, as nearly every status
    char line[13] = {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' '};
    line[9] = static_cast<char>('0' + head.status / 100);
    line[10] = static_cast<char>('0' + head.status / 10 % 10);
    line[11] = static_cast<char>('0' + head.status % 10);
    line[12] = ' ';
    out->append(line, sizeof(line));
  } else {
    out->append("HTTP/1.1 ");
    AppendNumber(out, static_cast<uint64_t>(head.status), 10);
    out->push_back(' ');
  }
  Append(out, reason, "\r\n");
  AppendFields(head.headers, out);
  Append(out, framing, "\r\n");
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void AppendChunk(std::string_view data, std::string* out) {
  if (data.empty()) return;
  AppendNumber(out, data.size(), 16);
  out->append("\r\n");
  out->append(data);
  out->append("\r\n");
}

void AppendLastChunk(std::span<const Header> trailers, std::string* out) {
  out->append("0\r\n");
  for (const Header& h : trailers) Append(out, h.name, ": ", h.value, "\r\n");
  out->append("\r\n");
}

std::string MakeSimpleResponse(int status, std::span<const Header> headers, std::string_view body,
                               bool close) {
  std::string out;
  out.append("HTTP/1.1 ");
  AppendNumber(&out, static_cast<uint64_t>(status), 10);
  Append(&out, " ", ReasonPhrase(status), "\r\n");
  for (const Header& h : headers) Append(&out, h.name, ": ", h.value, "\r\n");
  out.append("Content-Length: ");
  AppendNumber(&out, body.size(), 10);
  out.append("\r\n");
  if (close) out.append("Connection: close\r\n");
  out.append("\r\n");
  out.append(body);
  return out;
}

}  // namespace xgate::http
