// Crafted packets for BPF_PROG_TEST_RUN, built from the kernel's header structs, and
// checksum verification by recomputing over the whole packet.
#pragma once

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace xgate::testing {

struct Endpoint {
  std::string addr;  // v4 or v6 literal
  uint16_t port = 0;
};

struct PacketSpec {
  Endpoint src;
  Endpoint dst;
  uint8_t proto = IPPROTO_TCP;
  bool vlan = false;
  uint8_t ttl = 64;
  std::string payload = "hello, backend";
};

// One's-complement sum of a buffer, not yet folded.
uint32_t SumBytes(const uint8_t* data, size_t len, uint32_t sum = 0);
uint16_t Fold(uint32_t sum);

bool IsV6(const std::string& addr);

// Ethernet (+ optional 802.1Q tag) + IP + TCP/UDP + payload with correct checksums.
std::vector<uint8_t> BuildPacket(const PacketSpec& spec);

// An ICMP error (IPv4 destination unreachable / fragmentation needed, or ICMPv6 packet too
// big) from `from` to `to` quoting the first bytes of `quoted` (an IP packet without L2).
std::vector<uint8_t> BuildIcmpError(const std::string& from, const std::string& to,
                                    const std::vector<uint8_t>& quoted_ip, size_t quote_len);

// What a packet says, read back from the bytes (after the program ran).
struct Parsed {
  bool ok = false;
  bool v6 = false;
  size_t l3 = 0;  // offset of the IP header
  size_t l4 = 0;
  uint8_t proto = 0;
  uint8_t ttl = 0;
  std::string src, dst;
  uint16_t sport = 0, dport = 0;
  std::string payload;
};
Parsed Parse(const std::vector<uint8_t>& frame);
// The packet quoted by an ICMP error frame.
Parsed ParseQuoted(const std::vector<uint8_t>& frame);

// Every checksum in the packet is right: IPv4 header, TCP/UDP (pseudo header) or
// ICMP/ICMPv6, and for an ICMP error the quoted IPv4 header. Empty string if so.
std::string ChecksumProblems(const std::vector<uint8_t>& frame);

// Puts the TCP/UDP checksum in the form a sender with transmit offload leaves it
// (CHECKSUM_PARTIAL: the folded pseudo-header sum only), and tells whether it is in it.
void MakePartialChecksum(std::vector<uint8_t>& frame);
bool HasPartialChecksum(const std::vector<uint8_t>& frame);

// The IP packet inside a frame (no Ethernet header).
std::vector<uint8_t> IpPart(const std::vector<uint8_t>& frame);

}  // namespace xgate::testing
