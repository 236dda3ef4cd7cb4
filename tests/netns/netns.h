// What the namespace tests share: quiet shell commands, entering a named network namespace,
// and a private mount namespace with its own bpffs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

namespace xgate::e2e {

// Runs a shell command quietly; true when it exits 0.
bool Sh(const std::string& cmd);

// Moves the calling thread into a named network namespace (/run/netns/NAME).
bool EnterNs(const std::string& name);

// Gives this process its own mount namespace with a fresh bpffs on /sys/fs/bpf (libxdp
// wants one there, and leaves its working folder in it), so no pin of ours is seen outside
// and all go away with the process. Returns "" or why it failed. Must run before the process
// starts a thread; later calls return the first result.
std::string PrivateBpffs();

// Runs `fn` with the calling thread in network namespace `ns`, then puts the thread back in
// the namespace it was in; false if either move failed, else what `fn` returned.
bool InNamespace(const std::string& ns, const std::function<bool()>& fn);

// Attaches an XDP program that passes everything (native mode) to an interface of the calling
// thread's namespace: the other end of its veth can then XDP_REDIRECT into it (NAPI).
bool AttachXdpPass(const std::string& ifname);

// Turns GRO on or off on an interface of the calling thread's namespace (ethtool's -K gro),
// which for a veth decides whether its peer takes XDP_REDIRECTed frames (NAPI).
bool SetGro(const std::string& ifname, bool on);

// XGATE_REQUIRE_PRIVILEGED=1: a test that cannot get its privileges fails instead of skipping.
bool PrivilegeRequired();

// Waits (bounded) for the child `pid` to exit: its exit code (128 + signal when killed), and
// pid set to -1; -1 when it still runs after `within`.
int WaitForExit(pid_t& pid, std::chrono::milliseconds within);

}  // namespace xgate::e2e
