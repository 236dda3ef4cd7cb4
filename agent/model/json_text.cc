#include "agent/model/json_text.h"

#include <charconv>
#include <cstdio>

namespace xgate::model {
namespace {

using nlohmann::json;

void AppendEscaped(char c, std::string& out) {
  switch (c) {
    case '\b':
      out += "\\b";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\r':
      out += "\\r";
      return;
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    default: {
      char code[8];
      std::snprintf(code, sizeof code, "\\u%04x", static_cast<unsigned>(c));
      out += code;
    }
  }
}

void AppendString(const std::string& s, std::string& out) {
  const size_t start = out.size();
  out.push_back('"');
  const char* run = s.data();
  const char* end = s.data() + s.size();
  for (const char* p = run; p != end; ++p) {
    const auto byte = static_cast<unsigned char>(*p);
    if (byte >= 0x20 && byte < 0x80 && byte != '"' && byte != '\\') continue;
    if (byte >= 0x80) {  // UTF-8: nlohmann decodes it (and refuses what is not)
      out.resize(start);
      out += json(s).dump();
      return;
    }
    out.append(run, p);
    AppendEscaped(*p, out);
    run = p + 1;
  }
  out.append(run, end);
  out.push_back('"');
}

template <typename Number>
void AppendNumber(Number n, std::string& out) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

void Append(const json& value, std::string& out) {
  switch (value.type()) {
    case json::value_t::object: {
      const auto& members = value.get_ref<const json::object_t&>();
      if (members.empty()) {
        out += "{}";
        return;
      }
      char separator = '{';
      for (const auto& [key, member] : members) {
        out.push_back(separator);
        separator = ',';
        AppendString(key, out);
        out.push_back(':');
        Append(member, out);
      }
      out.push_back('}');
      return;
    }
    case json::value_t::array: {
      const auto& items = value.get_ref<const json::array_t&>();
      if (items.empty()) {
        out += "[]";
        return;
      }
      char separator = '[';
      for (const json& item : items) {
        out.push_back(separator);
        separator = ',';
        Append(item, out);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::string:
      AppendString(value.get_ref<const std::string&>(), out);
      return;
    case json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case json::value_t::number_integer:
      AppendNumber(value.get<json::number_integer_t>(), out);
      return;
    case json::value_t::number_unsigned:
      AppendNumber(value.get<json::number_unsigned_t>(), out);
      return;
    case json::value_t::null:
      out += "null";
      return;
    default:  // floats (nlohmann's shortest round trip), binary, discarded
      out += value.dump();
  }
}

}  // namespace

void CompactJsonInto(const json& value, std::string& out) {
  out.clear();
  Append(value, out);
}

std::string CompactJson(const json& value) {
  // Written into a buffer that has grown already, then copied once at its size: appending to a
  // fresh string reallocates and copies it several times over for an object of a few KB.
  constexpr size_t kMostKept = 1 << 20;
  thread_local std::string scratch;
  CompactJsonInto(value, scratch);
  std::string out(scratch);
  if (scratch.capacity() > kMostKept) std::string().swap(scratch);
  return out;
}

}  // namespace xgate::model
