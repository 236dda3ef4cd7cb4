#include "agent/sources/kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace xgate::kube {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", file.string()));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The entry of `list` (clusters, users, contexts) called `name`: its inner mapping.
YAML::Node Named(const YAML::Node& list, const std::string& name, const char* inner) {
  if (!list.IsSequence()) return YAML::Node();
  for (const auto& entry : list) {
    if (entry["name"] && entry["name"].as<std::string>() == name) return entry[inner];
  }
  return YAML::Node();
}

std::string Str(const YAML::Node& map, const char* key) {
  if (!map.IsMap() || !map[key] || !map[key].IsScalar()) return "";
  return map[key].as<std::string>();
}

// A *-data field (base64 PEM) or its file sibling (relative to the kubeconfig's folder).
absl::Status PemOrFile(const YAML::Node& map, const std::string& key, const fs::path& dir,
                       const std::string& where, std::string& pem, std::string& file) {
  std::string data = Str(map, (key + "-data").c_str());
  if (!data.empty()) {
    if (!absl::Base64Unescape(data, &pem)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, "-data is not base64"));
    }
    return absl::OkStatus();
  }
  std::string path = Str(map, key.c_str());
  if (!path.empty()) file = fs::path(path).is_absolute() ? path : (dir / path).string();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Config> ParseKubeconfig(const std::string& text, const fs::path& dir,
                                       const std::string& origin, const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": line ", e.mark.line + 1, ": ", e.msg));
  }
  if (!root.IsMap()) return absl::InvalidArgumentError(absl::StrCat(origin, ": not a kubeconfig"));
  try {
    std::string name = context.empty() ? Str(root, "current-context") : context;
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": no current-context (and no context named)"));
    }
    YAML::Node ctx = Named(root["contexts"], name, "context");
    if (!ctx.IsMap()) {
      return absl::NotFoundError(absl::StrCat(origin, ": no context named \"", name, "\""));
    }
    Config config;
    config.origin = absl::StrCat("kubeconfig ", origin, " (context ", name, ")");
    config.ns = Str(ctx, "namespace");
    std::string cluster_name = Str(ctx, "cluster");
    YAML::Node cluster = Named(root["clusters"], cluster_name, "cluster");
    if (!cluster.IsMap()) {
      return absl::NotFoundError(
          absl::StrCat(config.origin, ": no cluster named \"", cluster_name, "\""));
    }
    config.server = std::string(absl::StripSuffix(Str(cluster, "server"), "/"));
    if (config.server.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.origin, ": cluster \"", cluster_name, "\" has no server"));
    }
    config.insecure_skip_tls_verify = Str(cluster, "insecure-skip-tls-verify") == "true";
    std::string where = absl::StrCat(config.origin, ": cluster \"", cluster_name, "\"");
    absl::Status s =
        PemOrFile(cluster, "certificate-authority", dir, where, config.ca_pem, config.ca_file);
    if (!s.ok()) return s;

    std::string user_name = Str(ctx, "user");
    YAML::Node user = Named(root["users"], user_name, "user");
    if (!user_name.empty() && !user.IsMap() && !user.IsNull()) {
      return absl::NotFoundError(
          absl::StrCat(config.origin, ": no user named \"", user_name, "\""));
    }
    if (user.IsMap()) {
      where = absl::StrCat(config.origin, ": user \"", user_name, "\"");
      if (user["exec"] || user["auth-provider"]) {
        return absl::UnimplementedError(
            absl::StrCat(where,
                         ": exec and auth-provider credentials are not supported; use a token, "
                         "tokenFile or a client certificate"));
      }
      config.token = Str(user, "token");
      std::string token_file = Str(user, "tokenFile");
      if (!token_file.empty()) {
        config.token_file =
            fs::path(token_file).is_absolute() ? token_file : (dir / token_file).string();
      }
      s = PemOrFile(user, "client-certificate", dir, where, config.client_cert_pem,
                    config.client_cert_file);
      if (!s.ok()) return s;
      s = PemOrFile(user, "client-key", dir, where, config.client_key_pem, config.client_key_file);
      if (!s.ok()) return s;
      bool has_cert = !config.client_cert_pem.empty() || !config.client_cert_file.empty();
      bool has_key = !config.client_key_pem.empty() || !config.client_key_file.empty();
      if (has_cert != has_key) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": client-certificate and client-key go together"));
      }
    }
    return config;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": line ", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<Config> LoadKubeconfig(const fs::path& file, const std::string& context) {
  auto text = ReadFile(file);
  if (!text.ok()) return text.status();
  return ParseKubeconfig(*text, file.parent_path(), file.string(), context);
}

absl::StatusOr<Config> InClusterConfig(const fs::path& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return absl::FailedPreconditionError(
        "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set "
        "(give --kubeconfig FILE outside a pod)");
  }
  Config config;
  config.origin = "in-cluster service account";
  std::string h = host;
  if (h.find(':') != std::string::npos) h = absl::StrCat("[", h, "]");  // IPv6
  config.server = absl::StrCat("https://", h, ":", port);
  std::error_code ec;
  for (const char* name : {"ca.crt", "token"}) {
    if (!fs::exists(sa_dir / name, ec)) {
      return absl::NotFoundError(absl::StrCat("in-cluster: ", (sa_dir / name).string(),
                                              " is missing (is a service account mounted?)"));
    }
  }
  config.ca_file = (sa_dir / "ca.crt").string();
  config.token_file = (sa_dir / "token").string();
  if (auto ns = ReadFile(sa_dir / "namespace"); ns.ok()) {
    config.ns = std::string(absl::StripAsciiWhitespace(*ns));
  }
  return config;
}

}  // namespace xgate::kube
