#include "common/secrets.hpp"

#include "common/json.hpp"

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
  // A secret with `"`, `\` or a control character is spelt differently inside a JSON string
  // (and again inside JSON that was itself put in a string, as events and spool lines are):
  // each spelling is registered, so redaction finds it wherever it was written.
  std::vector<std::string> spellings{std::string(value)};
  for (int level = 0; level < 2; ++level) {
    std::string quoted = json::quote(spellings.back());
    std::string escaped = quoted.substr(1, quoted.size() - 2);
    if (escaped == spellings.back()) break;
    spellings.push_back(std::move(escaped));
  }
  std::unique_lock lock(mutex());
  for (auto& spelling : spellings) {
    bool known = false;
    for (const auto& e : entries()) known = known || e.value == spelling;
    if (!known) entries().push_back({std::string(env_name), std::move(spelling)});
  }
}

std::optional<std::string> read_env_secret(std::string_view env_name) {
  const char* v = std::getenv(std::string(env_name).c_str());
  if (!v || !*v) return std::nullopt;
  register_secret(env_name, v);
  return std::string(v);
}

namespace {

// [begin, end) of the password inside `url`: after "user:" in the authority, or the value of a
// "password=" query parameter. Empty range when there is none.
std::pair<size_t, size_t> password_span(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {0, 0};
  size_t auth_begin = scheme + 3;
  size_t auth_end = url.find_first_of("/?", auth_begin);
  if (auth_end == std::string_view::npos) auth_end = url.size();
  size_t at = url.rfind('@', auth_end);
  if (at != std::string_view::npos && at >= auth_begin) {
    size_t colon = url.find(':', auth_begin);
    if (colon != std::string_view::npos && colon < at) return {colon + 1, at};
  }
  for (size_t pos = url.find("password=", auth_end); pos != std::string_view::npos;
       pos = url.find("password=", pos + 1)) {
    if (url[pos - 1] != '?' && url[pos - 1] != '&') continue;
    size_t begin = pos + 9;
    size_t end = url.find('&', begin);
    return {begin, end == std::string_view::npos ? url.size() : end};
  }
  return {0, 0};
}

}  // namespace

void register_database_url(std::string_view url) {
  auto [begin, end] = password_span(url);
  if (end > begin) register_secret("DATABASE_PASSWORD", url.substr(begin, end - begin));
}

std::string url_without_password(std::string_view url) {
  auto [begin, end] = password_span(url);
  std::string out(url);
  if (end > begin) out.replace(begin, end - begin, "****");
  return out;
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
