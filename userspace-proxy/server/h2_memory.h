// The allocator the proxy's nghttp2 sessions use (nghttp2_session_*_new3): nghttp2 allocates
// and frees a dozen small blocks per request (streams, outbound items, header copies,
// decoded fields), so freed blocks are kept on per-thread lists by size class and handed out
// again without the general allocator. Each worker's sessions live on its thread; a block
// freed on another thread goes to that thread's lists. Bounded: a class (64 to 4,096 bytes)
// keeps at most kH2MemoryKept blocks (at most ~2 MB a thread), the rest go back to malloc;
// larger blocks are malloc's own, and so is every block once the thread's lists are gone.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>

namespace xgate::proxy {

inline constexpr size_t kH2MemoryKept = 256;  // free blocks kept per size class and thread

// The allocator (the same object for every session).
nghttp2_mem* H2Memory();

}  // namespace xgate::proxy
