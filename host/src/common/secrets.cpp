#include "common/secrets.hpp"

#include <cstdlib>
#include <mutex>
#include <shared_mutex>
#include <vector>

namespace atlas::secrets {
namespace {

struct Entry {
  std::string env_name;
  std::string value;
};

std::shared_mutex& mutex() {
  static std::shared_mutex m;
  return m;
}
std::vector<Entry>& entries() {
  static std::vector<Entry> e;
  return e;
}

}  // namespace

void register_secret(std::string_view env_name, std::string_view value) {
  if (value.size() < 6) return;
  std::unique_lock lock(mutex());
  for (const auto& e : entries())
    if (e.value == value) return;
  entries().push_back({std::string(env_name), std::string(value)});
}

std::optional<std::string> read_env_secret(std::string_view env_name) {
  const char* v = std::getenv(std::string(env_name).c_str());
  if (!v || !*v) return std::nullopt;
  register_secret(env_name, v);
  return std::string(v);
}

std::string redact(std::string_view text) {
  std::string out(text);
  std::shared_lock lock(mutex());
  for (const auto& e : entries()) {
    const std::string marker = "[REDACTED:" + e.env_name + "]";
    for (size_t pos = out.find(e.value); pos != std::string::npos; pos = out.find(e.value, pos + marker.size()))
      out.replace(pos, e.value.size(), marker);
  }
  return out;
}

bool looks_like_api_key(std::string_view v) {
  auto starts = [&](std::string_view p) { return v.substr(0, p.size()) == p; };
  if (starts("sk-") && v.size() >= 20) return true;          // OpenAI, Anthropic (sk-ant-)
  if (starts("AIza") && v.size() >= 30) return true;         // Google
  if (starts("xai-") && v.size() >= 20) return true;         // xAI
  if (starts("Bearer ") && v.size() >= 27) return true;
  return false;
}

}  // namespace atlas::secrets
