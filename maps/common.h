/* Sizes, families and flags shared by the BPF programs (bpf/) and the agent (C++).
 * Addresses are 16 bytes in network order: IPv6 as is, IPv4 as v4-mapped (::ffff:a.b.c.d).
 * Ports in map keys and values are in host order so `bpftool map dump` prints them plainly. */
#ifndef XGATE_MAPS_COMMON_H
#define XGATE_MAPS_COMMON_H

#include <linux/types.h>

#define XG_MAX_LISTENERS 1024
/* One Maglev table per L4 listener: a listener's service id indexes xg_maglev. */
#define XG_MAX_SERVICES XG_MAX_LISTENERS
#define XG_MAX_BACKENDS 16384
/* Maglev table size: a prime well above 100 x the backends of one service. */
#define XG_MAGLEV_SIZE 65537
#define XG_CONNTRACK_SIZE 262144

#define XG_FAMILY_V4 4
#define XG_FAMILY_V6 6

/* The default pin root; each map is pinned under it by its name (LIBBPF_PIN_BY_NAME). */
/* Address fields are 4-byte aligned so BPF code can read them as words from the stack. */
#define XG_ADDR_ALIGN __attribute__((aligned(4)))

#define XG_DEFAULT_PIN_ROOT "/sys/fs/bpf/xgate"

#endif
