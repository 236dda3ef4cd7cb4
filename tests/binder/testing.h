// Test helpers shared by the binder and compiler tests: manifests loaded through the real
// loader, a self-signed certificate made with OpenSSL, condition lookups.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "agent/binder/binder.h"
#include "agent/model/loader.h"
#include "gtest/gtest.h"

namespace xgate::testing {

// A Store loaded from YAML, and what the binder made of it (the BindResult points into
// the Store, so both live together).
struct Bound {
  model::LoadResult loaded;
  binder::BindResult result;
  binder::BindOptions options;

  // Binds again after a test edited the Store.
  void Rebind() { result = binder::Bind(loaded.store, options); }

  const model::GatewayStatus* Gateway(const std::string& ns, const std::string& name) const {
    auto it = result.statuses.gateways.find({ns, name});
    return it == result.statuses.gateways.end() ? nullptr : &it->second;
  }
  const model::ListenerStatus* Listener(const std::string& ns, const std::string& gw,
                                        const std::string& listener) const {
    const auto* g = Gateway(ns, gw);
    if (g == nullptr) return nullptr;
    for (const auto& l : g->listeners) {
      if (l.name == listener) return &l;
    }
    return nullptr;
  }
  const model::RouteStatus* Route(model::Kind kind, const std::string& ns,
                                  const std::string& name) const {
    auto it = result.statuses.routes.find({kind, ns, name});
    return it == result.statuses.routes.end() ? nullptr : it->second.get();
  }
  const binder::BoundListener* BoundListener(const std::string& ns, const std::string& gw,
                                             const std::string& listener) const {
    for (const auto& l : result.listeners) {
      if (l.gateway == model::Store::Key{ns, gw} && l.listener->name == listener) return &l;
    }
    return nullptr;
  }
};

inline binder::BindOptions DefaultOptions() {
  binder::BindOptions o;
  o.node_addresses = {"198.18.0.1"};
  o.now = "2026-01-01T00:00:00Z";
  return o;
}

inline void LoadInto(const std::string& yaml, const std::string& file, model::LoadResult& into) {
  model::LoadText(yaml, file, into);
  for (const auto& e : into.errors) ADD_FAILURE() << "load error: " << e.ToString();
}

inline std::unique_ptr<Bound> BindYaml(const std::vector<std::string>& docs,
                                       const binder::BindOptions& options = DefaultOptions()) {
  auto b = std::make_unique<Bound>();
  b->options = options;
  for (size_t i = 0; i < docs.size(); ++i) {
    LoadInto(docs[i], "case" + std::to_string(i) + ".yaml", b->loaded);
  }
  b->result = binder::Bind(b->loaded.store, options);
  return b;
}

inline const model::Condition* FindCondition(const std::vector<model::Condition>& conditions,
                                             const std::string& type) {
  for (const auto& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

// "True/Accepted" style summary of one condition, "missing" when absent.
inline std::string Cond(const std::vector<model::Condition>& conditions, const std::string& type) {
  const auto* c = FindCondition(conditions, type);
  return c == nullptr ? "missing" : c->status + "/" + c->reason;
}

inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CertPair {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed EC P-256 certificate for `cn`, made fresh for each test run.
inline CertPair SelfSignedCert(const std::string& cn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  auto to_pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  };
  CertPair pair;
  pair.cert_pem = to_pem([&](BIO* b) { PEM_write_bio_X509(b, x); });
  pair.key_pem = to_pem(
      [&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(x);
  EVP_PKEY_free(key);
  return pair;
}

inline std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// A kubernetes.io/tls Secret manifest holding `pair`.
inline std::string TlsSecretYaml(const std::string& ns, const std::string& name,
                                 const CertPair& pair) {
  return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: " + ns +
         "}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: " + Base64(pair.cert_pem) +
         "\n  tls.key: " + Base64(pair.key_pem) + "\n";
}

inline std::string SharedDir() { return XGATE_SHARED_DIR; }

// The manifests applied so far, one document each, keyed by kind/namespace/name so an
// apply replaces and a delete removes, in first-applied order.
class Applied {
 public:
  void Apply(const std::string& text) {
    for (const YAML::Node& doc : YAML::LoadAll(text)) {
      if (!doc.IsMap()) continue;
      std::string key =
          Key(doc["kind"].as<std::string>(""), doc["metadata"]["namespace"].as<std::string>(""),
              doc["metadata"]["name"].as<std::string>(""));
      YAML::Emitter out;
      out << doc;
      if (!docs_.count(key)) order_.push_back(key);
      docs_[key] = out.c_str();
    }
  }
  void Delete(const YAML::Node& ref) {
    std::string key = Key(ref["kind"].as<std::string>(""), ref["namespace"].as<std::string>(""),
                          ref["name"].as<std::string>(""));
    docs_.erase(key);
    order_.erase(std::remove(order_.begin(), order_.end(), key), order_.end());
  }
  std::vector<std::string> Documents() const {
    std::vector<std::string> out;
    for (const auto& k : order_) out.push_back(docs_.at(k));
    return out;
  }

 private:
  static std::string Key(const std::string& kind, const std::string& ns, const std::string& name) {
    bool cluster_scoped = kind == "Namespace" || kind == "GatewayClass";
    return kind + "/" + (cluster_scoped ? "" : ns.empty() ? "default" : ns) + "/" + name;
  }
  std::map<std::string, std::string> docs_;
  std::vector<std::string> order_;
};

inline void AddCertificates(const YAML::Node& certs, Applied& applied) {
  for (const auto& c : certs) {
    applied.Apply(TlsSecretYaml(c["namespace"].as<std::string>(), c["name"].as<std::string>(),
                                SelfSignedCert(c["hosts"][0].as<std::string>("example.com"))));
  }
}

inline std::unique_ptr<Bound> BindApplied(const Applied& applied, const model::Store* previous) {
  auto b = std::make_unique<Bound>();
  b->options = DefaultOptions();
  auto docs = applied.Documents();
  for (size_t i = 0; i < docs.size(); ++i) {
    LoadInto(docs[i], "doc" + std::to_string(i) + ".yaml", b->loaded);
  }
  if (previous != nullptr) model::CarryGenerations(*previous, b->loaded.store);
  b->Rebind();
  return b;
}

// A conformance case of ../shared/conformance (FORMAT.md): its base, certificates and
// manifests applied.
inline Applied ApplyCase(const YAML::Node& base, const YAML::Node& c) {
  Applied applied;
  AddCertificates(base["certificates"], applied);
  AddCertificates(c["certificates"], applied);
  applied.Apply(base["manifests"].as<std::string>());
  applied.Apply(c["manifests"].as<std::string>(""));
  return applied;
}

inline std::vector<std::string> ConformanceCaseNames() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(SharedDir() + "/conformance/cases")) {
    if (e.path().extension() == ".yaml") out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace xgate::testing
