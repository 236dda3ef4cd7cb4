// Small writers for the Prometheus text format (0.0.4) shared by the agent's metrics pages.
#pragma once

#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace xgate::admin {

using Labels = std::vector<std::pair<std::string, std::string>>;

// "# HELP name help" and "# TYPE name type".
void MetricHeader(std::ostringstream& out, const std::string& name, const std::string& type,
                  const std::string& help);

// {a="x",b="y"} with values escaped; "" for no labels.
std::string LabelSet(const Labels& labels);

// A label value escaped for the text format: backslash, double quote and newline.
std::string EscapeLabelValue(const std::string& value);

// A sample value: integers as integers, other numbers in the shortest exact form.
std::string SampleValue(double value);

}  // namespace xgate::admin
