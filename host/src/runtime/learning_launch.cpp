// Learning launch: after a session's result is final, its evidence goes to the learning
// model in the background (runtime/learning.hpp does the synthesis and the versioned write).
#include "common/json.hpp"
#include "common/log.hpp"
#include "common/secrets.hpp"
#include "llm/llm_json.hpp"
#include "runtime/learning.hpp"
#include "runtime/model_directory.hpp"
#include "runtime/rollout.hpp"
#include "runtime/session.hpp"

namespace atlas::runtime {

using json::Value;

void Session::launch_learning(const rewards::RewardOutcome& reward) {
  SynthesisRequest req;
  req.learning_key = learning_key_;
  req.session_id = session_id_;
  req.task = task_.task;
  req.reward_json = reward.reward_json;
  json::Document evd;
  evd.SetObject();
  auto& ea = evd.GetAllocator();
  evd.AddMember("execution_mode", json::str(report_.lane, ea), ea);
  evd.AddMember("final_answer", json::str(final_answer_, ea), ea);
  evd.AddMember("plan", plan_to_json(plan_, ea), ea);
  Value st(rapidjson::kArrayType);
  for (const auto& s : steps_) {
    Value o(rapidjson::kObjectType);
    o.AddMember("id", s->step.id, ea);
    o.AddMember("description", json::str(s->step.description, ea), ea);
    o.AddMember("status", json::str(status_name(s->status), ea), ea);
    o.AddMember("attempts", static_cast<int>(s->attempts.size()), ea);
    Value g(rapidjson::kArrayType);
    for (const auto& x : s->guidance) g.PushBack(json::str(x, ea), ea);
    o.AddMember("guidance", g, ea);
    st.PushBack(o, ea);
  }
  evd.AddMember("steps", st, ea);
  req.evidence_json = secrets::redact(json::dump(evd));
  req.history_json = json::dump(history_);
  for (const auto& t : cfg_.agent.tools) req.handles.push_back(t.name);
  if (rt_.tools)
    for (const auto& e : rt_.tools->entries()) req.handles.push_back(e.exposed_name);
  auto store = rt_.store;
  auto events = events_;
  auto ledger = ledger_;
  auto client = rt_.client;
  const config::Config* cfg = &cfg_;
  std::string root = root_event_;
  Runtime::Impl* rt = &rt_;
  auto launch = [store, events, ledger, client, cfg, root, req, rt] {
    std::string ev = events->emit(event_type::kLearning, "synthesis_start", "learning", root, "{}");
    LlmCall call = [&](llm::Request r) -> Result<llm::Response> {
      auto model = resolve_model_ref(*cfg, "learning");
      if (!model) return model.status();
      llm::CallRecord rec;
      auto resp = client->complete(**model, r, &rec);
      if (rec.role.empty()) rec.role = "learning";
      ledger->add("learning", rec.usage.prompt_tokens, rec.usage.completion_tokens, rec.usage.total_tokens,
                  rec.latency_seconds, resp.is_ok());
      events->emit(event_type::kLlmCall, "learning", "learning", ev, llm_call_event_json(rec, "learning"));
      return resp;
    };
    auto out = synthesize_and_store(*store, cfg->learning, req, call);
    if (out) {
      // The next episode of this key opened without storage gets this playbook (prepare_episode).
      if (auto state = store->learning_get(req.learning_key)) rt->remember_learning(req.learning_key, *state);
      events->emit(event_type::kLearning, "synthesis_end", "learning", ev,
                   "{\"updated\":true,\"version\":" + std::to_string(out->version) + ",\"write_attempts\":" +
                       std::to_string(out->write_attempts) + ",\"accepted\":" + std::to_string(out->report.accepted) +
                       ",\"rejected\":" + std::to_string(out->report.rejected) + "}");
    } else {
      log::warn("learning", "playbook not updated for " + req.learning_key + ": " + out.status().to_string());
      events->emit(event_type::kLearning, "synthesis_end", "learning", ev,
                   "{\"updated\":false,\"error\":" + json::quote(out.status().to_string()) + "}");
    }
    (void)store->flush(events->session_id());
  };
  // A rollout sibling's update waits for the end of its group: every sibling must see the same
  // learning state (runtime/rollout.hpp); Runtime::run_rollouts starts it.
  if (rollout_.group) {
    rollout_.group->defer(std::move(launch));
    return;
  }
  // At most kMaxBackground syntheses at once: a long-running gateway ends episodes all day.
  rt_.run_in_background(std::move(launch), /*wait_for_slot=*/true);
}

}  // namespace atlas::runtime
