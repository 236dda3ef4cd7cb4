// The parser allocates at construction only: parsing heads, headers, bodies and trailers
// of any number of messages never reaches operator new.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "userspace-proxy/http/request_parser.h"
#include "userspace-proxy/http/response_parser.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<size_t> allocations{0};
}  // namespace

void* operator new(size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace xgate::http {
namespace {

template <typename Parser>
size_t AllocationsWhileParsing(Parser& parser, std::string_view input) {
  allocations = 0;
  counting = true;
  int completed = 0;
  while (!input.empty()) {
    Step s = parser.Parse(input);
    if (s.kind == StepKind::kError || s.kind == StepKind::kNeedMore) break;
    if (s.kind == StepKind::kMessageComplete) ++completed;
    input.remove_prefix(s.consumed);
  }
  counting = false;
  EXPECT_GT(completed, 0);
  EXPECT_TRUE(input.empty());
  return allocations;
}

TEST(Allocation, NoneWhileParsingRequests) {
  std::string input;
  for (int i = 0; i < 50; ++i) {
    input +=
        "POST /items?id=7 HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\nAccept: */*\r\n"
        "X-A: 1\r\nX-B: 2\r\nX-C: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;e=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  }
  RequestParser parser;
  EXPECT_EQ(AllocationsWhileParsing(parser, input), 0u);
}

TEST(Allocation, NoneWhileParsingResponses) {
  std::string input;
  for (int i = 0; i < 50; ++i) {
    input +=
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\nServer: s\r\n\r\n";
  }
  ResponseParser parser;
  EXPECT_EQ(AllocationsWhileParsing(parser, input), 0u);
}

}  // namespace
}  // namespace xgate::http
