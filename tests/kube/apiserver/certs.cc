#include "tests/kube/apiserver/certs.h"

#include <absl/strings/str_cat.h>
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace xgate::kubetest {
namespace {

namespace fs = std::filesystem;

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

absl::Status WriteFile(const fs::path& file, const std::string& text, fs::perms perms) {
  fs::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return absl::InternalError("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::permissions(tmp, perms, ec);
  fs::rename(tmp, file, ec);
  if (ec) return absl::InternalError("cannot write " + file.string() + ": " + ec.message());
  return absl::OkStatus();
}

template <typename Write>
std::string Pem(Write write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  write(bio.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

Cert NewCert(EVP_PKEY* key, const std::string& cn, long serial) {
  Cert cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * 365);
  X509_set_pubkey(cert.get(), key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

bool IsIp(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

absl::Status MakeCertificates(const fs::path& dir, const std::vector<std::string>& hosts) {
  Key ca_key(nullptr, EVP_PKEY_free);
  Cert ca(nullptr, X509_free);
  if (fs::exists(dir / "ca.crt") && fs::exists(dir / "ca.key")) {
    std::unique_ptr<FILE, decltype(&fclose)> kf(fopen((dir / "ca.key").c_str(), "r"), fclose);
    std::unique_ptr<FILE, decltype(&fclose)> cf(fopen((dir / "ca.crt").c_str(), "r"), fclose);
    if (kf) ca_key.reset(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr));
    if (cf) ca.reset(PEM_read_X509(cf.get(), nullptr, nullptr, nullptr));
    if (!ca_key || !ca)
      return absl::InvalidArgumentError(dir.string() + "/ca.{crt,key}: unreadable");
  } else {
    ca_key.reset(EVP_EC_gen("P-256"));
    ca = NewCert(ca_key.get(), "xgate-test-apiserver-ca", 1);
    X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get()));
    AddExtension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_sign(ca.get(), ca_key.get(), EVP_sha256());
    auto key_pem = Pem([&](BIO* b) {
      PEM_write_bio_PrivateKey(b, ca_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    if (auto s = WriteFile(dir / "ca.key", key_pem, fs::perms::owner_read | fs::perms::owner_write);
        !s.ok())
      return s;
    if (auto s = WriteFile(dir / "ca.crt", Pem([&](BIO* b) { PEM_write_bio_X509(b, ca.get()); }),
                           fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
        !s.ok())
      return s;
  }
  Key key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  Cert cert = NewCert(key.get(), "xgate-test-apiserver", static_cast<long>(time(nullptr)));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get()));
  std::string san;
  for (const auto& h : hosts)
    absl::StrAppend(&san, san.empty() ? "" : ",", IsIp(h) ? "IP:" : "DNS:", h);
  AddExtension(cert.get(), ca.get(), NID_subject_alt_name, san);
  AddExtension(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  AddExtension(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  X509_sign(cert.get(), ca_key.get(), EVP_sha256());
  auto key_pem = Pem([&](BIO* b) {
    PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (auto s =
          WriteFile(dir / "server.key", key_pem, fs::perms::owner_read | fs::perms::owner_write);
      !s.ok())
    return s;
  return WriteFile(dir / "server.crt", Pem([&](BIO* b) { PEM_write_bio_X509(b, cert.get()); }),
                   fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
}

absl::Status WriteKubeconfig(const fs::path& file, const std::string& server,
                             const fs::path& ca_file, const std::string& user,
                             const std::string& token) {
  std::ifstream in(ca_file);
  std::stringstream ca;
  ca << in.rdbuf();
  std::string pem = ca.str();
  std::string b64(4 * ((pem.size() + 2) / 3) + 1, '\0');
  b64.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                                 reinterpret_cast<const unsigned char*>(pem.data()),
                                                 static_cast<int>(pem.size()))));
  std::string text = absl::StrCat(
      "apiVersion: v1\nkind: Config\nclusters:\n- name: xgate-test\n  cluster:\n    server: ",
      server, "\n    certificate-authority-data: ", b64, "\nusers:\n- name: ", user,
      "\n  user:\n    token: ", token,
      "\ncontexts:\n- name: xgate-test\n  context:\n    cluster: xgate-test\n    user: ", user,
      "\ncurrent-context: xgate-test\n");
  return WriteFile(file, text, fs::perms::owner_read | fs::perms::owner_write);
}

}  // namespace xgate::kubetest
