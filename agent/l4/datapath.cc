#include "agent/l4/datapath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "bpf/xgate.skel.h"
#include "maps/bpffs.h"
#include "maps/flow_cache.h"
#include "spdlog/spdlog.h"

namespace xgate::l4 {
namespace {

// libbpf and libxdp messages go to the agent's log instead of stderr.
std::string Format(const char* format, va_list args) {
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof(buf), format, args);
  std::string out(buf, n < 0 ? 0 : std::min<size_t>(n, sizeof(buf) - 1));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  std::string msg = Format(format, args);
  if (level == LIBBPF_WARN) {
    spdlog::warn("{}", msg);
  } else {
    spdlog::debug("{}", msg);
  }
  return 0;
}

int LibxdpPrint(enum libxdp_print_level level, const char* format, va_list args) {
  if (level == LIBXDP_DEBUG) return 0;
  std::string msg = Format(format, args);
  if (level == LIBXDP_WARN) {
    spdlog::warn("{}", msg);
  } else {
    spdlog::info("{}", msg);
  }
  return 0;
}

// From the kernel's enum bpf_attach_type (6.6+); the installed uapi headers predate tcx.
constexpr int kBpfTcxIngress = 46;
constexpr int kBpfTcxEgress = 47;

bpf_tc_hook ClsactHook(int ifindex, bool egress) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
  return hook;
}

bpf_tc_opts ClsactFilter(const TcAttachment& at) {
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = at.clsact_handle;
  opts.priority = at.clsact_priority;
  return opts;
}

// BPF_F_BEFORE from the kernel's uapi (6.6+): with no relative program, the front of the hook.
constexpr uint32_t kBpfFBefore = 1U << 3;

absl::Status Errno(int err, std::string_view what) {
  std::string msg = absl::StrCat(std::string(what), ": ", std::strerror(err));
  if (err == EPERM || err == EACCES) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

// Reverse NAT at clsact priority 2: the steer program (priority 1) goes first.
TcAttachment RnatAttachment(const std::string& root, const std::string& ifname, bool egress) {
  TcAttachment at;
  at.ifname = ifname;
  at.egress = egress;
  at.link_pin = absl::StrCat(root, egress ? "/link_tc_out_" : "/link_tc_in_", ifname);
  at.clsact_priority = 2;
  at.what = "reverse NAT";
  return at;
}

using ProgTag = std::array<uint8_t, BPF_TAG_SIZE>;

// The tag (a hash of the instructions) of the xgate XDP program on the interface, if any.
std::optional<ProgTag> AttachedXgateTag(int ifindex) {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp) || !mp) return std::nullopt;
  std::optional<ProgTag> tag;
  auto consider = [&](const xdp_program* p) {
    if (p && std::string_view(xdp_program__name(p)) == kXdpProgramName) {
      tag.emplace();
      std::memcpy(tag->data(), xdp_program__tag(p), BPF_TAG_SIZE);
    }
  };
  if (xdp_multiprog__is_legacy(mp)) {
    consider(xdp_multiprog__main_prog(mp));
  } else {
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p;
         p = xdp_multiprog__next_prog(p, mp)) {
      consider(p);
    }
  }
  xdp_multiprog__close(mp);
  return tag;
}

// The tag this build's XDP program has, from a throwaway load (the maps under the pin root
// are reused, so nothing else is created).
absl::StatusOr<ProgTag> BuiltXdpTag(const std::string& pin_root) {
  xgate_bpf* skel = OpenXgateObject(pin_root);
  if (!skel) return Errno(errno, "opening the BPF object");
  int err = xgate_bpf__load(skel);
  ProgTag tag{};
  if (!err) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    err = bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.xgate_xdp), &info, &len);
    if (!err) std::memcpy(tag.data(), info.tag, BPF_TAG_SIZE);
  }
  xgate_bpf__destroy(skel);
  if (err) return Errno(errno, "loading the XDP program to compare it with the attached one");
  return tag;
}

absl::Status DetachXgateXdp(int ifindex, const std::string& ifname) {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp) || !mp) return absl::OkStatus();
  enum xdp_attach_mode mode = xdp_multiprog__attach_mode(mp);
  int err = 0;
  if (xdp_multiprog__is_legacy(mp)) {
    xdp_program* main = xdp_multiprog__main_prog(mp);
    if (main && std::string_view(xdp_program__name(main)) == kXdpProgramName)
      err = xdp_program__detach(main, ifindex, mode, 0);
  } else {
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p;
         p = xdp_multiprog__next_prog(p, mp)) {
      if (std::string_view(xdp_program__name(p)) == kXdpProgramName) {
        err = xdp_program__detach(p, ifindex, mode, 0);
        break;
      }
    }
  }
  xdp_multiprog__close(mp);
  if (err) return Errno(-err, absl::StrCat("detaching XDP from ", ifname));
  return absl::OkStatus();
}

}  // namespace

xgate_bpf* OpenXgateObject(const std::string& pin_root) {
  bpf_object_open_opts open_opts{};
  open_opts.sz = sizeof(open_opts);
  open_opts.pin_root_path = pin_root.c_str();
  xgate_bpf* skel = xgate_bpf__open_opts(&open_opts);
  if (!skel) return nullptr;
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0 ||
      bpf_map__set_max_entries(skel->maps.xg_flow_cache,
                               static_cast<uint32_t>(cpus) * XG_FLOW_CACHE_SETS) != 0) {
    int err = cpus <= 0 ? -cpus : errno;
    xgate_bpf__destroy(skel);
    errno = err;
    return nullptr;
  }
  return skel;
}

absl::Status AttachTcProgram(int prog_fd, const TcAttachment& at) {
  int ifindex = static_cast<int>(if_nametoindex(at.ifname.c_str()));
  if (ifindex == 0) return absl::NotFoundError(absl::StrCat("no interface ", at.ifname));
  const char* dir = at.egress ? "egress" : "ingress";

  // An earlier agent's tcx link: swap its program in place.
  int link_fd = bpf_obj_get(at.link_pin.c_str());
  if (link_fd >= 0) {
    int err = bpf_link_update(link_fd, prog_fd, nullptr);
    close(link_fd);
    if (err == 0) {
      spdlog::info("TC: updated the tcx {} {} link on {}", at.what, dir, at.ifname);
      return absl::OkStatus();
    }
    unlink(at.link_pin.c_str());  // stale (interface gone and back): attach afresh
  }

  bpf_link_create_opts link_opts{};
  link_opts.sz = sizeof(link_opts);
  link_opts.flags = at.first ? kBpfFBefore : 0;
  link_fd = bpf_link_create(
      prog_fd, ifindex, static_cast<bpf_attach_type>(at.egress ? kBpfTcxEgress : kBpfTcxIngress),
      &link_opts);
  if (link_fd >= 0) {
    int err = bpf_obj_pin(link_fd, at.link_pin.c_str());
    int pin_errno = errno;
    close(link_fd);
    if (err) return Errno(pin_errno, absl::StrCat("pinning the tcx link at ", at.link_pin));
    spdlog::info("TC: attached {} to {} {} (tcx)", at.what, at.ifname, dir);
    return absl::OkStatus();
  }

  // No tcx: clsact with a filter we replace on restart.
  bpf_tc_hook hook = ClsactHook(ifindex, at.egress);
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST) return Errno(-err, absl::StrCat("creating clsact on ", at.ifname));
  bpf_tc_opts opts = ClsactFilter(at);
  opts.prog_fd = prog_fd;
  opts.flags = BPF_TC_F_REPLACE;
  err = bpf_tc_attach(&hook, &opts);
  if (err) return Errno(-err, absl::StrCat("attaching TC to ", at.ifname, " ", dir));
  spdlog::info("TC: attached {} to {} {} (clsact)", at.what, at.ifname, dir);
  return absl::OkStatus();
}

void DetachTcProgram(const TcAttachment& at) {
  int link_fd = bpf_obj_get(at.link_pin.c_str());
  if (link_fd >= 0) {
    bpf_link_detach(link_fd);
    close(link_fd);
    unlink(at.link_pin.c_str());
    return;
  }
  int ifindex = static_cast<int>(if_nametoindex(at.ifname.c_str()));
  if (ifindex == 0) return;
  bpf_tc_hook hook = ClsactHook(ifindex, at.egress);
  bpf_tc_opts opts = ClsactFilter(at);
  bpf_tc_detach(&hook, &opts);  // absent is fine
}

absl::StatusOr<std::unique_ptr<Datapath>> Datapath::Open(const DatapathOptions& options) {
  static std::once_flag log_once;
  std::call_once(log_once, [] {
    libbpf_set_print(LibbpfPrint);
    libxdp_set_print(LibxdpPrint);
  });
  if (absl::Status s = maps::PreparePinRoot(options.pin_root); !s.ok()) return s;
  std::unique_ptr<Datapath> dp(new Datapath(options));

  dp->skel_ = OpenXgateObject(dp->options_.pin_root);
  if (!dp->skel_) return Errno(errno, "opening the BPF object");
  // A new build may have grown a map: its old pin would fail the load (conntrack entries
  // dropped that way are re-picked by Maglev, the same backend while the set is unchanged).
  if (auto replaced = maps::ReplaceIncompatiblePins(dp->skel_->obj); !replaced.ok()) {
    return replaced.status();
  }

  for (const std::string& ifname : options.interfaces) {
    if (if_nametoindex(ifname.c_str()) == 0)
      return absl::NotFoundError(absl::StrCat("no interface ", ifname));
  }
  // libxdp must load the object itself (the XDP program as an extension of its
  // dispatcher), so the first new attachment is also the load.
  for (const std::string& ifname : options.interfaces) {
    bool adopted = false;
    if (absl::Status s = dp->AttachXdp(ifname, &adopted); !s.ok()) return s;
  }
  if (!dp->loaded_) {
    if (absl::Status s = dp->Load(); !s.ok()) return s;
  }
  for (const std::string& ifname : options.interfaces) {
    for (bool egress : {false, true}) {
      if (absl::Status s = dp->AttachTc(ifname, egress); !s.ok()) return s;
    }
  }
  // Both are best effort: without the watch xg_egress stays empty and TC sends every packet
  // XDP would have redirected (slower, never lost); without the counter, drops go uncounted.
  auto watch = EgressWatch::Start(dp->MapFd("xg_egress"),
                                  {dp->MapFd("xg_egress_gen"), dp->MapFd("xg_flow_gen")});
  if (watch.ok()) {
    dp->egress_ = std::move(*watch);
  } else {
    spdlog::warn("L4: egress capabilities not followed ({}); TC sends what XDP would redirect",
                 watch.status().ToString());
  }
  auto drops = XmitDropCounter::Start(dp->options_.pin_root);
  if (drops.ok()) {
    dp->xmit_drops_ = std::move(*drops);
  } else {
    spdlog::warn("L4: XDP transmit drops not counted: {}", drops.status().ToString());
  }
  return dp;
}

Datapath::~Datapath() {
  egress_.reset();  // its thread writes through the object's map fd
  xmit_drops_.reset();
  if (xdp_) xdp_program__close(xdp_);
  if (skel_) xgate_bpf__destroy(skel_);
}

absl::Status Datapath::Load() {
  if (int err = bpf_object__load(skel_->obj); err) {
    return Errno(-err, absl::StrCat("loading the BPF programs (maps under ", options_.pin_root,
                                    "; a pinned map with another layout must be removed)"));
  }
  loaded_ = true;
  return absl::OkStatus();
}

absl::Status Datapath::AttachXdp(const std::string& ifname, bool* adopted) {
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (std::optional<ProgTag> attached = AttachedXgateTag(ifindex)) {
    if (built_tag_.empty()) {
      auto built = BuiltXdpTag(options_.pin_root);
      if (!built.ok()) return built.status();
      built_tag_.assign(built->begin(), built->end());
    }
    if (std::equal(built_tag_.begin(), built_tag_.end(), attached->begin())) {
      spdlog::info("XDP: adopting the xgate program already on {}", ifname);
      *adopted = true;
      return absl::OkStatus();
    }
    // Another build's program: replace it (the maps, and so the flows, carry over).
    spdlog::info("XDP: replacing the older xgate program on {}", ifname);
    if (absl::Status s = DetachXgateXdp(ifindex, ifname); !s.ok()) return s;
  }
  if (!xdp_) {
    xdp_ = xdp_program__from_bpf_obj(skel_->obj, "xdp");
    if (long err = libxdp_get_error(xdp_); err) {
      xdp_ = nullptr;
      return Errno(static_cast<int>(-err), "preparing the XDP program for libxdp");
    }
  }
  int err = xdp_program__attach(xdp_, ifindex, XDP_MODE_NATIVE, 0);
  const char* mode = "native";
  if (err) {
    spdlog::info("XDP: native mode on {} failed ({}), using generic mode", ifname,
                 std::strerror(-err));
    err = xdp_program__attach(xdp_, ifindex, XDP_MODE_SKB, 0);
    mode = "generic";
  }
  if (err) return Errno(-err, absl::StrCat("attaching XDP to ", ifname));
  loaded_ = true;
  spdlog::info("XDP: attached to {} ({} mode)", ifname, mode);
  return absl::OkStatus();
}

absl::Status Datapath::AttachTc(const std::string& ifname, bool egress) {
  return AttachTcProgram(egress ? TcEgressProgFd() : TcIngressProgFd(),
                         RnatAttachment(options_.pin_root, ifname, egress));
}

absl::Status Datapath::DetachAndUnpin() {
  absl::Status result;
  for (const std::string& ifname : options_.interfaces) {
    int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (ifindex == 0) continue;
    if (absl::Status s = DetachXgateXdp(ifindex, ifname); !s.ok()) result.Update(s);
    for (bool egress : {false, true})
      DetachTcProgram(RnatAttachment(options_.pin_root, ifname, egress));
  }
  if (absl::Status s = maps::RemovePinRoot(options_.pin_root); !s.ok()) result.Update(s);
  return result;
}

int Datapath::MapFd(const char* name) const {
  bpf_map* map = bpf_object__find_map_by_name(skel_->obj, name);
  return map ? bpf_map__fd(map) : -1;
}
int Datapath::XdpProgFd() const { return bpf_program__fd(skel_->progs.xgate_xdp); }
int Datapath::TcIngressProgFd() const { return bpf_program__fd(skel_->progs.xgate_tc_rnat_in); }
int Datapath::TcEgressProgFd() const { return bpf_program__fd(skel_->progs.xgate_tc_rnat_out); }

}  // namespace xgate::l4
