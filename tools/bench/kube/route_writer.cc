#include "tools/bench/kube/route_writer.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/sources/kube/client.h"
#include "agent/sources/kube/kubeconfig.h"

namespace xgate::bench {
namespace {

// The route's collection, from its apiVersion and kind (HTTPRoute -> httproutes).
kube::Resource Collection(const nlohmann::json& route) {
  std::string api_version = route["apiVersion"], kind = route["kind"];
  std::string group, version = api_version;
  if (size_t slash = api_version.find('/'); slash != std::string::npos) {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
  }
  std::string plural = absl::AsciiStrToLower(kind) + "s";
  return {group, version, plural};
}

std::string Namespace(const nlohmann::json& route) { return route["metadata"]["namespace"]; }
std::string Name(const nlohmann::json& route) { return route["metadata"]["name"]; }

// The API server's answer as a status: OK for `want`, otherwise the HTTP error.
absl::Status Expect(const absl::StatusOr<kube::Response>& response, long want) {
  if (!response.ok()) return response.status();
  if (response->code == want) return absl::OkStatus();
  absl::Status s = kube::ToStatus(*response);
  return s.ok() ? absl::InternalError(absl::StrCat("HTTP ", response->code, ", wanted ", want)) : s;
}

class ApiServer : public RouteWriter {
 public:
  explicit ApiServer(std::unique_ptr<kube::Client> client) : client_(std::move(client)) {}

  absl::Status Create(const nlohmann::json& route) override {
    return Expect(client_->Create(Collection(route).Path(Namespace(route)), route), 201);
  }
  absl::Status Change(const nlohmann::json& route) override {
    nlohmann::json patch = {{"spec", route["spec"]}};
    return Expect(client_->Patch(Collection(route).Path(Namespace(route), Name(route)), patch),
                  200);
  }
  absl::Status Delete(const nlohmann::json& route) override {
    return Expect(client_->Delete(Collection(route).Path(Namespace(route), Name(route))), 200);
  }
  std::string Describe() const override { return "the API server " + client_->config().server; }

 private:
  std::unique_ptr<kube::Client> client_;
};

class Folder : public RouteWriter {
 public:
  explicit Folder(std::filesystem::path dir) : dir_(std::move(dir)) {}

  absl::Status Create(const nlohmann::json& route) override { return Write(route); }
  absl::Status Change(const nlohmann::json& route) override { return Write(route); }
  absl::Status Delete(const nlohmann::json& route) override {
    std::error_code ec;
    if (std::filesystem::remove(File(route), ec)) return absl::OkStatus();
    if (ec) return absl::InternalError(absl::StrCat(File(route).string(), ": ", ec.message()));
    return absl::NotFoundError(absl::StrCat(File(route).string(), " does not exist"));
  }
  std::string Describe() const override { return "the folder " + dir_.string(); }

 private:
  std::filesystem::path File(const nlohmann::json& route) const {
    return dir_ / (Namespace(route) + "-" + Name(route) + ".json");
  }
  // The agent's watcher reads .json files only, so the half-written file is never read.
  absl::Status Write(const nlohmann::json& route) {
    std::filesystem::path file = File(route), partial = file;
    partial += ".partial";
    {
      std::ofstream out(partial);
      out << route.dump(2) << '\n';
      if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", partial.string()));
    }
    std::error_code ec;
    std::filesystem::rename(partial, file, ec);
    if (ec) return absl::InternalError(absl::StrCat(file.string(), ": ", ec.message()));
    return absl::OkStatus();
  }

  std::filesystem::path dir_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RouteWriter>> ApiServerRouteWriter(
    const std::filesystem::path& kubeconfig) {
  auto config = kube::LoadKubeconfig(kubeconfig);
  if (!config.ok()) return config.status();
  auto client = kube::Client::Create(*config);
  if (!client.ok()) return client.status();
  return std::make_unique<ApiServer>(*std::move(client));
}

std::unique_ptr<RouteWriter> FolderRouteWriter(const std::filesystem::path& dir) {
  return std::make_unique<Folder>(dir);
}

absl::StatusOr<std::unique_ptr<RouteWriter>> MakeRouteWriter(const std::string& kubeconfig,
                                                             const std::string& manifests) {
  if (kubeconfig.empty()) return FolderRouteWriter(manifests);
  return ApiServerRouteWriter(kubeconfig);
}

}  // namespace xgate::bench
