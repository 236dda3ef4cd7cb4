// The XDP fuzz target's environment (tests/fuzz/xdp_fuzz.cc), for its smoke test: empty when
// the fast path is loaded and its maps filled, else why not (not root, no BPF).
#pragma once

#include <cstddef>
#include <string>

namespace xgate::testing {

std::string XdpFuzzSetUp();
// How many (verdict, path or drop counter) pairs the inputs run so far have taken.
size_t XdpFuzzFeaturesSeen();

}  // namespace xgate::testing
