// The Responses API conversations this gateway relayed, by response id. A call that continues
// one with "previous_response_id" (the provider keeps the earlier turns) is recorded with those
// turns, joins the episode of the response it continues when it names no episode, and with
// [serve] expand_previous_response is forwarded with them in "input" (docs/serve.md, "The
// Responses API"). Kept in memory, bounded by bytes, oldest forgotten first.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/json.hpp"
#include "common/status.hpp"
#include "llm/llm.hpp"

namespace atlas::serve {

class ResponseChain {
 public:
  explicit ResponseChain(size_t max_bytes = size_t{256} << 20) : max_bytes_(max_bytes) {}

  // One relayed call: its response id, episode, the id it continued ("" = none), its own input
  // items (a JSON array) and its reply.
  void remember(const std::string& response_id, const std::string& episode_id, const std::string& previous_id,
                std::string input_items_json, const llm::Response& reply);

  struct Resolved {
    std::string episode_id;  // the episode of the response continued
    std::string items_json;  // every earlier input and output item, oldest first (a JSON array)
  };
  // The conversation up to and including `response_id`; NOT_FOUND names the link this gateway
  // does not know (relayed before it started, by another replica, or forgotten).
  Result<Resolved> resolve(const std::string& response_id) const;

  size_t bytes_for_testing() const;

 private:
  struct Entry {
    std::string episode_id, previous_id, input_json, output_json;
    size_t bytes() const { return episode_id.size() + previous_id.size() + input_json.size() + output_json.size(); }
  };
  void forget_oldest_locked();

  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // oldest first
  size_t bytes_ = 0;
};

// Appends the items of the JSON array `more` to the JSON array `items` (both as json::dump wrote them).
void append_items(std::string& items, std::string_view more);
// A Responses request's "input" as a JSON array of items ("input": "text" is one user message).
std::string responses_input_items(const json::Value& input);
// The reply as input items for a later turn: the assistant's text, then its function calls.
std::string responses_output_items(const llm::Response& reply);
// The response id of a Responses reply body or SSE stream ("" when it has none).
std::string responses_reply_id(std::string_view body, bool stream);

}  // namespace atlas::serve
