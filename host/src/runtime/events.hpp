// The session's typed event stream. Every event has an id, a parent id (the span it belongs
// to), a type, a role and a UTC timestamp; its data is a JSON object. Events are kept in
// memory for the session record and handed to sinks (storage writer, console progress) in
// emission order as they happen. Thread-safe: parallel steps emit concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace atlas::runtime {

// Event types (the "type" field).
namespace event_type {
inline constexpr std::string_view kSession = "session";        // name: start | end
inline constexpr std::string_view kProbe = "probe";
inline constexpr std::string_view kRoute = "route";
inline constexpr std::string_view kPlan = "plan";              // name: draft | review | fallback | final
inline constexpr std::string_view kStepStart = "step_start";
inline constexpr std::string_view kStepEnd = "step_end";
inline constexpr std::string_view kAttempt = "attempt";
inline constexpr std::string_view kValidation = "validation";
inline constexpr std::string_view kGuidance = "guidance";
inline constexpr std::string_view kToolCall = "tool_call";
inline constexpr std::string_view kLlmCall = "llm_call";
inline constexpr std::string_view kReward = "reward";
inline constexpr std::string_view kLearning = "learning";
inline constexpr std::string_view kSynthesis = "synthesis";
}  // namespace event_type

struct Event {
  std::string id;
  std::string parent_id;
  std::string type;
  std::string name;
  std::string role;     // student, teacher, judge, probe, learning, host
  std::string step_id;  // "" when not about a step
  int64_t timestamp_us = 0;
  std::string data_json = "{}";  // redacted JSON object
  std::string to_json(std::string_view session_id) const;
};

class EventLog {
 public:
  using Sink = std::function<void(const Event& event, const std::string& event_json)>;

  void set_session_id(std::string id);
  std::string session_id() const;
  void add_sink(Sink sink);

  // Returns the new event's id. `data_json` must be a JSON object text (secrets are
  // redacted here). Safe from any thread.
  std::string emit(std::string_view type, std::string_view name, std::string_view role,
                   std::string_view parent_id, std::string data_json = "{}", std::string_view step_id = {});

  std::vector<Event> snapshot() const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::string session_id_;
  std::vector<Event> events_;
  std::vector<Sink> sinks_;
};

// A random 128-bit id as 32 hex digits.
std::string random_id();

}  // namespace atlas::runtime
