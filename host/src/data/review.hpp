// Review: listing sessions with filters, rendering one session for a person, and review
// status changes (every change is a review_events row with who, when and why).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "config/statuses.hpp"
#include "data/store.hpp"

namespace atlas::data {

struct ReviewListFilters {
  std::vector<SessionStatus> statuses;  // empty: every status
  std::vector<ReviewStatus> review_statuses;
  std::string learning_key;
  std::optional<double> min_reward, max_reward;
  std::string since, until;  // ISO dates
  int limit = 20;
  std::string after;  // cursor from a previous page
};

std::string review_filters_json(const ReviewListFilters& f);

// Table of session summaries (query_sessions response) for a terminal.
std::string render_session_list(const json::Value& page, bool color);
// A session (read_session response) as readable text: header, plan, steps with attempts,
// guidance and rewards, reward, learning, events, review history.
std::string render_session(const json::Value& session, bool color, size_t max_events = 50);

// Every session the filters select (all pages; `limit` and `after` are ignored), newest first:
// the query_sessions summaries (session_id, status, review_status, task, ...) as one array.
Result<json::Document> matching_sessions(Store& store, const ReviewListFilters& filters);

// Sets review_status; `actor` is who, `reason` why. Returns the status before.
Result<std::string> set_review(Store& store, const std::string& session_id, ReviewStatus status,
                               const std::string& actor, const std::string& reason, const std::string& note);
// set_review for each id in turn (one review_events row each); a failure does not stop the
// others. `previous` is the status before, or empty with `error` set.
struct ReviewChange {
  std::string session_id;
  std::string previous;
  std::string error;
};
std::vector<ReviewChange> set_review_many(Store& store, const std::vector<std::string>& session_ids,
                                          ReviewStatus status, const std::string& actor, const std::string& reason,
                                          const std::string& note);
Status add_review_note(Store& store, const std::string& session_id, const std::string& note, const std::string& actor);
// A reviewer's corrected answer for a finished session (a review_events row with action
// "demonstration"; the latest one counts). Exports turn it into SFT rows and DPO pairs.
Status add_demonstration(Store& store, const std::string& session_id, const std::string& answer,
                         const std::string& actor, const std::string& reason);

// $USER (or "unknown") for --actor defaults.
std::string default_actor();

}  // namespace atlas::data
