#include "common/log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "common/secrets.hpp"

namespace atlas::log {
namespace {

Level initial_level() {
  const char* env = std::getenv("ATLAS_LOG");
  if (!env) return Level::kWarn;
  if (!std::strcmp(env, "debug")) return Level::kDebug;
  if (!std::strcmp(env, "info")) return Level::kInfo;
  if (!std::strcmp(env, "error")) return Level::kError;
  if (!std::strcmp(env, "off")) return Level::kOff;
  return Level::kWarn;
}

std::atomic<Level>& current() {
  static std::atomic<Level> l{initial_level()};
  return l;
}

const char* name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warning";
    case Level::kError: return "error";
    default: return "";
  }
}

}  // namespace

void set_level(Level level) { current().store(level); }
Level level() { return current().load(); }

void write(Level lvl, std::string_view component, std::string_view message) {
  if (lvl < current().load() || lvl == Level::kOff) return;
  std::string line = "atlas-host: ";
  line += name(lvl);
  line += ": [";
  line += component;
  line += "] ";
  line += secrets::redact(message);
  line += '\n';
  static std::mutex m;
  std::lock_guard lock(m);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace atlas::log
