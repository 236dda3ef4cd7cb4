// Character classes of RFC 9110/9112, as lookup tables (internal to the parser).
#pragma once

#include <array>
#include <cstdint>

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

}  // namespace xgate::http::chars
