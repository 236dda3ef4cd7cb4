// A strict reader of the Prometheus text exposition format (version 0.0.4) for tests: every
// sample must belong to a family declared by a preceding "# TYPE" line (histograms through
// _bucket/_sum/_count), label values are unescaped, a malformed line is an error.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace xgate::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromText {
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram
  std::vector<PromSample> samples;
  std::string error;  // the first malformed line, "" when none

  // The sum of `name`'s samples whose labels include every pair of `match`; nullopt when none.
  std::optional<double> Sum(const std::string& name,
                            const std::map<std::string, std::string>& match = {}) const {
    std::optional<double> total;
    for (const PromSample& s : samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : match) {
        auto it = s.labels.find(k);
        all = all && it != s.labels.end() && it->second == v;
      }
      if (all) total = total.value_or(0) + s.value;
    }
    return total;
  }
};

inline std::string PromFamily(const std::string& name,
                              const std::map<std::string, std::string>& types) {
  if (types.count(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      std::string base = name.substr(0, name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return "";
}

inline PromText ParsePromText(const std::string& text) {
  PromText out;
  std::istringstream in(text);
  std::string line;
  std::set<std::string> series;
  auto fail = [&](const std::string& why) {
    if (out.error.empty()) out.error = why + ": " + line;
  };
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      if (type != "counter" && type != "gauge" && type != "histogram") fail("bad type");
      if (out.types.count(name)) fail("family declared twice");
      out.types[name] = type;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line[0] == '#') continue;
    PromSample s;
    size_t i = 0;
    while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) ||
                               line[i] == '_' || line[i] == ':')) {
      ++i;
    }
    s.name = line.substr(0, i);
    if (s.name.empty()) fail("no metric name");
    std::string label_text;
    if (i < line.size() && line[i] == '{') {
      size_t start = i;
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          fail("bad label");
          break;
        }
        std::string key = line.substr(i, eq - i);
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] != '\\') {
            value += line[j];
            continue;
          }
          if (++j >= line.size()) break;
          if (line[j] == 'n') {
            value += '\n';
          } else if (line[j] == '\\' || line[j] == '"') {
            value += line[j];
          } else {
            fail("bad escape");
          }
        }
        if (j >= line.size()) {
          fail("unterminated label value");
          break;
        }
        if (!s.labels.emplace(key, value).second) fail("label twice");
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) {
        fail("unterminated label set");
        continue;
      }
      label_text = line.substr(start, i + 1 - start);
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      fail("no value");
      continue;
    }
    std::string value = line.substr(i + 1);
    char* end = nullptr;
    s.value = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0') fail("bad value");
    if (PromFamily(s.name, out.types).empty()) fail("sample without a TYPE line");
    if (!series.insert(s.name + label_text).second) fail("series twice");
    out.samples.push_back(std::move(s));
  }
  return out;
}

// Sends `request` to 127.0.0.1:port and returns everything the server answers
// ("connect failed" when nothing listens).
inline std::string ExchangeLoopback(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "connect failed";
  }
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
  close(fd);
  return out;
}

// GET /metrics from 127.0.0.1:port; the body, or "" when the answer is not a 200.
inline std::string ScrapeLoopback(int port) {
  std::string out = ExchangeLoopback(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t body = out.find("\r\n\r\n");
  if (out.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) return "";
  return out.substr(body + 4);
}

}  // namespace xgate::testing
