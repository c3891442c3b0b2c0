// Token and latency accounting per role (student, teacher, judge, arbiter, probe, learning)
// for one session. Thread-safe: parallel steps and judge samples add concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace atlas::runtime {

struct RoleTotals {
  int64_t calls = 0;
  int64_t failed_calls = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  double latency_seconds = 0.0;
};

class TokenLedger {
 public:
  void add(const std::string& role, int64_t prompt, int64_t completion, int64_t total, double latency_seconds,
           bool ok = true);
  std::map<std::string, RoleTotals> by_role() const;
  RoleTotals total() const;
  // {"prompt_tokens","completion_tokens","total_tokens","calls", "by_role": {role: {...}}}
  std::string to_json() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, RoleTotals> roles_;
};

}  // namespace atlas::runtime
