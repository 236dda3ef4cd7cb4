#include "tools/bench/convergence/bench_routes.h"

namespace xgate::bench {

nlohmann::json HttpRoute(const std::string& name, const std::string& host, int home_weight,
                         int auth_weight) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata", {{"name", name}, {"namespace", "foo"}}},
          {"spec",
           {{"parentRefs", {{{"name", "prod-web"}, {"namespace", "default"}}}},
            {"hostnames", {host}},
            {"rules",
             {{{"backendRefs",
                {{{"name", "foo-home"}, {"port", 8080}, {"weight", home_weight}},
                 {{"name", "foo-auth"}, {"port", 8080}, {"weight", auth_weight}}}}}}}}}};
}

nlohmann::json TcpRoute(const std::string& name, const std::string& section) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "TCPRoute"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"parentRefs", {{{"name", "bench-l4"}, {"sectionName", section}}}},
            {"rules", {{{"backendRefs", {{{"name", "l4-tcp"}, {"port", 8080}}}}}}}}}};
}

}  // namespace xgate::bench
