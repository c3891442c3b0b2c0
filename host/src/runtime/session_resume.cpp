// Shared gateway episodes (docs/serve.md, "Several gateway replicas"): the replica that opened an
// episode keeps what Session::begin() decided (session row, learning key, playbook blocks, lane,
// learning history, metadata) as one JSON document in the database; any other replica takes the
// session up from it with resume(): no second session row, no second "session start" event, no
// learning read, no second routing decision, so the session ends exactly as if one process had
// served every call.
#include "common/clock.hpp"
#include "common/json.hpp"
#include "runtime/runtime.hpp"
#include "runtime/session.hpp"

namespace atlas::runtime {

using json::Value;

std::string Session::resume_state_json() const {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "task", task_.task, a);
  json::set(d, "expected", task_.expected_json, a);
  json::set(d, "session_id", session_id_, a);
  json::set(d, "stored", report_.stored, a);
  json::set(d, "root_event", root_event_, a);
  json::set(d, "learning_key", learning_key_, a);
  json::set(d, "metadata", Value(metadata_, a), a);
  json::set(d, "history", Value(history_, a), a);
  json::set(d, "student_block", student_block_, a);
  json::set(d, "teacher_block", teacher_block_, a);
  json::set(d, "applied_playbook_version", report_.applied_playbook_version, a);
  json::set(d, "playbook_entries", static_cast<int64_t>(report_.playbook_entries), a);
  json::set(d, "decision", json::parsed_or_null(decision_.to_json(), a), a);
  // Wall-clock start, so the session's duration counts from its first call on any replica.
  const auto running_ms = static_cast<int64_t>((clock::monotonic_seconds() - started_) * 1000.0);
  json::set(d, "started_unix_ms", clock::now_unix_ms() - running_ms, a);
  json::set(d, "deadline_ms", deadline_ms_, a);
  return json::dump(d);
}

bool Session::resume(const std::string& state_json) {
  auto doc = json::parse(state_json, "episode resume state");
  if (!doc || !doc->IsObject() || json::get_string(*doc, "session_id").empty()) return false;
  const Value& d = *doc;
  const int64_t started_unix_ms = json::get_int(d, "started_unix_ms", clock::now_unix_ms());
  started_ = clock::monotonic_seconds() - static_cast<double>(clock::now_unix_ms() - started_unix_ms) / 1000.0;
  deadline_ms_ = json::get_int(d, "deadline_ms");
  report_.task = task_.task;
  session_id_ = json::get_string(d, "session_id");
  report_.session_id = session_id_;
  report_.stored = json::get_bool(d, "stored");
  learning_key_ = json::get_string(d, "learning_key");
  report_.learning_key = learning_key_;
  metadata_.SetObject();
  if (const Value* m = json::find(d, "metadata"); m && m->IsObject()) metadata_.CopyFrom(*m, metadata_.GetAllocator());
  history_.SetObject();
  if (const Value* h = json::find(d, "history"); h && h->IsObject()) history_.CopyFrom(*h, history_.GetAllocator());
  report_.rollout_group = json::get_string(metadata_, "rollout_group");
  report_.rollout_index = static_cast<int>(json::get_int(metadata_, "rollout_index"));
  student_block_ = json::get_string(d, "student_block");
  teacher_block_ = json::get_string(d, "teacher_block");
  report_.applied_playbook_version = json::get_int(d, "applied_playbook_version");
  report_.playbook_entries = static_cast<size_t>(json::get_int(d, "playbook_entries"));
  if (const Value* dec = json::find(d, "decision"); dec && dec->IsObject()) {
    decision_.lane = config::parse_lane(json::get_string(*dec, "mode")).value_or(config::Lane::kAuto);
    decision_.confidence = json::get_optional_double(*dec, "confidence");
    decision_.source = json::get_string(*dec, "reason");
    decision_.probe_error = json::get_string(*dec, "probe_error");
    if (json::find(*dec, "probe_rationale")) {
      ProbeAnswer probe;
      if (std::string mode = json::get_string(*dec, "probe_mode"); !mode.empty()) probe.mode = mode;
      probe.confidence = json::get_optional_double(*dec, "probe_confidence");
      probe.rationale = json::get_string(*dec, "probe_rationale");
      decision_.probe = probe;
    }
  }
  report_.lane = std::string(config::lane_name(decision_.lane));
  report_.lane_source = decision_.source;
  root_event_ = json::get_string(d, "root_event");
  attach_event_sinks();
  make_teacher();
  return true;
}

// ------------------------------------------------------------------------------------ Episode

std::string Episode::resume_state_json() const {
  return session_->resume_state_json();
}

std::shared_ptr<Episode> Runtime::resume_episode(const std::string& state_json) {
  auto doc = json::parse(state_json, "episode resume state");
  if (!doc || !doc->IsObject()) return nullptr;
  TaskSpec task;
  task.task = json::get_string(*doc, "task");
  task.expected_json = json::get_string(*doc, "expected");
  auto session = std::make_shared<Session>(*impl_, task);
  if (!session->resume(state_json)) return nullptr;
  return std::make_shared<Episode>(session);
}

}  // namespace atlas::runtime
