#include "config/statuses.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <ostream>
#include <utility>

#include "config/loader.hpp"

namespace atlas {
namespace {

// One table per enum: the only place a status is spelt.
constexpr std::array<std::pair<SessionStatus, std::string_view>, 5> kSessionNames{{
    {SessionStatus::kRunning, "running"},
    {SessionStatus::kSucceeded, "succeeded"},
    {SessionStatus::kFailed, "failed"},
    {SessionStatus::kInterrupted, "interrupted"},
    {SessionStatus::kNotStarted, "not_started"},
}};
constexpr std::array<std::pair<ReviewStatus, std::string_view>, 3> kReviewNames{{
    {ReviewStatus::kPending, "pending"},
    {ReviewStatus::kApproved, "approved"},
    {ReviewStatus::kQuarantined, "quarantined"},
}};
constexpr std::array<std::pair<StepStatus, std::string_view>, 8> kStepNames{{
    {StepStatus::kPending, "pending"},
    {StepStatus::kCompleted, "completed"},
    {StepStatus::kPassed, "passed"},
    {StepStatus::kFailed, "failed"},
    {StepStatus::kUnvalidated, "unvalidated"},
    {StepStatus::kError, "error"},
    {StepStatus::kTimeout, "timeout"},
    {StepStatus::kSkipped, "skipped"},
}};

template <typename E, size_t N>
std::string_view name_in(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [e, n] : table)
    if (e == value) return n;
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> parse_in(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view name) {
  for (const auto& [e, n] : table)
    if (n == name) return e;
  return std::nullopt;
}

template <typename E, size_t N>
std::vector<std::string_view> names_in(const std::array<std::pair<E, std::string_view>, N>& table) {
  std::vector<std::string_view> out;
  for (const auto& entry : table) out.push_back(entry.second);
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

template <typename E>
Result<std::vector<E>> parse_list(const std::vector<std::string>& names, std::string_view what,
                                  const std::vector<std::string_view>& valid,
                                  std::optional<E> (*parse)(std::string_view)) {
  std::vector<E> out;
  for (const auto& raw : names) {
    std::string name = lower(raw);
    std::optional<E> e = parse(name);
    if (!e) {
      std::string list;
      for (auto v : valid) list += (list.empty() ? "" : ", ") + std::string(v);
      std::string msg = std::string(what) + ": unknown status \"" + raw + "\" (use " + list + ")";
      std::string near = config::did_you_mean(name, valid);
      if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
      return invalid_argument(std::move(msg));
    }
    if (std::find(out.begin(), out.end(), *e) == out.end()) out.push_back(*e);
  }
  return out;
}

}  // namespace

std::string_view status_name(SessionStatus s) {
  return name_in(kSessionNames, s);
}
std::string_view status_name(ReviewStatus s) {
  return name_in(kReviewNames, s);
}
std::string_view status_name(StepStatus s) {
  return name_in(kStepNames, s);
}

std::ostream& operator<<(std::ostream& os, SessionStatus s) {
  return os << status_name(s);
}
std::ostream& operator<<(std::ostream& os, ReviewStatus s) {
  return os << status_name(s);
}
std::ostream& operator<<(std::ostream& os, StepStatus s) {
  return os << status_name(s);
}

std::optional<SessionStatus> parse_session_status(std::string_view name) {
  return parse_in(kSessionNames, name);
}
std::optional<ReviewStatus> parse_review_status(std::string_view name) {
  return parse_in(kReviewNames, name);
}
std::optional<StepStatus> parse_step_status(std::string_view name) {
  return parse_in(kStepNames, name);
}

std::vector<std::string_view> session_status_names() {
  return names_in(kSessionNames);
}
std::vector<std::string_view> review_status_names() {
  return names_in(kReviewNames);
}

Result<std::vector<SessionStatus>> parse_session_statuses(const std::vector<std::string>& names,
                                                          std::string_view what) {
  std::vector<std::string_view> stored = session_status_names();
  stored.erase(std::remove(stored.begin(), stored.end(), status_name(SessionStatus::kNotStarted)), stored.end());
  // not_started parses as a name but no stored session has it: refuse it like a typo.
  return parse_list<SessionStatus>(names, what, stored, [](std::string_view n) -> std::optional<SessionStatus> {
    auto s = parse_session_status(n);
    if (s == SessionStatus::kNotStarted) return std::nullopt;
    return s;
  });
}

Result<std::vector<ReviewStatus>> parse_review_statuses(const std::vector<std::string>& names, std::string_view what) {
  return parse_list<ReviewStatus>(names, what, review_status_names(), &parse_review_status);
}

}  // namespace atlas
