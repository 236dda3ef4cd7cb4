// libFuzzer target for what the Kubernetes API server sends an informer: a list answer and a
// watch stream, decoded by the informer (agent/sources/kube) into the Kubernetes source's
// object store, then loaded into the model. Input:
//   <Kind> <chunk>\n<list answer body>\n---\n<watch stream body>
// (<Kind> one of the kinds xgate watches, or any word: a made-up resource; <chunk> the size
// of the pieces the watch stream arrives in, 0 for one piece). Checked (abort on violation):
//  - nothing throws or crashes, whatever the bytes;
//  - the store's content does not depend on how the watch stream is cut into pieces;
//  - every object in the store is keyed "<Kind>/..." and every load error names its object.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "agent/sources/kube/client.h"
#include "agent/sources/kube/informer.h"
#include "agent/sources/kube/kube_source.h"
#include "agent/sources/kube/watch_stream.h"
#include "agent/sources/store.h"
#include "spdlog/spdlog.h"

namespace {

using nlohmann::json;
using xgate::kube::Informer;

void Check(bool ok) {
  if (!ok) std::abort();
}

xgate::kube::Client& NeverCalledClient() {
  // The informer needs one; decoding never calls it (198.18.0.0/15: nothing answers there).
  static std::unique_ptr<xgate::kube::Client> client = [] {
    spdlog::set_level(spdlog::level::off);
    xgate::kube::Config config;
    config.server = "https://198.18.0.1:6443";
    return *xgate::kube::Client::Create(config);
  }();
  return *client;
}

xgate::kube::Resource ResourceOf(const std::string& kind) {
  for (const auto& k : xgate::kube::WatchedKinds()) {
    if (k.kind == kind) return {k.group, k.versions.front(), k.plural, k.namespaced};
  }
  return {"example.com", "v1", "things", true};
}

struct Outcome {
  std::string loaded;  // the model's errors and object count, in order
  std::string resource_version;
};

Outcome Run(const std::string& kind, std::string_view list, std::string_view watch, size_t chunk) {
  xgate::sources::ObjectStore store;
  xgate::kube::KubeSource source(NeverCalledClient(), store, {});
  Informer informer(NeverCalledClient(), ResourceOf(kind), kind, source.sink());
  std::vector<json> objects;
  std::string rv, next;
  if (informer.DecodeListPage(json::parse(list, nullptr, false), objects, rv, next)) {
    source.sink().Replace(kind, std::move(objects));
  }
  xgate::kube::WatchStream stream("/fuzz");
  auto on_event = [&](const xgate::kube::WatchEvent& event) {
    return informer.HandleWatchEvent(event) == Informer::EventResult::kGoOn;
  };
  if (chunk == 0) chunk = watch.size() + 1;
  for (size_t at = 0; at < watch.size(); at += chunk) {
    if (!stream.Feed(watch.substr(at, chunk), on_event)) break;
  }
  auto result = store.Load();
  Check(result.ok());
  Outcome out;
  out.resource_version = informer.resource_version();
  out.loaded = std::to_string(result->store.Size());
  for (const auto& e : result->errors) {
    Check(e.pos.file.starts_with(kind + "/") && !e.message.empty());
    // Appended in two steps: GCC 12 warns (-Wrestrict, a false positive) on "\n" + string&&.
    out.loaded += '\n';
    out.loaded += e.ToString();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  std::string_view first = input.substr(0, eol);
  size_t space = first.find(' ');
  std::string kind(first.substr(0, space));
  size_t chunk = 0;
  if (space != std::string_view::npos &&
      (!absl::SimpleAtoi(std::string(first.substr(space + 1)), &chunk) || chunk > (1 << 20))) {
    return 0;
  }
  if (kind.empty()) return 0;
  std::string_view rest = input.substr(eol + 1);
  size_t cut = rest.find("\n---\n");
  std::string_view list = rest.substr(0, cut);
  std::string_view watch = cut == std::string_view::npos ? "" : rest.substr(cut + 5);

  Outcome whole = Run(kind, list, watch, 0);
  Outcome pieces = Run(kind, list, watch, chunk == 0 ? 1 + size % 17 : chunk);
  Check(whole.loaded == pieces.loaded);
  Check(whole.resource_version == pieces.resource_version);
  return 0;
}
