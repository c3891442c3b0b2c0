#include "review_ui/auth.hpp"

#include <openssl/rand.h>

#include <set>
#include <stdexcept>

namespace atlas::review_ui {

namespace {

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '@')) return false;
  return true;
}

}  // namespace

Result<std::vector<Reviewer>> parse_reviewer_tokens(std::string_view env_name, std::string_view value) {
  std::vector<Reviewer> out;
  std::set<std::string> tokens;
  size_t start = 0;
  int position = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string entry = trim(value.substr(start, comma - start));
    start = comma + 1;
    ++position;
    if (entry.empty()) continue;
    size_t eq = entry.find('=');
    const std::string where = std::string(env_name) + " entry " + std::to_string(position);
    if (eq == std::string::npos)
      return invalid_argument(where +
                              " has no '=': write name=TOKEN pairs separated by commas, e.g. "
                              "alice=<32 random characters>,bob=<...>");
    Reviewer r{trim(entry.substr(0, eq)), trim(entry.substr(eq + 1))};
    if (!valid_name(r.name))
      return invalid_argument(where + ": the reviewer name must be 1-64 letters, digits, '.', '_', '-' or '@'");
    if (r.token.size() < 16)
      return invalid_argument(where + " (" + r.name +
                              "): the token is shorter than 16 characters; use a long random one, e.g. "
                              "`openssl rand -hex 24`");
    if (r.token.find_first_of(" \t") != std::string::npos)
      return invalid_argument(where + " (" + r.name + "): the token contains a blank");
    if (!tokens.insert(r.token).second)
      return invalid_argument(where + " (" + r.name + "): this token is already given to another reviewer");
    out.push_back(std::move(r));
  }
  if (out.empty()) return invalid_argument(std::string(env_name) + " holds no name=TOKEN pair");
  return out;
}

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("RAND_bytes failed: no random session id can be made");
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = a.size();
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

std::string Logins::create(const std::string& actor) {
  std::string id = random_hex(32);
  std::lock_guard<std::mutex> g(mu_);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = by_id_.begin(); it != by_id_.end();) it = it->second.expires < now ? by_id_.erase(it) : std::next(it);
  by_id_[id] = Login{actor, random_hex(32), now + ttl_};
  return id;
}

std::optional<Login> Logins::find(const std::string& session_id) {
  if (session_id.size() != 64) return std::nullopt;
  std::lock_guard<std::mutex> g(mu_);
  auto it = by_id_.find(session_id);
  if (it == by_id_.end()) return std::nullopt;
  if (it->second.expires < std::chrono::steady_clock::now()) {
    by_id_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void Logins::remove(const std::string& session_id) {
  std::lock_guard<std::mutex> g(mu_);
  by_id_.erase(session_id);
}

std::string cookie_value(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string part = trim(header.substr(pos, end - pos));
    pos = end + 1;
    if (part.size() > name.size() && part.compare(0, name.size(), name) == 0 && part[name.size()] == '=')
      return part.substr(name.size() + 1);
  }
  return {};
}

}  // namespace atlas::review_ui
