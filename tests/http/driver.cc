#include "tests/http/driver.h"

namespace xgate::http::testing {
namespace {

bool SameHeaders(const HeaderMap& a, const HeaderMap& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a.fields()[i].name != b.fields()[i].name || a.fields()[i].value != b.fields()[i].value) {
      return false;
    }
  }
  return true;
}

std::vector<Header> CopyFields(std::span<const HeaderView> views) {
  std::vector<Header> out;
  for (const HeaderView& v : views)
    out.push_back(Header{std::string(v.name), std::string(v.value)});
  return out;
}

// Runs the append/parse/drop loop over `pieces` for either parser kind.
template <typename Parser, typename OnHead>
Transcript Drive(Parser& parser, const std::vector<std::string_view>& pieces, bool eof,
                 OnHead on_head) {
  Transcript t;
  std::string buf;
  auto handle = [&](Step s) -> bool {  // false: stop
    switch (s.kind) {
      case StepKind::kNeedMore:
        buf.erase(0, s.consumed);
        return false;
      case StepKind::kHeadComplete:
        on_head(t);
        t.bodies.emplace_back();
        break;
      case StepKind::kBodyData:
        t.bodies.back().append(s.body);
        break;
      case StepKind::kMessageComplete:
        ++t.completed;
        t.trailers.push_back(CopyFields(parser.trailers()));
        break;
      case StepKind::kError:
        t.error = parser.error();
        return false;
    }
    buf.erase(0, s.consumed);
    return true;
  };
  for (std::string_view piece : pieces) {
    buf.append(piece);
    while (t.error == ParseError::kNone && handle(parser.Parse(buf))) {
    }
    if (t.error != ParseError::kNone) break;
  }
  if (eof && t.error == ParseError::kNone) {
    handle(parser.OnEof());
  }
  t.left_over = buf.size();
  return t;
}

}  // namespace

bool Transcript::operator==(const Transcript& o) const {
  if (requests.size() != o.requests.size() || responses.size() != o.responses.size()) return false;
  for (size_t i = 0; i < requests.size(); ++i) {
    const RequestHead &a = requests[i], &b = o.requests[i];
    if (a.method != b.method || a.path != b.path || a.host != b.host ||
        a.version_minor != b.version_minor || !SameHeaders(a.headers, b.headers)) {
      return false;
    }
  }
  for (size_t i = 0; i < responses.size(); ++i) {
    const ResponseHead &a = responses[i], &b = o.responses[i];
    if (a.status != b.status || a.reason != b.reason || !SameHeaders(a.headers, b.headers)) {
      return false;
    }
  }
  if (trailers.size() != o.trailers.size()) return false;
  for (size_t i = 0; i < trailers.size(); ++i) {
    if (trailers[i].size() != o.trailers[i].size()) return false;
    for (size_t j = 0; j < trailers[i].size(); ++j) {
      if (trailers[i][j].name != o.trailers[i][j].name ||
          trailers[i][j].value != o.trailers[i][j].value) {
        return false;
      }
    }
  }
  return framings == o.framings && keep_alive == o.keep_alive && bodies == o.bodies &&
         completed == o.completed && error == o.error && left_over == o.left_over;
}

std::vector<std::string_view> SplitAt(std::string_view input, const std::vector<size_t>& cuts) {
  std::vector<std::string_view> out;
  size_t prev = 0;
  for (size_t c : cuts) {
    out.push_back(input.substr(prev, c - prev));
    prev = c;
  }
  out.push_back(input.substr(prev));
  return out;
}

Transcript DriveRequests(const std::vector<std::string_view>& pieces, const Limits& limits,
                         bool eof) {
  RequestParser parser(limits);
  return Drive(parser, pieces, eof, [&](Transcript& t) {
    t.requests.push_back(ToRequestHead(parser.head()));
    t.framings.push_back(parser.head().framing);
    t.keep_alive.push_back(parser.head().keep_alive);
  });
}

Transcript DriveResponses(const std::vector<std::string_view>& pieces,
                          const std::vector<std::string>& methods, bool eof) {
  ResponseParser parser;
  size_t next_method = 0;
  if (!methods.empty()) parser.ExpectResponseTo(methods[next_method++]);
  Transcript t = Drive(parser, pieces, eof, [&](Transcript& tr) {
    tr.responses.push_back(ToResponseHead(parser.head()));
    tr.framings.push_back(parser.head().framing);
    tr.keep_alive.push_back(parser.head().keep_alive);
    // The next response (after a final one) answers the next request.
    if (parser.head().status >= 200 && next_method < methods.size()) {
      // Applied once this message completes: ExpectResponseTo only affects the next head.
      parser.ExpectResponseTo(methods[next_method++]);
    }
  });
  return t;
}

}  // namespace xgate::http::testing
