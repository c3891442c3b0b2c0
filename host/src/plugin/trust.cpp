#include "plugin/trust.hpp"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <memory>
#include <system_error>

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

// Checks one path (file or folder) for group/other write bits.
Status check_one(const fs::path& p, bool is_folder, const fs::path& display) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    return not_found(display.string() + ": refused: cannot stat " + p.string() + ": " +
                     std::error_code(errno, std::generic_category()).message());
  }
  if (!(st.st_mode & (S_IWGRP | S_IWOTH))) return Status::ok();
  std::string what = is_folder ? "its folder " + p.string() : "the file";
  return permission_denied(display.string() + ": refused: " + what + " is writable by " + who_may_write(st.st_mode) +
                           " (mode " + octal_mode(st.st_mode) + "), so someone else could replace the code; run `chmod go-w " +
                           p.string() + "` (or pass --allow-unsafe-plugins during development)");
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
  fs::path abs = fs::absolute(file).lexically_normal();
  ATLAS_RETURN_IF_ERROR(check_one(abs, false, display));
  ATLAS_RETURN_IF_ERROR(check_one(abs.parent_path(), true, display));
  std::error_code ec;
  if (fs::is_symlink(abs, ec)) {
    fs::path target = fs::canonical(abs, ec);
    if (ec) return not_found(display.string() + ": refused: the symlink cannot be resolved: " + ec.message());
    ATLAS_RETURN_IF_ERROR(check_one(target, false, display));
    ATLAS_RETURN_IF_ERROR(check_one(target.parent_path(), true, display));
  }
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

}  // namespace atlas::plugin
