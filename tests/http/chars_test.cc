#include "userspace-proxy/http/chars.h"

#include <gtest/gtest.h>

#include <string>

namespace xgate::http::chars {
namespace {

// Byte by byte, as the definition: ASCII capitals lower-cased, every other byte kept.
std::string LowerByBytes(const std::string& in) {
  std::string out = in;
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Every length from 0 to 40 (the 1-3, 4-7 and eight-byte paths with their overlapping
// tails), each byte value at each position: capitals, their neighbours '@' and '[',
// lower-case letters, digits and bytes >= 0x80 (whose low seven bits are capitals).
TEST(CopyLower, MatchesByteByByteLowering) {
  const std::string alphabet = std::string("AZaz@[`{09-.") + "\xc1\xda\x80\xff";
  for (size_t n = 0; n <= 40; ++n) {
    for (size_t shift = 0; shift < alphabet.size(); ++shift) {
      std::string in(n, ' ');
      for (size_t i = 0; i < n; ++i) in[i] = alphabet[(i * 7 + shift) % alphabet.size()];
      std::string out(n, '#');
      CopyLower(out.data(), in.data(), n);
      ASSERT_EQ(out, LowerByBytes(in)) << "length " << n << " shift " << shift;
      std::string in_place = in;
      CopyLower(in_place.data(), in_place.data(), n);
      ASSERT_EQ(in_place, LowerByBytes(in)) << "in place, length " << n;
    }
  }
}

}  // namespace
}  // namespace xgate::http::chars
