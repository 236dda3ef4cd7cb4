// Authentication by bearer token (kube-apiserver's --token-auth-file format, re-read when the
// file changes) and authorization by the RBAC objects stored in the server, as the real RBAC
// authorizer evaluates them. The group system:masters may do anything.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tests/kube/apiserver/store.h"

namespace xgate::kubetest {

struct User {
  std::string name;
  std::vector<std::string> groups;
};

// Lines `token,user,uid,"group1,group2"`; every user is also in system:authenticated.
class TokenFile {
 public:
  explicit TokenFile(std::filesystem::path file) : file_(std::move(file)) {}
  // 401 (Unauthorized) for an absent, unknown or malformed bearer token.
  absl::StatusOr<User> Authenticate(const std::string& authorization_header);

 private:
  std::filesystem::path file_;
  std::mutex mu_;
  std::filesystem::file_time_type loaded_at_{};
  std::map<std::string, User> users_;
};

struct RequestAttributes {
  std::string verb;  // get, list, watch, create, update, patch, delete, deletecollection
  std::string group;
  std::string resource;
  std::string subresource;
  std::string ns;  // "" for cluster-scoped requests
  std::string name;
};

// OK, or 403 Forbidden with the real server's message.
absl::Status Authorize(const Store& store, const User& user, const RequestAttributes& request);

}  // namespace xgate::kubetest
