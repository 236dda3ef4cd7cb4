// Feeds bytes to a parser the way a connection does (append, parse, drop what was consumed)
// and records what came out, so tests can compare deliveries split at any boundary.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "userspace-proxy/http/request_parser.h"
#include "userspace-proxy/http/response_parser.h"

namespace xgate::http::testing {

struct Transcript {
  std::vector<RequestHead> requests;
  std::vector<ResponseHead> responses;
  std::vector<BodyFraming> framings;
  std::vector<bool> keep_alive;
  std::vector<std::string> bodies;  // one per message
  std::vector<std::vector<Header>> trailers;
  int completed = 0;
  ParseError error = ParseError::kNone;
  size_t left_over = 0;  // bytes still buffered after the last piece

  bool operator==(const Transcript& o) const;
};

// Splits `input` into pieces at the given offsets (ascending).
std::vector<std::string_view> SplitAt(std::string_view input, const std::vector<size_t>& cuts);

Transcript DriveRequests(const std::vector<std::string_view>& pieces,
                         const Limits& limits = Limits(), bool eof = false);
inline Transcript DriveRequests(std::string_view input, const Limits& limits = Limits()) {
  return DriveRequests(std::vector<std::string_view>{input}, limits);
}

// `methods` gives the request method each successive response answers.
Transcript DriveResponses(const std::vector<std::string_view>& pieces,
                          const std::vector<std::string>& methods, bool eof = false);

}  // namespace xgate::http::testing
