#include "tests/bpf/packet.h"

#include <linux/icmp.h>
#include <linux/icmpv6.h>

#include <algorithm>

namespace xgate::testing {
namespace {

constexpr uint8_t kSrcMac[6] = {0x02, 0, 0, 0, 0, 0x01};
constexpr uint8_t kDstMac[6] = {0x02, 0, 0, 0, 0, 0x02};

void Append(std::vector<uint8_t>& out, const void* data, size_t len) {
  size_t at = out.size();
  out.resize(at + len);
  if (len) std::memcpy(out.data() + at, data, len);
}

void AppendEthernet(std::vector<uint8_t>& out, bool v6, bool vlan) {
  ethhdr eth{};
  std::memcpy(eth.h_dest, kDstMac, 6);
  std::memcpy(eth.h_source, kSrcMac, 6);
  uint16_t inner = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
  if (vlan) {
    eth.h_proto = htons(ETH_P_8021Q);
    Append(out, &eth, sizeof(eth));
    uint16_t tag[2] = {htons(42), inner};
    Append(out, tag, sizeof(tag));
  } else {
    eth.h_proto = inner;
    Append(out, &eth, sizeof(eth));
  }
}

// Pseudo-header sum for an L4 segment.
uint32_t PseudoSum(bool v6, const uint8_t* src, const uint8_t* dst, uint8_t proto, size_t len) {
  uint32_t sum = 0;
  size_t alen = v6 ? 16 : 4;
  sum = SumBytes(src, alen, sum);
  sum = SumBytes(dst, alen, sum);
  sum += htons(proto);
  if (v6) {
    uint32_t l = htonl(static_cast<uint32_t>(len));
    sum = SumBytes(reinterpret_cast<uint8_t*>(&l), 4, sum);
  } else {
    sum += htons(static_cast<uint16_t>(len));
  }
  return sum;
}

// Builds the IP packet (no L2) for `spec`.
std::vector<uint8_t> BuildIp(const PacketSpec& spec) {
  bool v6 = IsV6(spec.dst.addr);
  std::vector<uint8_t> l4;
  if (spec.proto == IPPROTO_TCP) {
    tcphdr th{};
    th.source = htons(spec.src.port);
    th.dest = htons(spec.dst.port);
    th.seq = htonl(1000);
    th.doff = 5;
    th.syn = 1;
    th.window = htons(65535);
    Append(l4, &th, sizeof(th));
  } else {
    udphdr uh{};
    uh.source = htons(spec.src.port);
    uh.dest = htons(spec.dst.port);
    uh.len = htons(static_cast<uint16_t>(sizeof(uh) + spec.payload.size()));
    Append(l4, &uh, sizeof(uh));
  }
  Append(l4, spec.payload.data(), spec.payload.size());

  std::vector<uint8_t> ip;
  uint8_t src[16] = {}, dst[16] = {};
  if (v6) {
    inet_pton(AF_INET6, spec.src.addr.c_str(), src);
    inet_pton(AF_INET6, spec.dst.addr.c_str(), dst);
    ipv6hdr h{};
    h.version = 6;
    h.payload_len = htons(static_cast<uint16_t>(l4.size()));
    h.nexthdr = spec.proto;
    h.hop_limit = spec.ttl;
    std::memcpy(&h.saddr, src, 16);
    std::memcpy(&h.daddr, dst, 16);
    Append(ip, &h, sizeof(h));
  } else {
    inet_pton(AF_INET, spec.src.addr.c_str(), src);
    inet_pton(AF_INET, spec.dst.addr.c_str(), dst);
    iphdr h{};
    h.version = 4;
    h.ihl = 5;
    h.tot_len = htons(static_cast<uint16_t>(sizeof(h) + l4.size()));
    h.id = htons(7);
    h.ttl = spec.ttl;
    h.protocol = spec.proto;
    std::memcpy(&h.saddr, src, 4);
    std::memcpy(&h.daddr, dst, 4);
    h.check = ~Fold(SumBytes(reinterpret_cast<uint8_t*>(&h), sizeof(h)));
    Append(ip, &h, sizeof(h));
  }
  uint32_t sum = PseudoSum(v6, src, dst, spec.proto, l4.size());
  uint16_t check = ~Fold(SumBytes(l4.data(), l4.size(), sum));
  if (spec.proto == IPPROTO_UDP && check == 0) check = 0xffff;
  size_t off = spec.proto == IPPROTO_TCP ? 16 : 6;
  std::memcpy(&l4[off], &check, 2);
  Append(ip, l4.data(), l4.size());
  return ip;
}

std::string Addr(bool v6, const uint8_t* p) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, p, buf, sizeof(buf));
  return buf;
}

size_t L3Offset(const std::vector<uint8_t>& frame, uint16_t* ethertype) {
  if (frame.size() < sizeof(ethhdr)) return 0;
  uint16_t type;
  std::memcpy(&type, &frame[12], 2);
  type = ntohs(type);
  size_t off = sizeof(ethhdr);
  if (type == ETH_P_8021Q) {
    std::memcpy(&type, &frame[16], 2);
    type = ntohs(type);
    off += 4;
  }
  *ethertype = type;
  return off;
}

}  // namespace

uint32_t SumBytes(const uint8_t* data, size_t len, uint32_t sum) {
  for (size_t i = 0; i + 1 < len; i += 2) {
    uint16_t w;
    std::memcpy(&w, data + i, 2);
    sum += w;
  }
  if (len & 1) {
    uint8_t last[2] = {data[len - 1], 0};
    uint16_t w;
    std::memcpy(&w, last, 2);
    sum += w;
  }
  return sum;
}

uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

bool IsV6(const std::string& addr) { return addr.find(':') != std::string::npos; }

std::vector<uint8_t> BuildPacket(const PacketSpec& spec) {
  std::vector<uint8_t> frame;
  AppendEthernet(frame, IsV6(spec.dst.addr), spec.vlan);
  std::vector<uint8_t> ip = BuildIp(spec);
  Append(frame, ip.data(), ip.size());
  return frame;
}

std::vector<uint8_t> IpPart(const std::vector<uint8_t>& frame) {
  uint16_t type = 0;
  size_t off = L3Offset(frame, &type);
  return std::vector<uint8_t>(frame.begin() + off, frame.end());
}

std::vector<uint8_t> BuildIcmpError(const std::string& from, const std::string& to,
                                    const std::vector<uint8_t>& quoted_ip, size_t quote_len) {
  bool v6 = IsV6(to);
  std::vector<uint8_t> icmp;
  if (v6) {
    icmp6hdr h{};
    h.icmp6_type = ICMPV6_PKT_TOOBIG;
    h.icmp6_mtu = htonl(1280);
    Append(icmp, &h, sizeof(h));
  } else {
    icmphdr h{};
    h.type = ICMP_DEST_UNREACH;
    h.code = ICMP_FRAG_NEEDED;
    h.un.frag.mtu = htons(1400);
    Append(icmp, &h, sizeof(h));
  }
  Append(icmp, quoted_ip.data(), std::min(quote_len, quoted_ip.size()));

  std::vector<uint8_t> frame;
  AppendEthernet(frame, v6, false);
  uint8_t src[16] = {}, dst[16] = {};
  if (v6) {
    inet_pton(AF_INET6, from.c_str(), src);
    inet_pton(AF_INET6, to.c_str(), dst);
    ipv6hdr h{};
    h.version = 6;
    h.payload_len = htons(static_cast<uint16_t>(icmp.size()));
    h.nexthdr = IPPROTO_ICMPV6;
    h.hop_limit = 64;
    std::memcpy(&h.saddr, src, 16);
    std::memcpy(&h.daddr, dst, 16);
    Append(frame, &h, sizeof(h));
    uint16_t check = ~Fold(
        SumBytes(icmp.data(), icmp.size(), PseudoSum(true, src, dst, IPPROTO_ICMPV6, icmp.size())));
    std::memcpy(&icmp[2], &check, 2);
  } else {
    inet_pton(AF_INET, from.c_str(), src);
    inet_pton(AF_INET, to.c_str(), dst);
    iphdr h{};
    h.version = 4;
    h.ihl = 5;
    h.tot_len = htons(static_cast<uint16_t>(sizeof(h) + icmp.size()));
    h.ttl = 64;
    h.protocol = IPPROTO_ICMP;
    std::memcpy(&h.saddr, src, 4);
    std::memcpy(&h.daddr, dst, 4);
    h.check = ~Fold(SumBytes(reinterpret_cast<uint8_t*>(&h), sizeof(h)));
    Append(frame, &h, sizeof(h));
    uint16_t check = ~Fold(SumBytes(icmp.data(), icmp.size()));
    std::memcpy(&icmp[2], &check, 2);
  }
  Append(frame, icmp.data(), icmp.size());
  return frame;
}

namespace {

// Parses an IP packet at `off` of `buf` (limited to `end`).
Parsed ParseIp(const std::vector<uint8_t>& buf, size_t off, size_t end, bool v6) {
  Parsed p;
  p.v6 = v6;
  p.l3 = off;
  if (v6) {
    if (off + sizeof(ipv6hdr) > end) return p;
    ipv6hdr h;
    std::memcpy(&h, &buf[off], sizeof(h));
    p.src = Addr(true, reinterpret_cast<uint8_t*>(&h.saddr));
    p.dst = Addr(true, reinterpret_cast<uint8_t*>(&h.daddr));
    p.proto = h.nexthdr;
    p.ttl = h.hop_limit;
    p.l4 = off + sizeof(h);
  } else {
    if (off + sizeof(iphdr) > end) return p;
    iphdr h;
    std::memcpy(&h, &buf[off], sizeof(h));
    p.src = Addr(false, reinterpret_cast<uint8_t*>(&h.saddr));
    p.dst = Addr(false, reinterpret_cast<uint8_t*>(&h.daddr));
    p.proto = h.protocol;
    p.ttl = h.ttl;
    p.l4 = off + h.ihl * 4;
  }
  if ((p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) && p.l4 + 4 <= end) {
    uint16_t ports[2];
    std::memcpy(ports, &buf[p.l4], 4);
    p.sport = ntohs(ports[0]);
    p.dport = ntohs(ports[1]);
    size_t hdr = p.proto == IPPROTO_TCP ? sizeof(tcphdr) : sizeof(udphdr);
    if (p.l4 + hdr <= end) p.payload.assign(buf.begin() + p.l4 + hdr, buf.begin() + end);
  }
  p.ok = true;
  return p;
}

}  // namespace

Parsed Parse(const std::vector<uint8_t>& frame) {
  uint16_t type = 0;
  size_t off = L3Offset(frame, &type);
  if (type != ETH_P_IP && type != ETH_P_IPV6) return {};
  return ParseIp(frame, off, frame.size(), type == ETH_P_IPV6);
}

std::string ChecksumProblems(const std::vector<uint8_t>& frame) {
  Parsed p = Parse(frame);
  if (!p.ok) return "not an IP packet";
  std::string problems;
  const uint8_t* ip = &frame[p.l3];
  if (!p.v6 && Fold(SumBytes(ip, 20)) != 0xffff) problems += "IPv4 header; ";
  size_t l4_len = frame.size() - p.l4;
  const uint8_t* l4 = &frame[p.l4];
  const uint8_t* src = p.v6 ? ip + 8 : ip + 12;
  const uint8_t* dst = p.v6 ? ip + 24 : ip + 16;
  if (p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP || p.proto == IPPROTO_ICMPV6) {
    if (Fold(SumBytes(l4, l4_len, PseudoSum(p.v6, src, dst, p.proto, l4_len))) != 0xffff)
      problems += "L4 (" + std::to_string(p.proto) + "); ";
  } else if (p.proto == IPPROTO_ICMP) {
    if (Fold(SumBytes(l4, l4_len)) != 0xffff) problems += "ICMP; ";
  }
  if (p.proto == IPPROTO_ICMP && l4_len >= 8 + 20 && Fold(SumBytes(l4 + 8, 20)) != 0xffff)
    problems += "quoted IPv4 header; ";
  // A quote of the whole packet: its transport checksum must hold too.
  Parsed q = ParseQuoted(frame);
  if (q.ok && (q.proto == IPPROTO_TCP || q.proto == IPPROTO_UDP)) {
    const uint8_t* qip = &frame[q.l3];
    size_t qlen = q.v6 ? 40 + ntohs(*reinterpret_cast<const uint16_t*>(qip + 4))
                       : ntohs(*reinterpret_cast<const uint16_t*>(qip + 2));
    if (q.l3 + qlen == frame.size()) {
      const uint8_t* qsrc = q.v6 ? qip + 8 : qip + 12;
      const uint8_t* qdst = q.v6 ? qip + 24 : qip + 16;
      size_t seg = frame.size() - q.l4;
      if (Fold(SumBytes(&frame[q.l4], seg, PseudoSum(q.v6, qsrc, qdst, q.proto, seg))) != 0xffff)
        problems += "quoted L4; ";
    }
  }
  return problems;
}

namespace {

// Offset of the TCP/UDP checksum field and the folded pseudo-header sum, or 0.
size_t PartialForm(const std::vector<uint8_t>& frame, uint16_t* pseudo) {
  Parsed p = Parse(frame);
  if (!p.ok || (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)) return 0;
  const uint8_t* ip = &frame[p.l3];
  size_t seg = frame.size() - p.l4;
  *pseudo = Fold(PseudoSum(p.v6, p.v6 ? ip + 8 : ip + 12, p.v6 ? ip + 24 : ip + 16, p.proto, seg));
  return p.l4 + (p.proto == IPPROTO_TCP ? 16 : 6);
}

}  // namespace

void MakePartialChecksum(std::vector<uint8_t>& frame) {
  uint16_t pseudo = 0;
  if (size_t off = PartialForm(frame, &pseudo)) std::memcpy(&frame[off], &pseudo, 2);
}

bool HasPartialChecksum(const std::vector<uint8_t>& frame) {
  uint16_t pseudo = 0;
  size_t off = PartialForm(frame, &pseudo);
  return off && std::memcmp(&frame[off], &pseudo, 2) == 0;
}

Parsed ParseQuoted(const std::vector<uint8_t>& frame) {
  Parsed outer = Parse(frame);
  if (!outer.ok || (outer.proto != IPPROTO_ICMP && outer.proto != IPPROTO_ICMPV6)) return {};
  return ParseIp(frame, outer.l4 + 8, frame.size(), outer.v6);
}

}  // namespace xgate::testing
