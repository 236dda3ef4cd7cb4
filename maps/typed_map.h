// Typed handles on the pinned maps, for the agent and tools. K and V are the layouts from
// the C headers beside this one.
#pragma once

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "maps/backend.h"
#include "maps/conntrack.h"
#include "maps/counters.h"
#include "maps/listener.h"
#include "maps/local_pod.h"
#include "maps/maglev.h"
#include "maps/rnat.h"

namespace xgate::maps {

// An owned map file descriptor.
class MapFd {
 public:
  MapFd() = default;
  explicit MapFd(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  MapFd(MapFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)), name_(std::move(o.name_)) {}
  MapFd& operator=(MapFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
      name_ = std::move(o.name_);
    }
    return *this;
  }
  MapFd(const MapFd&) = delete;
  MapFd& operator=(const MapFd&) = delete;
  ~MapFd() { Reset(); }

  // Opens a pinned map and checks its key and value sizes against the layout.
  static absl::StatusOr<MapFd> OpenPinned(const std::string& path, uint32_t key_size,
                                          uint32_t value_size);
  // Duplicates a descriptor owned by someone else (libbpf).
  static absl::StatusOr<MapFd> Dup(int fd, std::string name);

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  bool valid() const { return fd_ >= 0; }

 private:
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  std::string name_;
};

absl::Status ErrnoStatus(int err, std::string_view what, std::string_view map);

// A hash, LRU hash or array map with one value per key.
template <typename K, typename V>
class TypedMap {
 public:
  TypedMap() = default;
  explicit TypedMap(MapFd fd) : fd_(std::move(fd)) {}
  static absl::StatusOr<TypedMap> OpenPinned(const std::string& path) {
    auto fd = MapFd::OpenPinned(path, sizeof(K), sizeof(V));
    if (!fd.ok()) return fd.status();
    return TypedMap(std::move(*fd));
  }

  absl::Status Update(const K& key, const V& value, uint64_t flags = BPF_ANY) {
    if (bpf_map_update_elem(fd_.fd(), &key, &value, flags) != 0)
      return ErrnoStatus(errno, "update", fd_.name());
    return absl::OkStatus();
  }
  // Every (keys[i], values[i]) in one batch: a map of maps then waits for the programs
  // running on it once for the batch, not once per entry (an RCU grace period, ~10 ms each).
  // One by one where the kernel has no batch update for the map. `done`, when given: how many
  // entries (the first ones) were written, also when it fails part way.
  absl::Status UpdateBatch(const std::vector<K>& keys, const std::vector<V>& values,
                           size_t* done = nullptr) {
    size_t written = 0;
    absl::Status s = UpdateBatchCounted(keys, values, written);
    if (done != nullptr) *done = written;
    return s;
  }

 private:
  absl::Status UpdateBatchCounted(const std::vector<K>& keys, const std::vector<V>& values,
                                  size_t& written) {
    if (keys.empty()) return absl::OkStatus();
    uint32_t count = static_cast<uint32_t>(keys.size());
    if (bpf_map_update_batch(fd_.fd(), keys.data(), values.data(), &count, nullptr) == 0) {
      written = keys.size();
      return absl::OkStatus();
    }
    // ENOTSUPP (524, kernel-internal): a map type without a batch update (an array of maps
    // before Linux 6.0); EINVAL: a kernel without batch operations.
    constexpr int kKernelNotSupported = 524;
    if (errno != EINVAL && errno != ENOTSUP && errno != EOPNOTSUPP &&
        errno != kKernelNotSupported) {
      written = count;  // the kernel's count of the entries it did write
      return ErrnoStatus(errno, "batch update", fd_.name());
    }
    for (; written < keys.size(); ++written) {
      if (absl::Status s = Update(keys[written], values[written]); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 public:
  absl::StatusOr<std::optional<V>> Lookup(const K& key) const {
    V value{};
    if (bpf_map_lookup_elem(fd_.fd(), &key, &value) == 0) return value;
    if (errno == ENOENT) return std::nullopt;
    return ErrnoStatus(errno, "lookup", fd_.name());
  }
  absl::Status Delete(const K& key) {
    if (bpf_map_delete_elem(fd_.fd(), &key) != 0 && errno != ENOENT)
      return ErrnoStatus(errno, "delete", fd_.name());
    return absl::OkStatus();
  }
  // Every entry (for hash maps; an array yields all its slots).
  absl::StatusOr<std::vector<std::pair<K, V>>> Entries() const {
    std::vector<std::pair<K, V>> out;
    K key{};
    K next{};
    const K* prev = nullptr;
    while (bpf_map_get_next_key(fd_.fd(), prev, &next) == 0) {
      V value{};
      if (bpf_map_lookup_elem(fd_.fd(), &next, &value) == 0) out.emplace_back(next, value);
      key = next;
      prev = &key;
    }
    if (errno != ENOENT) return ErrnoStatus(errno, "iterate", fd_.name());
    return out;
  }
  const MapFd& fd() const { return fd_; }

 private:
  MapFd fd_;
};

// A per-CPU array of xg_traffic counters, summed over CPUs on read.
class TrafficCounters {
 public:
  TrafficCounters() = default;
  explicit TrafficCounters(MapFd fd);
  static absl::StatusOr<TrafficCounters> OpenPinned(const std::string& path);
  absl::StatusOr<xg_traffic> Read(uint32_t index) const;
  absl::Status Clear(uint32_t index);
  const MapFd& fd() const { return fd_; }

 private:
  MapFd fd_;
  int cpus_ = 0;
};

using ListenerMap = TypedMap<xg_listener_key, xg_listener_value>;
using BackendMap = TypedMap<uint32_t, xg_backend>;
using ConntrackMap = TypedMap<xg_flow, xg_ct_entry>;
using RnatMap = TypedMap<xg_flow, xg_rnat_entry>;
using LocalPodMap = TypedMap<xg_local_pod_key, xg_local_pod>;
// The outer Maglev map: key service id, value an inner map fd on update (a map id on read).
using MaglevOuterMap = TypedMap<uint32_t, uint32_t>;

// Moves a generation map (one __u32 at key 0: xg_egress_gen, xg_flow_gen) on by one, after
// the change it announces was written.
absl::Status BumpGeneration(int fd, std::string_view name);

// Creates one inner Maglev table filled with `table` (XG_MAGLEV_SIZE backend ids), ready to
// be swapped into xg_maglev.
absl::StatusOr<MapFd> CreateMaglevTable(const std::vector<uint32_t>& table);

// Address helpers: IP literal <-> 16-byte v4-mapped/v6 form and family.
absl::Status ParseAddress(const std::string& literal, uint8_t out[16], uint8_t* family);
std::string FormatAddress(const uint8_t addr[16]);

}  // namespace xgate::maps
