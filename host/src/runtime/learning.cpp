#include "runtime/learning.hpp"

#include "data/store.hpp"
#include "runtime/prompts.hpp"

namespace atlas::runtime {

Result<SynthesisOutcome> store_synthesis(data::Store& store, const config::LearningConfig& cfg,
                                         const SynthesisRequest& req, const json::Value& synthesis, int max_attempts) {
  SynthesisOutcome out;
  out.session_student_learning = json::get_string(synthesis, "session_student_learning");
  out.session_teacher_learning = json::get_string(synthesis, "session_teacher_learning");
  Status last = Status::ok();
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    out.write_attempts = attempt;
    auto current = store.learning_get(req.learning_key);
    if (!current) return current.status().with_context("reading the playbook of " + req.learning_key);
    LearningSnapshot base{current->student_learning, current->teacher_learning,
                          current->metadata_json.empty() ? "{}" : current->metadata_json};
    LearningSnapshot merged = merge_synthesis(base, synthesis, cfg, req.handles, req.session_id, &out.report);
    data::Store::SessionLearning own{req.session_id, out.session_student_learning, out.session_teacher_learning};
    // session_note_enabled = false: the session's own learning text is not kept.
    bool has_own = cfg.session_note_enabled && (!own.student_learning.empty() || !own.teacher_learning.empty());
    auto version = store.learning_put(req.learning_key, merged.student_learning, merged.teacher_learning,
                                      merged.metadata_json, current->found ? current->version : 0,
                                      has_own ? &own : nullptr);
    if (version) {
      out.updated = true;
      out.version = *version;
      return out;
    }
    last = version.status();
    if (last.code() != StatusCode::kAborted) return last.with_context("writing the playbook of " + req.learning_key);
  }
  return aborted("the playbook of " + req.learning_key + " kept changing under " + std::to_string(max_attempts) +
                 " concurrent writers: " + last.message());
}

std::string history_for_learning(const std::string& history_json, int history_limit) {
  auto doc = json::parse(history_json);
  if (!doc || !doc->IsObject()) return history_json;
  auto it = doc->FindMember("entries");
  json::Value* entries = it == doc->MemberEnd() ? nullptr : &it->value;
  if (!entries || !entries->IsArray() || entries->Size() <= static_cast<rapidjson::SizeType>(std::max(history_limit, 0)))
    return history_json;
  json::Value kept(rapidjson::kArrayType);
  auto& a = doc->GetAllocator();
  for (rapidjson::SizeType i = entries->Size() - static_cast<rapidjson::SizeType>(history_limit); i < entries->Size(); ++i)
    kept.PushBack(json::Value((*entries)[i], a), a);
  *entries = std::move(kept);
  return json::dump(*doc);
}

Result<SynthesisOutcome> synthesize_and_store(data::Store& store, const config::LearningConfig& cfg,
                                              const SynthesisRequest& req, const LlmCall& call) {
  auto current = store.learning_get(req.learning_key);
  if (!current) return current.status();
  std::string user = "{\"pamphlets\":{\"student_pamphlet\":" + json::quote(current->student_learning) +
                     ",\"teacher_pamphlet\":" + json::quote(current->teacher_learning) +
                     "},\"current_playbook\":" + (current->metadata_json.empty() ? "{}" : current->metadata_json) +
                     ",\"latest_session\":{\"task\":" + json::quote(req.task) + ",\"reward\":" + req.reward_json +
                     ",\"evidence\":" + req.evidence_json + "},\"history\":" +
                     history_for_learning(req.history_json, cfg.history_limit) +
                     ",\"available_runtime_handles\":[";
  for (size_t i = 0; i < req.handles.size(); ++i) user += (i ? "," : "") + json::quote(req.handles[i]);
  user += "]}\nReturn json.";
  llm::Request r;
  r.role = "learning";
  r.messages.push_back({"system", cfg.synthesizer_prompt.empty() ? std::string(prompts::learning_synthesizer())
                                                                 : cfg.synthesizer_prompt,
                        {}, {}, {}});
  r.messages.push_back({"user", std::move(user), {}, {}, {}});
  r.response_format_json = R"({"type":"json_object"})";
  auto reply = call(std::move(r));
  if (!reply) return reply.status().with_context("learning model");
  auto doc = json::parse_lenient_object(reply->content);
  if (!doc) return invalid_argument("the learning model's reply is not JSON: " + doc.status().message());
  return store_synthesis(store, cfg, req, *doc);
}

}  // namespace atlas::runtime
