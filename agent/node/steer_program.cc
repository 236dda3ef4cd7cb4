#include "agent/node/steer_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/l4/datapath.h"
#include "bpf/steer.skel.h"
#include "maps/bpffs.h"
#include "maps/pins.h"
#include "spdlog/spdlog.h"

namespace xgate::node {
namespace {

// First at the hook (tcx), or clsact priority 1 with the reverse NAT filter at 2: the reverse
// NAT program ends the chain for packets it leaves alone.
l4::TcAttachment SteerAttachment(const std::string& root, const std::string& ifname) {
  l4::TcAttachment at;
  at.ifname = ifname;
  at.link_pin = maps::PinPath(root, std::string(kSteerLinkPrefix) + ifname);
  at.clsact_handle = 1;
  at.clsact_priority = 1;
  at.first = true;
  at.what = "steering";
  return at;
}

absl::Status Errno(int err, std::string_view what) {
  std::string msg = std::string(what) + ": " + std::strerror(err);
  if (err == EPERM || err == EACCES) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SteerProgram>> SteerProgram::Open(
    const std::string& pin_root, const std::vector<std::string>& interfaces) {
  if (absl::Status s = maps::PreparePinRoot(pin_root); !s.ok()) return s;
  for (const std::string& ifname : interfaces) {
    if (if_nametoindex(ifname.c_str()) == 0)
      return absl::NotFoundError(absl::StrCat("no interface ", ifname));
  }
  std::unique_ptr<SteerProgram> p(new SteerProgram(pin_root, interfaces));
  bpf_object_open_opts open_opts{};
  open_opts.sz = sizeof(open_opts);
  open_opts.pin_root_path = p->pin_root_.c_str();
  p->skel_ = xgate_steer_bpf__open_opts(&open_opts);
  if (!p->skel_) return Errno(errno, "opening the steer BPF object");
  if (auto replaced = maps::ReplaceIncompatiblePins(p->skel_->obj); !replaced.ok()) {
    return replaced.status();
  }
  if (int err = xgate_steer_bpf__load(p->skel_); err) {
    return Errno(-err, absl::StrCat("loading the steer program (maps under ", pin_root,
                                    "; a pinned map with another layout must be removed)"));
  }
  for (const std::string& ifname : interfaces) {
    if (absl::Status s = l4::AttachTcProgram(p->ProgFd(), SteerAttachment(pin_root, ifname));
        !s.ok())
      return s;
  }
  return p;
}

SteerProgram::~SteerProgram() {
  if (skel_) xgate_steer_bpf__destroy(skel_);
}

int SteerProgram::TargetsFd() const { return bpf_map__fd(skel_->maps.xg_steer_targets); }
int SteerProgram::StatsFd() const { return bpf_map__fd(skel_->maps.xg_steer_stats); }
int SteerProgram::SocksFd() const { return bpf_map__fd(skel_->maps.xg_steer_socks); }
int SteerProgram::ProgFd() const { return bpf_program__fd(skel_->progs.xgate_tc_steer); }

absl::Status SteerProgram::DetachAndUnpin() {
  for (const std::string& ifname : interfaces_) {
    l4::DetachTcProgram(SteerAttachment(pin_root_, ifname));
  }
  absl::Status result;
  for (std::string_view name : {kSteerTargets, kSteerStats, kSteerSocks}) {
    std::string path = maps::PinPath(pin_root_, name);
    if (unlink(path.c_str()) != 0 && errno != ENOENT)
      result.Update(Errno(errno, absl::StrCat("unpinning ", path)));
  }
  return result;
}

}  // namespace xgate::node
