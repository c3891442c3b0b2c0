#include "runtime/token_check.hpp"

#include <map>
#include <optional>
#include <set>

#include "common/json.hpp"
#include "data/export.hpp"
#include "llm/tokenize.hpp"

namespace atlas::runtime {

using json::Value;

std::optional<size_t> first_difference(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return i;
  if (a.size() != b.size()) return n;
  return std::nullopt;
}

namespace {

Status check_session(const Value& session, const TokenCheckOptions& o, TokenCheckReport& r) {
  const std::string session_id = json::get_string(session, "session_id");
  const Value* events = json::find(session, "trajectory_events");
  if (!events || !events->IsArray()) return Status::ok();
  if (json::get_bool(session, "trajectory_events_truncated"))
    return failed_precondition("session " + session_id +
                               " has more events than read_session returns; "
                               "check it alone with --session-id");
  std::map<std::string, int64_t> call_index;
  std::set<std::string> steps, drifted_steps;
  for (const Value& e : events->GetArray()) {
    const Value* body = json::find(e, "event");
    if (!body || json::get_string(*body, "type") != "llm_call" || json::get_string(*body, "role") != "student")
      continue;
    const Value* data = json::find(*body, "data");
    const Value* tokens = data ? json::find(*data, "tokens") : nullptr;
    if (!tokens || !tokens->IsObject() || json::get_string(*data, "outcome", "ok") != "ok") continue;
    const std::string step = json::get_string(*body, "step_id");
    const int64_t index = call_index[step]++;
    if (json::get_string(*tokens, "capture") != "token_exact") {
      ++r.calls_text_only;
      continue;
    }
    const Value* prompt = json::find(*tokens, "prompt_ids");
    const Value* request = json::find(*tokens, "request");
    if (!prompt || !prompt->IsArray() || !request || !request->IsObject()) {
      ++r.calls_text_only;
      continue;
    }
    std::vector<int64_t> stored;
    for (const Value& v : prompt->GetArray()) stored.push_back(v.IsInt64() ? v.GetInt64() : -1);
    std::string model = o.model.empty() ? json::get_string(*data, "model") : o.model;
    auto fresh = llm::tokenize_chat(o.tokenize_url, model, json::dump(*request), o.timeout_seconds);
    if (!fresh) return fresh.status().with_context("session " + session_id + ", step " + step);
    ++r.calls_checked;
    steps.insert(step);
    if (auto at = first_difference(stored, *fresh)) {
      drifted_steps.insert(step);
      r.drifts.push_back({session_id, step, index, *at, stored.size(), fresh->size()});
    }
  }
  r.steps_checked += steps.size();
  r.steps_drifted += drifted_steps.size();
  return Status::ok();
}

}  // namespace

Result<TokenCheckReport> check_token_drift(data::Store& store, const TokenCheckOptions& o) {
  if (o.tokenize_url.empty())
    return invalid_argument("no tokenizer URL; give --tokenize-url or set the student's api_base");
  data::ExportFilters f;
  f.review_statuses = std::nullopt;
  f.statuses = {SessionStatus::kSucceeded, SessionStatus::kFailed};
  f.session_ids = o.session_ids;
  if (o.limit > 0) f.limit = o.limit;
  TokenCheckReport report;
  std::string after;
  for (;;) {
    ATLAS_ASSIGN_OR_RETURN(json::Document q, json::parse(data::filters_json(f), "filters"));
    auto& a = q.GetAllocator();
    json::set(q, "order", "asc", a);
    json::set(q, "limit", static_cast<int64_t>(100), a);
    if (!after.empty()) json::set(q, "after", after, a);
    ATLAS_ASSIGN_OR_RETURN(std::string page, store.execute("query_sessions", json::dump(q)));
    ATLAS_ASSIGN_OR_RETURN(json::Document pdoc, json::parse(page, "query_sessions response"));
    const Value* sessions = json::find(pdoc, "sessions");
    if (!sessions || !sessions->IsArray() || sessions->Empty()) break;
    for (const Value& s : sessions->GetArray()) {
      if (o.limit > 0 && report.sessions >= static_cast<uint64_t>(o.limit)) return report;
      std::string id = json::get_string(s, "session_id");
      ATLAS_ASSIGN_OR_RETURN(std::string text,
                             store.execute("read_session", "{\"session_id\":" + json::quote(id) + "}"));
      ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(text, "read_session response"));
      ++report.sessions;
      ATLAS_RETURN_IF_ERROR(check_session(doc, o, report));
    }
    const Value* next = json::find(pdoc, "next");
    if (!next || !next->IsString()) break;
    after = next->GetString();
  }
  return report;
}

}  // namespace atlas::runtime
