#include "data/spool.hpp"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/secrets.hpp"

namespace atlas::data {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// What makes two URLs the same database: the absolute SQLite file, or the PostgreSQL URL
// (one scheme spelling) without its password.
std::string database_identity(const std::string& url) {
  if (starts_with(url, "postgresql://") || starts_with(url, "postgres://")) {
    std::string rest = url.substr(url.find("://") + 3);
    return secrets::url_without_password("postgresql://" + rest);
  }
  std::string path = starts_with(url, "sqlite://") ? url.substr(9) : url;
  if (path.empty()) path = ".atlas/atlas.db";  // the soci plugin's default
  std::error_code ec;
  auto abs = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec);
  return "sqlite:" + (ec ? path : abs.string());
}

std::string digest16(const std::string& text) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), md);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

std::filesystem::path sibling(const std::filesystem::path& path, const char* suffix) {
  std::filesystem::path p = path;
  p += suffix;
  return p;
}

Result<int> open_lock_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return unavailable("cannot open the spool lock " + path.string() + ": " + std::strerror(errno) +
                       " (check the folder's permissions or set [storage] spool_path)");
  }
  return fd;
}

Status write_all_fsync(const std::filesystem::path& path, const std::string& text, bool append) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    return unavailable("cannot open the storage spool " + path.string() + ": " + std::strerror(errno) +
                       " (check the folder's permissions or set [storage] spool_path)");
  }
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return unavailable("cannot write the storage spool " + path.string() + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return unavailable("cannot fsync the storage spool " + path.string() + ": " + std::strerror(e));
  }
  ::close(fd);
  return Status::ok();
}

std::string encode(const SpoolRecord& r) {
  return "{\"op\":" + json::quote(r.op) + ",\"request\":" + r.request_json +
         ",\"spooled_at\":" + json::quote(clock::now_iso8601()) + "}\n";
}

// A record line, or nullopt for the header and for torn lines.
std::optional<SpoolRecord> decode(const std::string& line) {
  if (line.empty()) return std::nullopt;
  auto doc = json::parse(line, "spool record");
  if (!doc.is_ok() || !doc->IsObject()) return std::nullopt;  // torn line after a crash
  const json::Value* req = json::find(*doc, "request");
  std::string op = json::get_string(*doc, "op");
  if (!req || op.empty()) return std::nullopt;
  return SpoolRecord{op, json::dump(*req)};
}

}  // namespace

std::filesystem::path spool_file_for(const std::filesystem::path& configured, const std::string& database_url) {
  if (database_url.empty()) return configured;
  std::filesystem::path out = configured.parent_path();
  out /= configured.stem().string() + "-" + digest16(database_identity(database_url)) +
         configured.extension().string();
  return out;
}

FileLock& FileLock::operator=(FileLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

Spool::Spool(std::filesystem::path path, std::string database_url)
    : path_(std::move(path)),
      database_url_(secrets::url_without_password(database_url)),
      identity_(database_url.empty() ? std::string() : digest16(database_identity(database_url))) {}

std::string Spool::header() const {
  return "{\"spool_for\":" + json::quote(database_url_) + ",\"identity\":" + json::quote(identity_) + "}\n";
}

Result<FileLock> Spool::lock_appends() const {
  ATLAS_ASSIGN_OR_RETURN(int fd, open_lock_file(sibling(path_, ".lock")));
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    ::close(fd);
    return unavailable("cannot lock the storage spool " + path_.string() + ": " + std::strerror(e));
  }
  return FileLock(fd);
}

Result<FileLock> Spool::try_replay_lock() const {
  ATLAS_ASSIGN_OR_RETURN(int fd, open_lock_file(sibling(path_, ".replay.lock")));
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) return FileLock();  // another process is replaying
    return unavailable("cannot lock the storage spool " + path_.string() + " for replay: " + std::strerror(e));
  }
  return FileLock(fd);
}

Status Spool::append(const SpoolRecord& record) {
  ATLAS_ASSIGN_OR_RETURN(FileLock lock, lock_appends());
  std::error_code ec;
  bool fresh = !std::filesystem::exists(path_, ec) || std::filesystem::file_size(path_, ec) == 0;
  std::string text = fresh && !identity_.empty() ? header() : std::string();
  text += encode(record);
  return write_all_fsync(path_, text, true);
}

Result<std::vector<std::string>> Spool::read_lines() const {
  std::vector<std::string> lines;
  std::ifstream in(path_);
  if (!in) return lines;  // no spool = nothing pending
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (first && !identity_.empty()) {
      first = false;
      auto doc = json::parse(line, "spool header");
      if (doc.is_ok() && doc->IsObject() && json::find(*doc, "spool_for")) {
        std::string theirs = json::get_string(*doc, "identity");
        if (theirs != identity_) {
          return failed_precondition("the spool " + path_.string() + " holds writes for the database " +
                                     json::get_string(*doc, "spool_for") + ", not for " + database_url_ +
                                     "; replay it with `atlas-host db replay --database-url <that database>`");
        }
        continue;
      }
    }
    first = false;
    lines.push_back(std::move(line));
  }
  return lines;
}

Result<std::vector<SpoolRecord>> Spool::read_all() const {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return std::vector<SpoolRecord>{};  // creates no lock file either
  ATLAS_ASSIGN_OR_RETURN(FileLock lock, lock_appends());
  ATLAS_ASSIGN_OR_RETURN(auto lines, read_lines());
  std::vector<SpoolRecord> out;
  for (const auto& line : lines)
    if (auto r = decode(line)) out.push_back(std::move(*r));
  return out;
}

Status Spool::remove_replayed(size_t count) {
  ATLAS_ASSIGN_OR_RETURN(FileLock lock, lock_appends());
  ATLAS_ASSIGN_OR_RETURN(auto lines, read_lines());
  // Only the replaying process removes records and appends only add at the end, so the
  // first `count` records are the ones it replayed. Torn lines among them go too.
  size_t skip = 0, removed = 0;
  while (skip < lines.size() && removed < count) {
    if (decode(lines[skip])) ++removed;
    ++skip;
  }
  std::string text;
  size_t kept = 0;
  for (size_t i = skip; i < lines.size(); ++i) {
    if (!decode(lines[i])) continue;
    text += lines[i] + "\n";
    ++kept;
  }
  std::error_code ec;
  if (kept == 0) {
    std::filesystem::remove(path_, ec);
    return Status::ok();
  }
  if (!identity_.empty()) text = header() + text;
  std::filesystem::path tmp = sibling(path_, ".tmp");
  ATLAS_RETURN_IF_ERROR(write_all_fsync(tmp, text, false));
  std::filesystem::rename(tmp, path_, ec);
  if (ec) return unavailable("cannot replace the storage spool " + path_.string() + ": " + ec.message());
  return Status::ok();
}

Status Spool::reject(const SpoolRecord& record, const std::string& error) {
  ATLAS_ASSIGN_OR_RETURN(FileLock lock, lock_appends());
  return write_all_fsync(sibling(path_, ".rejected"),
                         "{\"op\":" + json::quote(record.op) + ",\"request\":" + record.request_json +
                             ",\"error\":" + json::quote(error) + "}\n",
                         true);
}

size_t Spool::count() const {
  auto all = read_all();
  return all.is_ok() ? all->size() : 0;
}

}  // namespace atlas::data
