#include "runtime/events.hpp"

#include <random>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/secrets.hpp"

namespace atlas::runtime {

std::string random_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string out(32, '0');
  uint64_t a = rng(), b = rng();
  for (int i = 0; i < 16; ++i) {
    out[i] = kHex[(a >> (i * 4)) & 0xF];
    out[16 + i] = kHex[(b >> (i * 4)) & 0xF];
  }
  return out;
}

std::string Event::to_json(std::string_view session_id) const {
  // One buffer, appended in place: data_json can hold whole prompts, so a chain of
  // operator+ temporaries would copy it once per field.
  auto quoted_or_null = [](std::string& out, std::string_view v) {
    if (v.empty()) {
      out += "null";
    } else {
      out += json::quote(v);
    }
  };
  std::string out;
  out.reserve(data_json.size() + 256);
  out += "{\"id\":";
  out += json::quote(id);
  out += ",\"parent_id\":";
  quoted_or_null(out, parent_id);
  out += ",\"type\":";
  out += json::quote(type);
  out += ",\"name\":";
  out += json::quote(name);
  out += ",\"role\":";
  out += json::quote(role);
  out += ",\"session_id\":";
  quoted_or_null(out, session_id);
  out += ",\"step_id\":";
  quoted_or_null(out, step_id);
  out += ",\"timestamp\":";
  out += json::quote(clock::iso8601_utc(timestamp_us));
  out += ",\"timestamp_us\":";
  out += std::to_string(timestamp_us);
  out += ",\"data\":";
  out += data_json;
  out += '}';
  return out;
}

void EventLog::set_session_id(std::string id) {
  std::lock_guard<std::mutex> g(mu_);
  session_id_ = std::move(id);
}

std::string EventLog::session_id() const {
  std::lock_guard<std::mutex> g(mu_);
  return session_id_;
}

void EventLog::add_sink(Sink sink) {
  std::lock_guard<std::mutex> g(mu_);
  sinks_.push_back(std::move(sink));
}

std::string EventLog::emit(std::string_view type, std::string_view name, std::string_view role,
                           std::string_view parent_id, std::string data_json, std::string_view step_id) {
  Event e;
  e.id = random_id();
  e.parent_id = std::string(parent_id);
  e.type = std::string(type);
  e.name = std::string(name);
  e.role = std::string(role);
  e.step_id = std::string(step_id);
  e.timestamp_us = clock::now_unix_us();
  std::string redacted = secrets::redact(data_json);
  e.data_json = redacted.empty() || redacted.front() != '{' ? "{}" : std::move(redacted);
  std::lock_guard<std::mutex> g(mu_);
  if (!sinks_.empty()) {  // the serialised form is only for sinks (storage, callbacks)
    const std::string text = e.to_json(session_id_);
    for (auto& sink : sinks_) sink(e, text);
  }
  std::string id = e.id;
  events_.push_back(std::move(e));
  return id;
}

std::vector<Event> EventLog::snapshot() const {
  std::lock_guard<std::mutex> g(mu_);
  return events_;
}

size_t EventLog::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return events_.size();
}

}  // namespace atlas::runtime
