#include "agent/model/address.h"

#include <arpa/inet.h>

namespace xgate::model {

std::string CanonicalAddress(const std::string& address) {
  unsigned char bytes[16];
  char text[INET6_ADDRSTRLEN];
  int family = address.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (inet_pton(family, address.c_str(), bytes) != 1) return address;
  return inet_ntop(family, bytes, text, sizeof text) ? text : address;
}

}  // namespace xgate::model
