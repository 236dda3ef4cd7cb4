#include "userspace-proxy/server/h2_memory.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace xgate::proxy {
namespace {

// Size classes of 64 << i bytes (the header included); a block records its class in a
// header of 16 bytes (malloc's alignment is kept), kLarge for a block of malloc's own.
constexpr size_t kClasses = 7;  // 64 .. 4096 bytes
constexpr size_t kHeader = 16;
constexpr size_t kLarge = kClasses;

struct FreeBlock {
  FreeBlock* next;
};

// Set when this thread's lists are gone (thread exit): blocks are then malloc's own.
thread_local bool lists_gone = false;

struct Lists {
  std::array<FreeBlock*, kClasses> head{};
  std::array<size_t, kClasses> count{};
  ~Lists() {
    lists_gone = true;
    for (FreeBlock* block : head) {
      while (block != nullptr) {
        FreeBlock* next = block->next;
        std::free(block);
        block = next;
      }
    }
  }
};

thread_local Lists lists;

size_t ClassOf(size_t total) {
  if (total <= 64) return 0;
  return std::min<size_t>(std::bit_width(total - 1) - 6, kClasses);  // kLarge past 4,096
}

size_t CapacityOf(size_t index) { return size_t{64} << index; }

void* Allocate(size_t size, void*) {
  if (size > SIZE_MAX - kHeader) return nullptr;
  size_t index = lists_gone ? kLarge : ClassOf(size + kHeader);
  char* block;
  if (index < kClasses && lists.head[index] != nullptr) {
    block = reinterpret_cast<char*>(lists.head[index]);
    lists.head[index] = lists.head[index]->next;
    --lists.count[index];
  } else {
    block = static_cast<char*>(std::malloc(index < kClasses ? CapacityOf(index) : size + kHeader));
    if (block == nullptr) return nullptr;
  }
  *reinterpret_cast<size_t*>(block) = index;
  return block + kHeader;
}

void Free(void* pointer, void*) {
  if (pointer == nullptr) return;
  char* block = static_cast<char*>(pointer) - kHeader;
  size_t index = *reinterpret_cast<size_t*>(block);
  if (index >= kClasses || lists_gone || lists.count[index] >= kH2MemoryKept) {
    std::free(block);
    return;
  }
  auto* free_block = reinterpret_cast<FreeBlock*>(block);
  free_block->next = lists.head[index];
  lists.head[index] = free_block;
  ++lists.count[index];
}

void* AllocateZeroed(size_t count, size_t size, void* user) {
  if (size != 0 && count > (SIZE_MAX - kHeader) / size) return nullptr;
  void* pointer = Allocate(count * size, user);
  if (pointer != nullptr) std::memset(pointer, 0, count * size);
  return pointer;
}

void* Reallocate(void* pointer, size_t size, void* user) {
  if (pointer == nullptr) return Allocate(size, user);
  char* block = static_cast<char*>(pointer) - kHeader;
  size_t index = *reinterpret_cast<size_t*>(block);
  if (size > SIZE_MAX - kHeader) return nullptr;
  if (index == kLarge) {
    block = static_cast<char*>(std::realloc(block, size + kHeader));
    return block == nullptr ? nullptr : block + kHeader;
  }
  size_t room = CapacityOf(index) - kHeader;
  if (size <= room) return pointer;  // fits where it is
  void* moved = Allocate(size, user);
  if (moved == nullptr) return nullptr;
  std::memcpy(moved, pointer, room);
  Free(pointer, user);
  return moved;
}

nghttp2_mem memory{nullptr, Allocate, Free, AllocateZeroed, Reallocate};

}  // namespace

nghttp2_mem* H2Memory() { return &memory; }

}  // namespace xgate::proxy
