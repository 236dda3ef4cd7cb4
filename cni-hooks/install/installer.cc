#include "cni-hooks/install/installer.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cni-hooks/xgate-cni/files.h"
#include "spdlog/spdlog.h"

namespace xgate::cni_install {
namespace {

namespace fs = std::filesystem;

constexpr char kBackupSuffix[] = ".xgate-orig";

bool IsConfFile(const fs::path& path) {
  std::string ext = path.extension().string();
  return ext == ".conf" || ext == ".conflist" || ext == ".json";
}

absl::StatusOr<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": cannot open"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<Json> ReadJson(const fs::path& path) {
  auto text = ReadText(path);
  if (!text.ok()) return text.status();
  try {
    return Json::parse(*text);
  } catch (const Json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not JSON: ", e.what()));
  }
}

mode_t ModeOf(const fs::path& path, mode_t fallback) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : fallback;
}

absl::Status WriteJson(const fs::path& path, const Json& json, mode_t mode) {
  return cni::ReplaceFile(path, json.dump(2) + "\n", mode);
}

// The binary replaced only when it differs, so a runtime executing it never sees it change
// under its feet for nothing.
absl::StatusOr<bool> CopyBinary(const fs::path& from, const fs::path& bin_dir) {
  auto content = ReadText(from);
  if (!content.ok()) return content.status();
  fs::path to = bin_dir / kPluginType;
  auto existing = ReadText(to);
  if (existing.ok() && *existing == *content) return false;
  std::error_code ec;
  fs::create_directories(bin_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(bin_dir.string(), ": ", ec.message()));
  absl::Status written = cni::ReplaceFile(to, *content, 0755);
  if (!written.ok()) return written;
  return true;
}

// A single-plugin file becomes NAME.conflist ("10-bridge.conf" -> "10-bridge.conflist"), which
// takes its place first in name order once the original is renamed to NAME.xgate-orig.
fs::path ConvertedName(const fs::path& conf) {
  fs::path out = conf;
  out.replace_extension(".conflist");
  return out;
}

absl::StatusOr<Installed> InstallInto(const fs::path& file, const Json& entry) {
  auto conf = ReadJson(file);
  if (!conf.ok()) return conf.status();
  Installed out;
  if (file.extension() == ".conflist") {
    if (absl::Status valid = ValidateConfList(*conf, file.string()); !valid.ok()) return valid;
    Json wanted = WithPlugin(*conf, entry);
    out.conf_file = file.string();
    if (wanted == *conf) return out;
    if (absl::Status w = WriteJson(file, wanted, ModeOf(file, 0644)); !w.ok()) return w;
    out.conf_written = true;
    return out;
  }
  auto list = ConfToConfList(*conf, file.string());
  if (!list.ok()) return list.status();
  fs::path target = ConvertedName(file);
  if (absl::Status w = WriteJson(target, WithPlugin(*list, entry), ModeOf(file, 0644)); !w.ok()) {
    return w;
  }
  std::error_code ec;
  fs::rename(file, fs::path(file.string() + kBackupSuffix), ec);
  if (ec) {
    fs::remove(target, ec);
    return absl::InternalError(
        absl::StrCat(file.string(), ": cannot keep the original: ", ec.message()));
  }
  out.conf_file = target.string();
  out.conf_written = true;
  return out;
}

std::vector<fs::path> Sorted(const fs::path& dir, bool (*keep)(const fs::path&)) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec) && e.path().filename().string()[0] != '.' && keep(e.path())) {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

absl::StatusOr<std::string> ActiveConfFile(const std::string& conf_dir) {
  std::vector<fs::path> files = Sorted(conf_dir, IsConfFile);
  if (files.empty()) {
    return absl::NotFoundError(
        absl::StrCat(conf_dir, ": no network configuration (*.conf, *.conflist, *.json)"));
  }
  return files.front().string();
}

absl::StatusOr<Installed> Install(const Options& options) {
  bool binary_written = false;
  if (!options.plugin_binary.empty()) {
    auto copied = CopyBinary(options.plugin_binary, options.bin_dir);
    if (!copied.ok()) return copied.status();
    binary_written = *copied;
  }
  auto active = ActiveConfFile(options.conf_dir);
  if (!active.ok()) return active.status();
  auto installed = InstallInto(*active, options.entry);
  if (!installed.ok()) return installed.status();
  installed->binary_written = binary_written;
  auto now_active = ActiveConfFile(options.conf_dir);
  if (now_active.ok() && *now_active != installed->conf_file) {
    return absl::FailedPreconditionError(
        absl::StrCat(*now_active, " sorts before ", installed->conf_file,
                     ": the runtime would not use the list xgate-cni is in; rename one of them"));
  }
  return installed;
}

absl::Status Uninstall(const Options& options) {
  for (const fs::path& file : Sorted(options.conf_dir, IsConfFile)) {
    auto conf = ReadJson(file);
    if (!conf.ok() || !HasPlugin(*conf)) continue;
    std::error_code ec;
    bool restored = false;
    for (const char* ext : {".conf", ".json"}) {
      fs::path original = file;
      original.replace_extension(ext);
      fs::path backup = original.string() + kBackupSuffix;
      if (!fs::exists(backup, ec)) continue;
      fs::rename(backup, original, ec);
      if (ec) return absl::InternalError(absl::StrCat(backup.string(), ": ", ec.message()));
      fs::remove(file, ec);
      restored = true;
      spdlog::info("restored {} (xgate-cni's {} removed)", original.string(), file.string());
      break;
    }
    if (restored) continue;
    if (absl::Status w = WriteJson(file, WithoutPlugin(*conf), ModeOf(file, 0644)); !w.ok()) {
      return w;
    }
    spdlog::info("removed xgate-cni from {}", file.string());
  }
  std::error_code ec;
  fs::remove(fs::path(options.bin_dir) / kPluginType, ec);
  if (ec) return absl::InternalError(absl::StrCat(options.bin_dir, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace xgate::cni_install
