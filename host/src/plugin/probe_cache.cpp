#include "plugin/probe_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include "common/json.hpp"
#include "plugin/info_json.hpp"
#include "plugin/trust.hpp"

namespace atlas::plugin {

namespace fs = std::filesystem;

namespace {
constexpr int kCacheFormat = 1;
}

Result<FileIdentity> identify_file(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return not_found(file.string() + ": cannot stat: " + std::error_code(errno, std::generic_category()).message());
  }
  FileIdentity id;
  id.device = static_cast<uint64_t>(st.st_dev);
  id.inode = static_cast<uint64_t>(st.st_ino);
  id.size = static_cast<uint64_t>(st.st_size);
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  ATLAS_ASSIGN_OR_RETURN(id.sha256, sha256_file(file));
  return id;
}

std::optional<fs::path> default_probe_cache_path() {
  if (const char* env = std::getenv("ATLAS_PLUGIN_CACHE"); env && *env) {
    if (std::string_view(env) == "off") return std::nullopt;
    return fs::path(env);
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/') {
    return fs::path(xdg) / "atlas-host" / "plugin-probes.json";
  }
  if (const char* home = std::getenv("HOME"); home && *home == '/') {
    return fs::path(home) / ".cache" / "atlas-host" / "plugin-probes.json";
  }
  return std::nullopt;
}

ProbeCache::ProbeCache(std::optional<fs::path> path) : path_(std::move(path)) {
  if (!path_) return;
  struct stat st {};
  if (::stat(path_->c_str(), &st) != 0) return;
  // Someone who may rewrite the cache could make a broken file look probed.
  if ((st.st_uid != ::geteuid() && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH))) return;
  std::ifstream in(*path_);
  std::stringstream text;
  text << in.rdbuf();
  auto doc = json::parse(text.str(), "plugin probe cache");
  if (!doc.is_ok() || !doc->IsObject() || json::get_int(*doc, "format") != kCacheFormat) return;
  const json::Value* entries = json::find(*doc, "entries");
  if (!entries || !entries->IsArray()) return;
  for (const auto& e : entries->GetArray()) {
    if (!e.IsObject()) continue;
    Entry entry;
    entry.id.device = static_cast<uint64_t>(json::get_int(e, "device"));
    entry.id.inode = static_cast<uint64_t>(json::get_int(e, "inode"));
    entry.id.size = static_cast<uint64_t>(json::get_int(e, "size"));
    entry.id.mtime_ns = json::get_int(e, "mtime_ns");
    entry.id.sha256 = json::get_string(e, "sha256");
    entry.report.file = json::get_string(e, "file");
    entry.report.crashed = json::get_bool(e, "crashed");
    entry.report.signal = static_cast<int>(json::get_int(e, "signal"));
    if (const auto* ps = json::find(e, "plugins"); ps && ps->IsArray()) {
      for (const auto& p : ps->GetArray()) entry.report.plugins.push_back(plugin_info_from_json(p));
    }
    if (const auto* ds = json::find(e, "diagnostics"); ds && ds->IsArray()) {
      for (const auto& d : ds->GetArray()) entry.report.diagnostics.push_back(diagnostic_from_json(d));
    }
    entries_[json::get_string(e, "key")] = std::move(entry);
  }
}

std::optional<ProbeReport> ProbeCache::find(const fs::path& canonical, const FileIdentity& id) const {
  auto it = entries_.find(canonical.string());
  if (it == entries_.end() || it->second.id != id) return std::nullopt;
  return it->second.report;
}

void ProbeCache::put(const fs::path& canonical, const FileIdentity& id, const ProbeReport& report) {
  if (!path_) return;
  entries_[canonical.string()] = Entry{id, report};
  dirty_ = true;
}

void ProbeCache::save() const {
  if (!path_ || !dirty_) return;
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  json::set(doc, "format", kCacheFormat, a);
  json::Value entries(rapidjson::kArrayType);
  for (const auto& [key, e] : entries_) {
    std::error_code gone;
    if (!fs::exists(key, gone)) continue;  // files deleted since: forget them
    json::Value v(rapidjson::kObjectType);
    json::set(v, "key", key, a);
    json::set(v, "device", static_cast<int64_t>(e.id.device), a);
    json::set(v, "inode", static_cast<int64_t>(e.id.inode), a);
    json::set(v, "size", static_cast<int64_t>(e.id.size), a);
    json::set(v, "mtime_ns", e.id.mtime_ns, a);
    json::set(v, "sha256", e.id.sha256, a);
    json::set(v, "file", e.report.file.string(), a);
    json::set(v, "crashed", e.report.crashed, a);
    json::set(v, "signal", e.report.signal, a);
    json::Value plugins(rapidjson::kArrayType), diags(rapidjson::kArrayType);
    for (const auto& p : e.report.plugins) plugins.PushBack(to_json(p, a), a);
    for (const auto& d : e.report.diagnostics) diags.PushBack(to_json(d, a), a);
    json::set(v, "plugins", std::move(plugins), a);
    json::set(v, "diagnostics", std::move(diags), a);
    entries.PushBack(std::move(v), a);
  }
  json::set(doc, "entries", std::move(entries), a);
  std::error_code ec;
  fs::create_directories(path_->parent_path(), ec);
  // Unique temporary name, then rename: concurrent commands never see half a file.
  std::string tmp = path_->string() + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return;
  std::string text = json::dump(doc);
  const char* p = text.data();
  size_t left = text.size();
  bool ok = true;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path_->c_str()) != 0) ::unlink(tmp.c_str());
}

}  // namespace atlas::plugin
