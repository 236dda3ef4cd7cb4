#include "agent/admin/prom_text.h"

#include "absl/strings/str_cat.h"
#include "spdlog/fmt/fmt.h"

namespace xgate::admin {

void MetricHeader(std::ostringstream& out, const std::string& name, const std::string& type,
                  const std::string& help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

std::string LabelSet(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    absl::StrAppend(&out, out.size() > 1 ? "," : "", name, "=\"", EscapeLabelValue(value), "\"");
  }
  return out + "}";
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string SampleValue(double value) { return fmt::format("{}", value); }

}  // namespace xgate::admin
