#include "maps/typed_map.h"

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/mman.h>

namespace xgate::maps {

absl::Status ErrnoStatus(int err, std::string_view what, std::string_view map) {
  std::string msg =
      absl::StrCat(std::string(what), " on map ", std::string(map), ": ", std::strerror(err));
  if (err == EPERM || err == EACCES) return absl::PermissionDeniedError(msg);
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == E2BIG || err == ENOMEM || err == ENOSPC) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

absl::StatusOr<MapFd> MapFd::OpenPinned(const std::string& path, uint32_t key_size,
                                        uint32_t value_size) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return ErrnoStatus(errno, "open pinned", path);
  MapFd out(fd, path);
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return ErrnoStatus(errno, "info", path);
  if (info.key_size != key_size || info.value_size != value_size) {
    return absl::FailedPreconditionError(
        absl::StrCat("pinned map ", path, " has key/value size ", info.key_size, "/",
                     info.value_size, ", this build expects ", key_size, "/", value_size));
  }
  return out;
}

absl::Status BumpGeneration(int fd, std::string_view name) {
  uint32_t zero = 0;
  uint32_t gen = 0;
  if (bpf_map_lookup_elem(fd, &zero, &gen) != 0) return ErrnoStatus(errno, "lookup", name);
  ++gen;
  if (bpf_map_update_elem(fd, &zero, &gen, BPF_ANY) != 0) return ErrnoStatus(errno, "update", name);
  return absl::OkStatus();
}

absl::StatusOr<MapFd> MapFd::Dup(int fd, std::string name) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return ErrnoStatus(errno, "dup", name);
  return MapFd(copy, std::move(name));
}

TrafficCounters::TrafficCounters(MapFd fd)
    : fd_(std::move(fd)), cpus_(libbpf_num_possible_cpus()) {}

absl::StatusOr<TrafficCounters> TrafficCounters::OpenPinned(const std::string& path) {
  auto fd = MapFd::OpenPinned(path, sizeof(uint32_t), sizeof(xg_traffic));
  if (!fd.ok()) return fd.status();
  return TrafficCounters(std::move(*fd));
}

absl::StatusOr<xg_traffic> TrafficCounters::Read(uint32_t index) const {
  std::vector<xg_traffic> per_cpu(cpus_ > 0 ? cpus_ : 1);
  if (bpf_map_lookup_elem(fd_.fd(), &index, per_cpu.data()) != 0)
    return ErrnoStatus(errno, "lookup", fd_.name());
  xg_traffic sum{};
  for (const xg_traffic& t : per_cpu) {
    sum.packets += t.packets;
    sum.bytes += t.bytes;
  }
  return sum;
}

absl::Status TrafficCounters::Clear(uint32_t index) {
  std::vector<xg_traffic> zero(cpus_ > 0 ? cpus_ : 1);
  if (bpf_map_update_elem(fd_.fd(), &index, zero.data(), BPF_ANY) != 0)
    return ErrnoStatus(errno, "clear", fd_.name());
  return absl::OkStatus();
}

absl::StatusOr<MapFd> CreateMaglevTable(const std::vector<uint32_t>& table) {
  if (table.size() != XG_MAGLEV_SIZE) {
    return absl::InvalidArgumentError(
        absl::StrCat("Maglev table has ", table.size(), " slots, want ", XG_MAGLEV_SIZE));
  }
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
  int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xg_maglev_tbl", sizeof(uint32_t), sizeof(uint32_t),
                          XG_MAGLEV_SIZE, &opts);
  if (fd < 0) return ErrnoStatus(errno, "create", "xg_maglev_tbl");
  MapFd out(fd, "xg_maglev_tbl");
  // An array's elements are value_size rounded up to 8 bytes apart.
  constexpr size_t kStride = 8 / sizeof(uint32_t);
  size_t bytes = table.size() * kStride * sizeof(uint32_t);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mem == MAP_FAILED) return ErrnoStatus(errno, "mmap", "xg_maglev_tbl");
  auto* slots = static_cast<uint32_t*>(mem);
  for (size_t i = 0; i < table.size(); ++i) slots[i * kStride] = table[i];
  munmap(mem, bytes);
  return out;
}

absl::Status ParseAddress(const std::string& literal, uint8_t out[16], uint8_t* family) {
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, literal.c_str(), &v4) == 1) {
    std::memset(out, 0, 16);
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out + 12, &v4, 4);
    *family = XG_FAMILY_V4;
    return absl::OkStatus();
  }
  if (inet_pton(AF_INET6, literal.c_str(), &v6) == 1) {
    std::memcpy(out, &v6, 16);
    *family = XG_FAMILY_V6;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("'", literal, "' is not an IP address"));
}

std::string FormatAddress(const uint8_t addr[16]) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char buf[INET6_ADDRSTRLEN] = {};
  if (std::memcmp(addr, kMapped, 12) == 0) {
    inet_ntop(AF_INET, addr + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, addr, buf, sizeof(buf));
  }
  return buf;
}

}  // namespace xgate::maps
