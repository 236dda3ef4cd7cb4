// The watch stream decoder: events cut anywhere by the transport, lines that are not events,
// and a caller that ends the watch.
#include "agent/sources/kube/watch_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace xgate::kube {
namespace {

std::vector<std::string> FeedInPieces(const std::string& body, size_t piece) {
  WatchStream stream("/apis/x/v1/things");
  std::vector<std::string> seen;
  for (size_t at = 0; at < body.size(); at += piece) {
    stream.Feed(body.substr(at, piece), [&](const WatchEvent& event) {
      bool named = event.object.is_object() && event.object.contains("name");
      seen.push_back(event.type + " " + (named ? event.object["name"].get<std::string>() : "-"));
      return true;
    });
  }
  return seen;
}

TEST(WatchStream, EventsCutAnywhereArriveWholeAndInOrder) {
  std::string body =
      "{\"type\":\"ADDED\",\"object\":{\"name\":\"a\"}}\n"
      "\r\n"
      "not json\n"
      "{\"type\":7,\"object\":{}}\n"
      "[1,2]\n"
      "{\"type\":\"DELETED\",\"object\":{\"name\":\"b\"}}\n"
      "{\"type\":\"BOOKMARK\"}\n"
      "{\"type\":\"MODIFIED\",\"object\":{\"name\":\"partial\"";  // no newline yet: waits
  std::vector<std::string> want = {"ADDED a", "DELETED b", "BOOKMARK -"};
  for (size_t piece : {body.size(), size_t{1}, size_t{2}, size_t{7}, size_t{64}}) {
    EXPECT_EQ(FeedInPieces(body, piece), want) << "pieces of " << piece;
  }
}

TEST(WatchStream, KeepsThePartialLineAndStopsWhenAsked) {
  WatchStream stream("/api/v1/services");
  int calls = 0;
  auto stop_after_one = [&](const WatchEvent&) { return ++calls < 1; };
  EXPECT_TRUE(stream.Feed("{\"type\":\"ADDED\",", stop_after_one));
  EXPECT_GT(stream.pending(), 0u);
  EXPECT_FALSE(stream.Feed("\"object\":{}}\n{\"type\":\"ADDED\",\"object\":{}}\n", stop_after_one));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(stream.pending(), 0u);
}

}  // namespace
}  // namespace xgate::kube
