#include "plugin/trust.hpp"

#include <openssl/evp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <memory>
#include <system_error>

#include "plugin/discovery.hpp"

namespace atlas::plugin {

namespace fs = std::filesystem;

namespace {

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

std::string who_may_write(mode_t m) {
  bool g = m & S_IWGRP, o = m & S_IWOTH;
  if (g && o) return "group and others";
  return g ? "group" : "others";
}

std::string user_text(uid_t uid) {
  std::string out = "uid " + std::to_string(uid);
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) out += " (" + std::string(found->pw_name) + ")";
  return out;
}

// Checks one existing path (the file, or a folder above it): its owner and who may write it.
Status check_one(const fs::path& p, bool is_file, const fs::path& display) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    return not_found(display.string() + ": refused: cannot stat " + p.string() + ": " +
                     std::error_code(errno, std::generic_category()).message());
  }
  const uid_t me = ::geteuid();
  std::string what = is_file ? "the file" : "its folder " + p.string();
  if (st.st_uid != 0 && st.st_uid != me) {
    return permission_denied(display.string() + ": refused: " + what + " is owned by " + user_text(st.st_uid) +
                             ", not by you (" + user_text(me) + ") or root, so that user could replace the code; "
                             "move the plugin to a folder you own, or `chown` it to you or root (or pass "
                             "--allow-unsafe-plugins during development)");
  }
  if (!(st.st_mode & (S_IWGRP | S_IWOTH))) return Status::ok();
  // A root-owned sticky folder (/tmp): others may create entries but not rename or delete
  // ours, and what lies below is checked for its own owner.
  if (!is_file && (st.st_mode & S_ISVTX) && st.st_uid == 0) return Status::ok();
  return permission_denied(display.string() + ": refused: " + what + " is writable by " + who_may_write(st.st_mode) +
                           " (mode " + octal_mode(st.st_mode) + "), so someone else could replace the code; run `chmod go-w " +
                           p.string() + "` (or pass --allow-unsafe-plugins during development)");
}

// Checks `file` and every folder above it, up to `/`.
Status check_chain(const fs::path& file, const fs::path& display) {
  ATLAS_RETURN_IF_ERROR(check_one(file, true, display));
  for (fs::path dir = file.parent_path();; dir = dir.parent_path()) {
    ATLAS_RETURN_IF_ERROR(check_one(dir, false, display));
    if (dir == dir.root_path() || dir.parent_path() == dir) break;
  }
  return Status::ok();
}

std::string hex(const unsigned char* d, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(digits[d[i] >> 4]);
    out.push_back(digits[d[i] & 15]);
  }
  return out;
}

}  // namespace

Status check_permissions(const fs::path& file, const fs::path& display) {
  // The path as written (a symlinked folder could be swapped where the link lives) and the
  // resolved one (the folders that really hold the code).
  fs::path abs = fs::absolute(file).lexically_normal();
  ATLAS_RETURN_IF_ERROR(check_chain(abs, display));
  std::error_code ec;
  fs::path target = fs::canonical(abs, ec);
  if (ec) return not_found(display.string() + ": refused: the path cannot be resolved: " + ec.message());
  if (target != abs) ATLAS_RETURN_IF_ERROR(check_chain(target, display));
  return Status::ok();
}

Result<std::string> sha256_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return not_found(file.string() + ": cannot open for hashing");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return internal_error("OpenSSL: cannot initialise SHA-256");
  }
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    std::streamsize n = in.gcount();
    if (n > 0 && EVP_DigestUpdate(ctx.get(), buf, static_cast<size_t>(n)) != 1) {
      return internal_error("OpenSSL: SHA-256 update failed");
    }
  }
  if (in.bad()) return internal_error(file.string() + ": read error while hashing");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) return internal_error("OpenSSL: SHA-256 final failed");
  return hex(md, len);
}

Result<LockFile> LockFile::load(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    return not_found(path.string() + ": cannot read the plugin lock file; check the path given to --lock or "
                     "[plugins] lock");
  }
  LockFile lock;
  lock.path_ = path;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    std::string where = path.string() + ":" + std::to_string(number) + ": ";
    size_t end_hash = line.find_first_of(" \t", start);
    std::string digest = line.substr(start, end_hash == std::string::npos ? std::string::npos : end_hash - start);
    bool hex_ok = digest.size() == 64;
    for (char& c : digest) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!std::isxdigit(static_cast<unsigned char>(c))) hex_ok = false;
    }
    if (!hex_ok) {
      return invalid_argument(where + "expected `<64 hex digits of SHA-256>  <file name>`, found \"" + line +
                              "\"; regenerate the file with `sha256sum *.so > plugins.lock`");
    }
    size_t name_start = end_hash == std::string::npos ? std::string::npos : line.find_first_not_of(" \t", end_hash);
    if (name_start == std::string::npos) {
      return invalid_argument(where + "a SHA-256 digest without a file name; add the plugin's file name after "
                              "two spaces");
    }
    std::string name = line.substr(name_start);
    if (!name.empty() && name[0] == '*') name.erase(0, 1);  // sha256sum's binary-mode marker
    name = fs::path(name).filename().string();
    if (lock.pins_.count(name)) {
      return invalid_argument(where + "\"" + name + "\" is pinned twice (first on line " +
                              std::to_string(lock.pins_[name].line) + "); keep one line per file");
    }
    lock.pins_[name] = Pin{digest, number};
  }
  return lock;
}

Status LockFile::verify(const fs::path& file, const fs::path& display) const {
  std::string name = file.filename().string();
  auto it = pins_.find(name);
  if (it == pins_.end()) {
    return permission_denied(display.string() + ": refused: not listed in " + path_.string() +
                             " (expected a line `<sha256>  " + name + "`); if you trust this file, pin it with "
                             "`sha256sum " + display.string() + " >> " + path_.string() + "`");
  }
  ATLAS_ASSIGN_OR_RETURN(std::string actual, sha256_file(file));
  if (actual != it->second.sha256) {
    return permission_denied(display.string() + ": refused: SHA-256 mismatch: " + path_.string() + ":" +
                             std::to_string(it->second.line) + " pins " + it->second.sha256 + ", the file has " +
                             actual + "; the file changed after it was pinned: reinstall the plugin you pinned, or "
                             "update the pin if this build is intended");
  }
  return Status::ok();
}

Result<TrustPolicy> TrustPolicy::create(const std::optional<fs::path>& lock_file, bool allow_unsafe) {
  TrustPolicy policy;
  policy.allow_unsafe_ = allow_unsafe;
  if (!lock_file) return policy;
  ATLAS_ASSIGN_OR_RETURN(LockFile lock, LockFile::load(*lock_file));
  if (!allow_unsafe) ATLAS_RETURN_IF_ERROR(check_permissions(*lock_file, *lock_file));
  policy.global_ = std::move(lock);
  return policy;
}

const Result<LockFile>* TrustPolicy::folder_lock(const fs::path& folder) {
  fs::path key = canonical_or_absolute(folder);
  for (auto& [dir, lock] : per_folder_) {
    if (dir == key) return &lock;
  }
  fs::path candidate = key / std::string(LockFile::kDefaultName);
  std::error_code ec;
  if (!fs::exists(candidate, ec)) return nullptr;
  Result<LockFile> lock = LockFile::load(candidate);
  // The pins are only as trustworthy as the file holding them.
  if (lock.is_ok() && !allow_unsafe_) {
    if (Status st = check_permissions(candidate, candidate); !st.is_ok()) lock = st;
  }
  per_folder_.emplace_back(key, std::move(lock));
  return &per_folder_.back().second;
}

Status TrustPolicy::check(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    return not_found(file.string() + ": refused: no such plugin file, expected a " +
                     std::string(plugin_file_suffix()) + " file; check the path");
  }
  if (!allow_unsafe_) ATLAS_RETURN_IF_ERROR(check_permissions(file, file));
  const LockFile* lock = global_ ? &*global_ : nullptr;
  if (!lock) {
    if (const Result<LockFile>* in_folder = folder_lock(fs::absolute(file).parent_path())) {
      if (!in_folder->is_ok()) {
        return Status(in_folder->status().code(), file.string() + ": refused: its folder's plugins.lock is unusable: " +
                                                      in_folder->status().message());
      }
      lock = &in_folder->value();
    }
  }
  if (lock) return lock->verify(file, file);
  return Status::ok();
}

}  // namespace atlas::plugin
