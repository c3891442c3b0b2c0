// Atlas's environment overrides for review policy and drift. The precedence of every setting is
// command-line flag > environment > config file > default (docs/configuration.md).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "common/log.hpp"
#include "config/loader.hpp"

namespace atlas::config {
namespace {

std::string lower_trimmed(std::string_view v) {
  size_t b = v.find_first_not_of(" \t\r\n");
  size_t e = v.find_last_not_of(" \t\r\n");
  std::string out = b == std::string_view::npos ? std::string() : std::string(v.substr(b, e - b + 1));
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::optional<bool> parse_flag(std::string_view v) {
  std::string s = lower_trimmed(v);
  if (s == "0" || s == "false" || s == "off" || s == "no") return false;
  if (s == "1" || s == "true" || s == "on" || s == "yes") return true;
  return std::nullopt;
}

std::optional<int64_t> parse_int(std::string_view v) {
  std::string s = lower_trimmed(v);
  int64_t out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return out;
}

std::optional<double> parse_double(std::string_view v) {
  std::string s = lower_trimmed(v);
  double out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || !(out == out)) return std::nullopt;
  return out;
}

// Reads a variable of the environment (or of the injected lookup); unset and empty are the same.
struct Env {
  const EnvLookup& getenv_fn;
  std::vector<std::string>* warnings;  // null: do not warn (already warned when the config was loaded)
  const char* get(const char* name) const {
    const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
    return (v && *v) ? v : nullptr;
  }
  void warn(std::string msg) const {
    if (!warnings) return;
    log::warn("config", msg);
    warnings->push_back(std::move(msg));
  }
};

void apply_review_env(ReviewConfig& review, const Env& env) {
  auto get = [&](const char* name) { return env.get(name); };
  auto warn = [&](std::string msg) { env.warn(std::move(msg)); };
  if (const char* v = get("ATLAS_REVIEW_REQUIRE_APPROVAL")) {
    auto flag = parse_flag(v);
    if (!flag) {
      // Atlas treats every value other than 0/false/off as true; say so rather than guess silently.
      warn(std::string("ATLAS_REVIEW_REQUIRE_APPROVAL='") + v +
           "' is not a boolean (use 1/0, true/false, on/off); treating it as true (approval required)");
      flag = true;
    }
    review.require_approval = *flag;
  }
  if (const char* v = get("ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES")) {
    std::vector<ReviewStatus> statuses;
    bool all = false;
    std::string_view rest(v);
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string token = lower_trimmed(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (token.empty()) continue;
      if (token == "*" || token == "all") {
        all = true;
        continue;
      }
      std::optional<ReviewStatus> status = parse_review_status(token);
      if (!status) {
        warn("ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES: unknown review status '" + token +
             "' (known: approved, pending, quarantined, all); ignored");
        continue;
      }
      if (std::find(statuses.begin(), statuses.end(), *status) == statuses.end()) statuses.push_back(*status);
    }
    if (all) {
      review.include_all_statuses = true;
      review.statuses_explicit = true;
    } else if (!statuses.empty()) {
      review.default_export_statuses = std::move(statuses);
      review.include_all_statuses = false;
      review.statuses_explicit = true;
    } else {
      warn("ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES is set but names no status; ignored");
    }
  }
}

}  // namespace

ReviewConfig review_policy(const ReviewConfig& configured, const EnvLookup& getenv_fn) {
  ReviewConfig review = configured;
  apply_review_env(review, Env{getenv_fn, nullptr});
  return review;
}

std::vector<std::string> apply_env_overrides(Config& config, const EnvLookup& getenv_fn) {
  std::vector<std::string> warnings;
  Env env{getenv_fn, &warnings};
  auto get = [&](const char* name) { return env.get(name); };
  auto warn = [&](std::string msg) { env.warn(std::move(msg)); };
  apply_review_env(config.review, env);
  if (const char* v = get("ATLAS_DRIFT_ENABLED")) {
    if (auto flag = parse_flag(v))
      config.drift.enabled = *flag;
    else
      warn(std::string("ATLAS_DRIFT_ENABLED='") + v + "' is not a boolean (use 1/0, true/false, on/off); ignored");
  }
  if (const char* v = get("ATLAS_DRIFT_WINDOW")) {
    auto n = parse_int(v);
    if (n && *n >= 1 && *n <= 100'000)
      config.drift.window = static_cast<int>(*n);
    else
      warn(std::string("ATLAS_DRIFT_WINDOW='") + v + "' is not an integer >= 1; ignored");
  }
  if (const char* v = get("ATLAS_DRIFT_Z_THRESHOLD")) {
    auto d = parse_double(v);
    if (d && *d >= 0.0)
      config.drift.z_threshold = *d;
    else
      warn(std::string("ATLAS_DRIFT_Z_THRESHOLD='") + v + "' is not a number >= 0; ignored");
  }
  if (const char* v = get("ATLAS_DRIFT_MIN_BASELINE")) {
    auto n = parse_int(v);
    if (n && *n >= 0 && *n <= 100'000)
      config.drift.min_baseline = static_cast<int>(*n);
    else
      warn(std::string("ATLAS_DRIFT_MIN_BASELINE='") + v + "' is not an integer >= 0; ignored");
  }
  register_config_secrets(config);
  return warnings;
}

}  // namespace atlas::config
