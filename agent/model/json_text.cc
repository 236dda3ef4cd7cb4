#include "agent/model/json_text.h"

#include <simdjson.h>

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

namespace {

json FromSimdjson(simdjson::dom::element e) {
  using Type = simdjson::dom::element_type;
  switch (e.type()) {
    case Type::OBJECT: {
      json out = json::object();
      auto& members = out.get_ref<json::object_t&>();
      // The last of a name given twice wins, as in nlohmann's parse.
      for (auto [key, value] : simdjson::dom::object(e)) {
        members.insert_or_assign(std::string(key), FromSimdjson(value));
      }
      return out;
    }
    case Type::ARRAY: {
      json out = json::array();
      auto& items = out.get_ref<json::array_t&>();
      for (simdjson::dom::element item : simdjson::dom::array(e)) {
        items.push_back(FromSimdjson(item));
      }
      return out;
    }
    case Type::STRING:
      return json(std::string(std::string_view(e)));
    case Type::INT64: {
      const int64_t v = int64_t(e);
      return v >= 0 ? json(static_cast<uint64_t>(v)) : json(v);
    }
    case Type::UINT64:
      return json(uint64_t(e));
    case Type::DOUBLE:
      return json(double(e));
    case Type::BOOL:
      return json(bool(e));
    case Type::NULL_VALUE:
      return json(nullptr);
  }
  return json(nullptr);
}

}  // namespace

json ParseJson(std::string_view text) {
  // Its buffers are kept for the next text, up to a size (a list page of 500 routes takes
  // ~0.6 MB; a page of large ConfigMaps is not kept).
  constexpr size_t kMostKept = 8 << 20;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  json tree;
  if (parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(root) ==
      simdjson::SUCCESS) {
    tree = FromSimdjson(root);
  } else {
    tree = json::parse(text, nullptr, /*allow_exceptions=*/false);
  }
  if (parser.capacity() > kMostKept) parser = simdjson::dom::parser();
  return tree;
}

std::string CompactJson(const json& value) {
  // Written into a buffer that has grown already, then copied once at its size: appending to a
  // fresh string reallocates and copies it several times over for an object of a few KB.
  return WithCompactJson(value, [](std::string_view text) { return std::string(text); });
}

}  // namespace xgate::model
