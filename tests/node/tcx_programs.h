// The names of the programs at an interface's tcx ingress hook, in the order they run (for
// tests; bpftool 7.1 does not list tcx).
#pragma once

#include <bpf/bpf.h>
#include <net/if.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace xgate::testing {

inline std::vector<std::string> TcxIngressPrograms(const std::string& ifname) {
  constexpr int kBpfTcxIngress = 46;  // enum bpf_attach_type, kernel 6.6+
  std::vector<std::string> names;
  __u32 ids[16] = {};
  struct bpf_prog_query_opts opts {};
  opts.sz = sizeof(opts);
  opts.prog_ids = ids;
  opts.prog_cnt = 16;
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (bpf_prog_query_opts(ifindex, static_cast<bpf_attach_type>(kBpfTcxIngress), &opts) != 0)
    return names;
  for (__u32 i = 0; i < opts.prog_cnt; ++i) {
    int fd = bpf_prog_get_fd_by_id(ids[i]);
    if (fd < 0) continue;
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) names.emplace_back(info.name);
    close(fd);
  }
  return names;
}

}  // namespace xgate::testing
