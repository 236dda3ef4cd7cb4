// libFuzzer target for the manifest loader: any bytes must give objects and/or errors,
// never a crash, a hang or an exception, and every error must say where it is.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/model/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using xgate::model::LoadResult;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  LoadResult result;
  xgate::model::LoadText(text, "fuzz.yaml", result);
  for (const auto& e : result.errors) {
    if (e.pos.file != "fuzz.yaml" || e.message.empty() || e.pos.line < 0) std::abort();
    if (e.ToString().empty()) std::abort();
  }
  // Loading the same text again is stable: same objects, generations carried unchanged.
  LoadResult again;
  xgate::model::LoadText(text, "fuzz.yaml", again);
  if (again.store.Size() != result.store.Size() || again.errors.size() != result.errors.size()) {
    std::abort();
  }
  xgate::model::CarryGenerations(result.store, again.store);
  for (const auto& [key, route] : again.store.http_routes) {
    if (route.meta.generation != result.store.http_routes.at(key).meta.generation) std::abort();
  }
  return 0;
}
