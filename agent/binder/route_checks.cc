#include "agent/binder/route_checks.h"

#include <re2/re2.h>

namespace xgate::binder {
namespace {

std::string CheckRegex(const std::string& pattern, const std::string& where) {
  RE2::Options opts;
  opts.set_log_errors(false);
  RE2 re(pattern, opts);
  if (re.ok()) return "";
  return "UnsupportedValue: " + where + " is not a valid RE2 regular expression: " + re.error();
}

std::string CheckFilters(const std::vector<model::HTTPRouteFilter>& filters,
                         const model::HTTPRouteRule& rule, const std::string& where) {
  bool redirect = false, rewrite = false;
  for (const auto& f : filters) {
    if (f.type == model::HTTPFilterType::kExtensionRef) {
      return "UnsupportedValue: " + where +
             " uses an ExtensionRef filter, which xgate does not support";
    }
    const std::optional<model::HTTPPathModifier>* path = nullptr;
    if (f.type == model::HTTPFilterType::kRequestRedirect) {
      redirect = true;
      path = &f.request_redirect.path;
    }
    if (f.type == model::HTTPFilterType::kURLRewrite) {
      rewrite = true;
      path = &f.url_rewrite.path;
    }
    if (path && *path && (*path)->type == model::PathModifierType::kReplacePrefixMatch) {
      for (const auto& m : rule.matches) {
        if (m.path.type != model::PathMatchType::kPathPrefix) {
          return "UnsupportedValue: " + where +
                 ": ReplacePrefixMatch needs every match of the rule to be a PathPrefix";
        }
      }
    }
  }
  if (redirect && rewrite) {
    return "IncompatibleFilters: " + where + " has both RequestRedirect and URLRewrite";
  }
  return "";
}

std::string CheckHeaderRegexes(const std::vector<model::HTTPHeaderMatch>& headers,
                               const std::string& where) {
  for (const auto& h : headers) {
    if (h.type != model::StringMatchType::kRegularExpression) continue;
    if (auto p = CheckRegex(h.value, where + ".headers " + h.name); !p.empty()) return p;
  }
  return "";
}

// The filters of a rule and of each of its backendRefs.
std::string CheckRuleFilters(const std::vector<model::HTTPRouteFilter>& filters,
                             const std::vector<model::BackendRef>& backend_refs,
                             const model::HTTPRouteRule& rule, const std::string& where) {
  if (auto p = CheckFilters(filters, rule, where); !p.empty()) return p;
  for (size_t b = 0; b < backend_refs.size(); ++b) {
    std::string bw = where + ".backendRefs[" + std::to_string(b) + "]";
    if (auto p = CheckFilters(backend_refs[b].filters, rule, bw); !p.empty()) return p;
  }
  return "";
}

}  // namespace

std::string CheckHTTPRoute(const model::HTTPRoute& route) {
  for (size_t r = 0; r < route.rules.size(); ++r) {
    const auto& rule = route.rules[r];
    std::string where = "spec.rules[" + std::to_string(r) + "]";
    for (size_t m = 0; m < rule.matches.size(); ++m) {
      const auto& match = rule.matches[m];
      std::string mw = where + ".matches[" + std::to_string(m) + "]";
      if (match.path.type == model::PathMatchType::kRegularExpression) {
        if (auto p = CheckRegex(match.path.value, mw + ".path.value"); !p.empty()) return p;
      }
      if (auto p = CheckHeaderRegexes(match.headers, mw); !p.empty()) return p;
      for (const auto& q : match.query_params) {
        if (q.type != model::StringMatchType::kRegularExpression) continue;
        if (auto p = CheckRegex(q.value, mw + ".queryParams " + q.name); !p.empty()) return p;
      }
    }
    if (auto p = CheckRuleFilters(rule.filters, rule.backend_refs, rule, where); !p.empty()) {
      return p;
    }
  }
  return "";
}

std::string CheckGRPCRoute(const model::GRPCRoute& route) {
  for (size_t r = 0; r < route.rules.size(); ++r) {
    const auto& rule = route.rules[r];
    std::string where = "spec.rules[" + std::to_string(r) + "]";
    for (size_t m = 0; m < rule.matches.size(); ++m) {
      const auto& match = rule.matches[m];
      std::string mw = where + ".matches[" + std::to_string(m) + "]";
      if (match.method && match.method->type == model::GRPCMethodMatchType::kRegularExpression) {
        if (auto p = CheckRegex(match.method->service, mw + ".method.service"); !p.empty())
          return p;
        if (auto p = CheckRegex(match.method->method, mw + ".method.method"); !p.empty()) return p;
      }
      if (auto p = CheckHeaderRegexes(match.headers, mw); !p.empty()) return p;
    }
    const model::HTTPRouteRule no_matches;  // GRPCRoute has no path rewrites to check
    if (auto p = CheckRuleFilters(rule.filters, rule.backend_refs, no_matches, where); !p.empty()) {
      return p;
    }
  }
  return "";
}

}  // namespace xgate::binder

namespace xgate::binder {

bool RouteBindsBySelector(const model::Object& route) { return route.v1alpha1_selector_binding; }

bool ListenerSelectsRoute(const model::Listener& listener, const std::string& gateway_ns,
                          const model::Object& route) {
  if (!listener.route_selector || !listener.route_selector->Matches(route.meta.labels)) {
    return false;
  }
  return !route.v1alpha1_same_namespace_only || gateway_ns == route.meta.ns;
}

}  // namespace xgate::binder
