// The allocator of the proxy's nghttp2 sessions: blocks of every size class and past them,
// aligned and usable to their size; a freed block handed out again for its class; realloc
// keeping the contents; calloc zeroing a reused block.
#include "userspace-proxy/server/h2_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace xgate::proxy {
namespace {

void Fill(void* p, size_t n, uint8_t seed) {
  auto* bytes = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(seed + i);
}

bool Holds(const void* p, size_t n, uint8_t seed) {
  const auto* bytes = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (bytes[i] != static_cast<uint8_t>(seed + i)) return false;
  }
  return true;
}

TEST(H2MemoryTest, EverySizeAlignedAndUsable) {
  nghttp2_mem* mem = H2Memory();
  std::vector<std::pair<void*, size_t>> blocks;
  for (size_t size : {0, 1, 47, 48, 49, 112, 113, 240, 1000, 4080, 4081, 100000}) {
    void* p = mem->malloc(size, mem->mem_user_data);
    ASSERT_NE(p, nullptr) << size;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << size;
    Fill(p, size, static_cast<uint8_t>(size));
    blocks.emplace_back(p, size);
  }
  for (auto [p, size] : blocks) {  // no block overlapped another
    EXPECT_TRUE(Holds(p, size, static_cast<uint8_t>(size))) << size;
    mem->free(p, mem->mem_user_data);
  }
  mem->free(nullptr, mem->mem_user_data);
}

TEST(H2MemoryTest, FreedBlockReusedForItsClass) {
  nghttp2_mem* mem = H2Memory();
  void* first = mem->malloc(100, mem->mem_user_data);
  mem->free(first, mem->mem_user_data);
  void* again = mem->malloc(90, mem->mem_user_data);  // the same class (128 with its header)
  EXPECT_EQ(again, first);
  void* other = mem->malloc(300, mem->mem_user_data);  // another class
  EXPECT_NE(other, first);
  mem->free(again, mem->mem_user_data);
  mem->free(other, mem->mem_user_data);
}

TEST(H2MemoryTest, ReallocKeepsTheContents) {
  nghttp2_mem* mem = H2Memory();
  void* p = mem->realloc(nullptr, 40, mem->mem_user_data);
  ASSERT_NE(p, nullptr);
  Fill(p, 40, 7);
  EXPECT_EQ(mem->realloc(p, 48, mem->mem_user_data), p);  // still fits its block
  size_t size = 40;
  for (size_t grown : {200, 3000, 5000, 70000, 10}) {
    p = mem->realloc(p, grown, mem->mem_user_data);
    ASSERT_NE(p, nullptr) << grown;
    EXPECT_TRUE(Holds(p, std::min(size, grown), 7)) << grown;
    Fill(p, grown, 7);
    size = grown;
  }
  mem->free(p, mem->mem_user_data);
}

TEST(H2MemoryTest, CallocZeroesAReusedBlock) {
  nghttp2_mem* mem = H2Memory();
  void* p = mem->malloc(500, mem->mem_user_data);
  std::memset(p, 0xff, 500);
  mem->free(p, mem->mem_user_data);
  auto* zeroed = static_cast<uint8_t*>(mem->calloc(50, 10, mem->mem_user_data));
  ASSERT_EQ(static_cast<void*>(zeroed), p);
  for (size_t i = 0; i < 500; ++i) ASSERT_EQ(zeroed[i], 0) << i;
  mem->free(zeroed, mem->mem_user_data);
  EXPECT_EQ(mem->calloc(SIZE_MAX / 2, 4, mem->mem_user_data), nullptr);  // overflow
  EXPECT_EQ(mem->malloc(SIZE_MAX - 8, mem->mem_user_data), nullptr);
}

}  // namespace
}  // namespace xgate::proxy
