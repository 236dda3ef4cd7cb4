#include "userspace-proxy/server/session_persistence.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "userspace-proxy/server/config.h"

namespace xgate::proxy {
namespace {

constexpr unsigned char kVersion = 1;
constexpr size_t kMacSize = 12;
constexpr size_t kSignedSize = 1 + 3 * sizeof(uint64_t);  // version, tag, issued, used
constexpr size_t kTokenSize = kSignedSize + kMacSize;

void PutU64(uint64_t v, unsigned char* out) {
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<unsigned char>(v);
}

uint64_t GetU64(const unsigned char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return v;
}

// HMAC-SHA256 of `label` and `data` under `key`.
std::array<unsigned char, 32> Mac(const std::array<unsigned char, SessionCodec::kKeySize>& key,
                                  std::string_view label, std::string_view data) {
  std::string input(label);
  input.append(data);
  std::array<unsigned char, 32> out{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), out.data(), &size);
  return out;
}

}  // namespace

const SessionCodec& SessionCodec::Process() {
  static const SessionCodec codec = [] {
    std::array<unsigned char, kKeySize> key{};
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
      throw std::runtime_error("RAND_bytes failed: no key for session persistence");
    }
    return SessionCodec(key);
  }();
  return codec;
}

uint64_t SessionCodec::NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint64_t SessionCodec::Tag(std::string_view endpoint) const {
  return GetU64(Mac(key_, "endpoint\n", endpoint).data());
}

std::string SessionCodec::Encode(const SessionToken& token) const {
  unsigned char bytes[kTokenSize];
  bytes[0] = kVersion;
  PutU64(token.tag, bytes + 1);
  PutU64(token.issued_ms, bytes + 9);
  PutU64(token.used_ms, bytes + 17);
  std::string_view signed_part(reinterpret_cast<const char*>(bytes), kSignedSize);
  std::memcpy(bytes + kSignedSize, Mac(key_, "token\n", signed_part).data(), kMacSize);
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(bytes), kTokenSize));
}

std::optional<SessionToken> SessionCodec::Decode(std::string_view value) const {
  std::string bytes;
  if (value.size() > 2 * kTokenSize ||
      !absl::WebSafeBase64Unescape(absl::string_view(value.data(), value.size()), &bytes) ||
      bytes.size() != kTokenSize || static_cast<unsigned char>(bytes[0]) != kVersion) {
    return std::nullopt;
  }
  auto mac = Mac(key_, "token\n", std::string_view(bytes).substr(0, kSignedSize));
  if (CRYPTO_memcmp(mac.data(), bytes.data() + kSignedSize, kMacSize) != 0) return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  return SessionToken{GetU64(in + 1), GetU64(in + 9), GetU64(in + 17)};
}

std::optional<SessionChoice> ResolveSession(
    const SessionCodec& codec, const api::Route& route, const Config& config,
    const http::HeaderMap& headers, uint64_t now_ms,
    absl::FunctionRef<bool(const std::string& endpoint)> ejected) {
  const api::SessionPersistence& session = route.session_persistence();
  std::optional<std::string_view> value = routing::FindSessionValue(session, headers);
  if (!value) return std::nullopt;
  std::optional<SessionToken> token = codec.Decode(*value);
  if (!token) return std::nullopt;
  uint64_t absolute = session.absolute_timeout_ms();
  uint64_t idle = session.idle_timeout_ms();
  if (absolute > 0 && now_ms >= token->issued_ms + absolute) return std::nullopt;
  if (idle > 0 && now_ms >= token->used_ms + idle) return std::nullopt;
  for (int b = 0; b < route.backends_size(); ++b) {
    const ClusterEndpoints* endpoints = config.cluster(route.backends(b).cluster());
    if (endpoints == nullptr) continue;
    const std::vector<uint64_t>& tags = endpoints->session_tags;
    for (size_t i = 0; i < tags.size(); ++i) {
      if (tags[i] != token->tag) continue;
      if (ejected(endpoints->keys[i])) return std::nullopt;
      return SessionChoice{*token, b, static_cast<int>(i)};
    }
  }
  return std::nullopt;
}

namespace {
const std::string kRootPath = "/";  // the cookie's Path when the config names none
}  // namespace

void AddSessionToResponse(const SessionCodec& codec, const api::SessionPersistence& session,
                          const std::optional<SessionChoice>& held, uint64_t tag, bool tls,
                          uint64_t now_ms, http::HeaderMap& response) {
  bool same = held && held->token.tag == tag;
  if (same && session.idle_timeout_ms() == 0) return;  // the client has it already
  SessionToken token{tag, same ? held->token.issued_ms : now_ms, now_ms};
  std::string value = codec.Encode(token);
  if (session.type() == api::SessionPersistence::HEADER) {
    response.Set(session.name(), value);
    return;
  }
  const std::string& path = session.cookie_path().empty() ? kRootPath : session.cookie_path();
  std::string cookie =
      absl::StrCat(session.name(), "=", value, "; Path=", path, "; HttpOnly; SameSite=Lax");
  if (tls) cookie += "; Secure";
  if (session.permanent()) {
    uint64_t end = token.issued_ms + session.absolute_timeout_ms();
    uint64_t left_ms = end > now_ms ? end - now_ms : 0;
    absl::StrAppend(&cookie, "; Max-Age=", (left_ms + 999) / 1000);
  }
  response.Add("Set-Cookie", cookie);
}

}  // namespace xgate::proxy
