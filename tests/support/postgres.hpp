// PostgreSQL for tests: the throw-away cluster tests/support/postgres.sh starts (CI exports
// ATLAS_TEST_PG_URL). Tests that need it GTEST_SKIP with a clear message when it is unset.
#pragma once

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <unistd.h>

namespace atlas::test {

inline std::optional<std::string> pg_url() {
  const char* v = std::getenv("ATLAS_TEST_PG_URL");
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

inline constexpr const char* kPgSkipMessage =
    "ATLAS_TEST_PG_URL is not set: start a throw-away cluster with "
    "`eval \"$(bash tests/support/postgres.sh start)\"` (tests/run-all.sh does this)";

inline std::string pg_script() { return std::string(ATLAS_TEST_SOURCE_DIR) + "/tests/support/postgres.sh"; }

// Runs `postgres.sh <args>` and returns its stdout (trailing newline removed); nullopt on failure.
// `state` names a private cluster's state file; "" = the one ATLAS_TEST_PG_STATE names (exported by `start`).
inline std::optional<std::string> pg_run(const std::string& args, const std::string& state = "") {
  std::string cmd = (state.empty() ? std::string() : "ATLAS_TEST_PG_STATE='" + state + "' ") + "bash '" + pg_script() +
                    "' " + args;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  std::array<char, 512> buf{};
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int rc = ::pclose(p);
  if (rc != 0) return std::nullopt;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// A fresh database in the test cluster; returns its URL.
inline std::optional<std::string> pg_fresh_database(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::string name = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  return pg_run("createdb " + name);
}

inline bool pg_pause(const std::string& state = "") { return pg_run("pause", state).has_value(); }
inline bool pg_resume(const std::string& state = "") { return pg_run("resume", state).has_value(); }

// A private cluster (for tests that stop the server): returns its URL; stop it with
// pg_run("stop", state).
inline std::optional<std::string> pg_private_cluster(const std::string& state) {
  auto out = pg_run("start", state);
  if (!out) return std::nullopt;
  auto p = out->find("ATLAS_TEST_PG_URL='");
  if (p == std::string::npos) return std::nullopt;
  p += 19;
  return out->substr(p, out->find('\'', p) - p);
}

}  // namespace atlas::test
