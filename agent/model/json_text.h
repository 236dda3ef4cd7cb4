// An object's JSON as compact text: what nlohmann::json's dump() writes, written several
// times faster. Every object decoded keeps its JSON as text (RawJson), so a cold start of
// 10,000 routes with their Services and EndpointSlices writes 30,000 of them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace xgate::model {

// The same text as value.dump(), and the same exception where dump() throws one (a string
// that is not UTF-8).
std::string CompactJson(const nlohmann::json& value);
// The same text into `out`, which is cleared first: a buffer kept across calls allocates
// nothing once it has grown to the largest object.
void CompactJsonInto(const nlohmann::json& value, std::string& out);
// Calls `use` with the same text, written into a buffer this thread keeps (up to 1 MB) for its
// next call: what uses the text without keeping it (a digest) allocates nothing for it.
template <typename F>
auto WithCompactJson(const nlohmann::json& value, F use) {
  constexpr size_t kMostKept = 1 << 20;
  thread_local std::string scratch;
  CompactJsonInto(value, scratch);
  auto result = use(std::string_view(scratch));
  if (scratch.capacity() > kMostKept) std::string().swap(scratch);
  return result;
}

// The tree nlohmann::json::parse(text) makes (the same value types: a non-negative integer is
// unsigned), parsed with simdjson: a list of 500 objects from the API server in about half the
// time. Discarded (is_discarded()) where nlohmann::json::parse refuses the text; what simdjson
// refuses (an integer beyond 64 bits, nesting deeper than 1,024) is parsed by nlohmann.
nlohmann::json ParseJson(std::string_view text);

}  // namespace xgate::model
