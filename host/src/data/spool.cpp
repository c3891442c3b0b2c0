#include "data/spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/clock.hpp"
#include "common/json.hpp"

namespace atlas::data {
namespace {

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

}  // namespace

Status Spool::append(const SpoolRecord& record) { return write_all_fsync(path_, encode(record), true); }

Result<std::vector<SpoolRecord>> Spool::read_all() const {
  std::vector<SpoolRecord> out;
  std::ifstream in(path_);
  if (!in) return out;  // no spool = nothing pending
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto doc = json::parse(line, "spool record");
    if (!doc.is_ok() || !doc->IsObject()) continue;  // torn tail after a crash
    const json::Value* req = json::find(*doc, "request");
    std::string op = json::get_string(*doc, "op");
    if (!req || op.empty()) continue;
    out.push_back({op, json::dump(*req)});
  }
  return out;
}

Status Spool::rewrite(const std::vector<SpoolRecord>& remaining) {
  if (remaining.empty()) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    return Status::ok();
  }
  std::string text;
  for (const auto& r : remaining) text += encode(r);
  std::filesystem::path tmp = path_;
  tmp += ".tmp";
  ATLAS_RETURN_IF_ERROR(write_all_fsync(tmp, text, false));
  std::error_code ec;
  std::filesystem::rename(tmp, path_, ec);
  if (ec) return unavailable("cannot replace the storage spool " + path_.string() + ": " + ec.message());
  return Status::ok();
}

Status Spool::reject(const SpoolRecord& record, const std::string& error) {
  std::filesystem::path rejected = path_;
  rejected += ".rejected";
  return write_all_fsync(rejected,
                         "{\"op\":" + json::quote(record.op) + ",\"request\":" + record.request_json +
                             ",\"error\":" + json::quote(error) + "}\n",
                         true);
}

size_t Spool::count() const {
  auto all = read_all();
  return all.is_ok() ? all->size() : 0;
}

}  // namespace atlas::data
