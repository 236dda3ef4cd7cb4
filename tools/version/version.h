// The build's version: `git describe --always --dirty` of the source tree when it was built,
// "unknown" when it was built outside a git checkout.
#pragma once

#include <string_view>

namespace xgate {

std::string_view GitDescription();

}  // namespace xgate
