// The status vocabularies of the host, as enums with one name table each: a session's outcome,
// its review decision, and a step's (or attempt's) result. Names are what the database, the
// exports and the command line carry; everything inside the host works with the enums, so a
// misspelt status is a compile error, and one read from outside is refused with a suggestion.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace atlas {

// How a session ended. kRunning is only ever seen in storage (a session still in progress, or
// one a crash left behind until recovery marks it interrupted); kNotStarted is never stored.
enum class SessionStatus { kRunning, kSucceeded, kFailed, kInterrupted, kNotStarted };

// The review gate: only kApproved sessions train by default.
enum class ReviewStatus { kPending, kApproved, kQuarantined };

// A plan step's result (and an attempt's). kCompleted: done without validation (auto lane);
// kPassed/kFailed/kUnvalidated: the teacher accepted, rejected, or could not judge it; kError:
// an attempt whose call failed; kTimeout/kSkipped: set by the step scheduler.
enum class StepStatus { kPending, kCompleted, kPassed, kFailed, kUnvalidated, kError, kTimeout, kSkipped };

std::string_view status_name(SessionStatus s);
std::string_view status_name(ReviewStatus s);
std::string_view status_name(StepStatus s);

std::optional<SessionStatus> parse_session_status(std::string_view name);
std::optional<ReviewStatus> parse_review_status(std::string_view name);
std::optional<StepStatus> parse_step_status(std::string_view name);

// Every name, in declaration order (help texts, suggestions).
std::vector<std::string_view> session_status_names();
std::vector<std::string_view> review_status_names();

// Names given on a command line or in a file, each checked, duplicates dropped, order kept.
// `what` names the option or key for the error, which lists the valid names and the nearest one.
// Case-insensitive. kNotStarted is refused: it is never stored, so no filter can match it.
Result<std::vector<SessionStatus>> parse_session_statuses(const std::vector<std::string>& names, std::string_view what);
Result<std::vector<ReviewStatus>> parse_review_statuses(const std::vector<std::string>& names, std::string_view what);

// Names in streams (log lines, test failure messages).
std::ostream& operator<<(std::ostream& os, SessionStatus s);
std::ostream& operator<<(std::ostream& os, ReviewStatus s);
std::ostream& operator<<(std::ostream& os, StepStatus s);

// The names of `statuses`, for storage requests and messages.
template <typename E>
std::vector<std::string> status_names(const std::vector<E>& statuses) {
  std::vector<std::string> out;
  out.reserve(statuses.size());
  for (E s : statuses) out.emplace_back(status_name(s));
  return out;
}

}  // namespace atlas
