// libFuzzer target for the HTTP/1.1 parsers. The first input byte picks how the rest is cut
// into deliveries and which parser runs. Properties checked (trap on violation):
//  - the outcome does not depend on how the bytes are split into deliveries;
//  - consumed counts and body views stay within the input given;
//  - a request head that parses, serialized again, parses to the same method, path and host.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "userspace-proxy/http/request_parser.h"
#include "userspace-proxy/http/response_parser.h"
#include "userspace-proxy/http/serializer.h"

namespace {

using xgate::http::Step;
using xgate::http::StepKind;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Appends piecewise (`"x" + std::string` trips GCC 12's -Wrestrict false positive).
template <typename... Parts>
void Add(std::string& out, const Parts&... parts) {
  (out.append(parts), ...);
}

// Appends pieces of `step` bytes, parsing after each, and returns a digest of every event.
template <typename Parser>
std::string Digest(Parser& parser, std::string_view input, size_t step, bool reserialize) {
  std::string digest, buf;
  size_t fed = 0;
  bool failed = false;
  bool in_body = false;  // consecutive body pieces merge, so splits do not show
  while (!failed && fed < input.size()) {
    size_t n = std::min(step, input.size() - fed);
    buf.append(input.substr(fed, n));
    fed += n;
    for (;;) {
      Step s = parser.Parse(buf);
      Check(s.consumed <= buf.size());
      if (s.kind == StepKind::kNeedMore) {
        buf.erase(0, s.consumed);
        break;
      }
      if (s.kind == StepKind::kError) {
        Add(digest, "E", xgate::http::ParseErrorName(parser.error()));
        failed = true;
        break;
      }
      if (s.kind != StepKind::kBodyData) in_body = false;
      if (s.kind == StepKind::kHeadComplete) {
        Add(digest, "H", std::to_string(parser.head().headers.size()));
        if constexpr (std::is_same_v<Parser, xgate::http::RequestParser>) {
          xgate::http::RequestHead head = xgate::http::ToRequestHead(parser.head());
          Add(digest, head.method, " ", head.path, " ", head.host, ";");
          if (reserialize) {
            std::string wire;
            xgate::http::AppendRequestHead(head, &wire);
            // Room for the Host line the serializer adds in front of the fields.
            xgate::http::Limits roomier;
            roomier.max_headers += 1;
            roomier.max_head_bytes += roomier.max_request_line;
            xgate::http::RequestParser again(roomier);
            Check(again.Parse(wire).kind == StepKind::kHeadComplete);
            Check(again.head().method == head.method);
            Check(again.head().host == head.host);
            Check(xgate::http::ToRequestHead(again.head()).path == head.path);
          }
        } else {
          Add(digest, std::to_string(parser.head().status), ";");
        }
      } else if (s.kind == StepKind::kBodyData) {
        Check(s.body.data() >= buf.data() &&
              s.body.data() + s.body.size() <= buf.data() + buf.size());
        if (!in_body) digest += "B";
        in_body = true;
        digest.append(s.body);
      } else {
        Add(digest, "C", std::to_string(parser.trailers().size()));
      }
      buf.erase(0, s.consumed);
    }
  }
  if (!failed) {
    Step s = parser.OnEof();
    digest += s.kind == StepKind::kError ? "eof-error" : "eof";
  }
  return digest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t step = 1 + (mode & 0x0f);
  if ((mode & 0x10) == 0) {
    xgate::http::RequestParser whole, split;
    Check(Digest(whole, input, input.size() + 1, true) == Digest(split, input, step, false));
  } else {
    xgate::http::ResponseParser whole, split;
    const char* method = (mode & 0x20) ? "HEAD" : "GET";
    whole.ExpectResponseTo(method);
    split.ExpectResponseTo(method);
    Check(Digest(whole, input, input.size() + 1, false) == Digest(split, input, step, false));
  }
  return 0;
}
