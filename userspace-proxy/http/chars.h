// Character classes of RFC 9110/9112, as lookup tables (internal to the parser), and ASCII
// lower-casing eight bytes at a time (field names for HTTP/2, hostnames for routing).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace xgate::http::chars {

constexpr bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// field-vchar, SP and HTAB: what a field value may hold.
constexpr bool IsFieldValueChar(unsigned char c) {
  return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

constexpr std::array<bool, 256> MakeTable(bool (*pred)(unsigned char)) {
  std::array<bool, 256> t{};
  for (int i = 0; i < 256; ++i) t[i] = pred(static_cast<unsigned char>(i));
  return t;
}

inline constexpr std::array<bool, 256> kToken = MakeTable(IsTokenChar);
inline constexpr std::array<bool, 256> kFieldValue = MakeTable(IsFieldValueChar);

inline bool Token(char c) { return kToken[static_cast<unsigned char>(c)]; }
inline bool FieldValue(char c) { return kFieldValue[static_cast<unsigned char>(c)]; }

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline constexpr uint64_t kOnes = 0x0101010101010101;

// Eight bytes with their ASCII capitals lower-cased (bytes >= 0x80 left as they are).
constexpr uint64_t Lower8(uint64_t x) {
  uint64_t low7 = x & (kOnes * 0x7f);  // no carry from one byte into the next below
  uint64_t capital =
      (low7 + kOnes * (0x80 - 'A')) & ~(low7 + kOnes * (0x80 - 'Z' - 1)) & ~x & (kOnes * 0x80);
  return x | capital >> 2;  // 0x80 >> 2: the case bit
}

// Copies `n` bytes lower-cased (`out` may be `in`), eight at a time (a last, overlapping
// eight for the tail; 4 to 7 bytes as two overlapping fours).
inline void CopyLower(char* out, const char* in, size_t n) {
  uint64_t x;
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&x, in + i, 8);
      x = Lower8(x);
      std::memcpy(out + i, &x, 8);
    }
    std::memcpy(&x, in + n - 8, 8);
    x = Lower8(x);
    std::memcpy(out + n - 8, &x, 8);
    return;
  }
  if (n >= 4) {  // the first and the last four bytes (overlapping when n < 8)
    uint32_t first, last;
    std::memcpy(&first, in, 4);
    std::memcpy(&last, in + n - 4, 4);
    x = Lower8(first | uint64_t{last} << 32);
    first = static_cast<uint32_t>(x);
    last = static_cast<uint32_t>(x >> 32);
    std::memcpy(out, &first, 4);
    std::memcpy(out + n - 4, &last, 4);
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    char c = in[i];
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
  }
}

}  // namespace xgate::http::chars
