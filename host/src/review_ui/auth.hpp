// Who may use the review UI and how a browser proves it (docs/review-ui.md, "Security"):
// reviewer tokens from [serve] ui_tokens_env ("alice=TOKEN,bob=TOKEN"), exchanged for a random
// session id kept in an HttpOnly, SameSite=Strict cookie; each login carries its own CSRF token
// that every state change must send back.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace atlas::review_ui {

struct Reviewer {
  std::string name;
  std::string token;
};

// Parses "name=TOKEN,name=TOKEN" (the value of the variable `env_name`, named in errors, never the
// tokens). Names: letters, digits, '.', '_', '-', '@'; tokens: at least 16 characters, no blanks
// or commas, each used once.
Result<std::vector<Reviewer>> parse_reviewer_tokens(std::string_view env_name, std::string_view value);

// `bytes` random bytes (OpenSSL's CSPRNG) as lowercase hex.
std::string random_hex(size_t bytes);

// Equality in time independent of where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);

struct Login {
  std::string actor;  // the reviewer name every decision records
  std::string csrf;
  std::chrono::steady_clock::time_point expires;
};

// The logged-in browsers (in memory: a restart logs everyone out).
class Logins {
 public:
  explicit Logins(std::chrono::seconds ttl) : ttl_(ttl) {}
  // A new login for `actor`; returns its cookie value (random session id).
  std::string create(const std::string& actor);
  std::optional<Login> find(const std::string& session_id);
  void remove(const std::string& session_id);
  std::chrono::seconds ttl() const { return ttl_; }

 private:
  std::chrono::seconds ttl_;
  std::mutex mu_;
  std::map<std::string, Login> by_id_;
};

// The value of cookie `name` in a Cookie header ("" when absent).
std::string cookie_value(std::string_view cookie_header, std::string_view name);

}  // namespace atlas::review_ui
