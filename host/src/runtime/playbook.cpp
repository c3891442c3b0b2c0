#include <atlas/json_parse.hpp>
#include "runtime/playbook.hpp"

#include <algorithm>
#include <cctype>
// libstdc++ 12's <regex> trips -Wmaybe-uninitialized at -O1 (sanitizer builds): a known false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop

#include "common/clock.hpp"
#include "runtime/learning_key.hpp"

namespace atlas::runtime {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim_to(std::string_view s, size_t budget) {
  if (s.size() <= budget) return std::string(s);
  size_t cut = budget > 3 ? budget - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

std::string strip(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string path_string(const json::Value& v, std::initializer_list<const char*> path) {
  const json::Value* cur = &v;
  for (const char* k : path) {
    cur = json::find(*cur, k);
    if (!cur) return {};
  }
  return cur->IsString() ? std::string(cur->GetString(), cur->GetStringLength()) : std::string();
}

// First string member among `keys`.
std::string first_string(const json::Value& v, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    const json::Value* m = json::find(v, k);
    if (m && m->IsString() && m->GetStringLength() > 0) return std::string(m->GetString(), m->GetStringLength());
  }
  return {};
}

}  // namespace

std::string playbook_block(std::string_view role, std::string_view text, int64_t version,
                           std::string_view updated_at, size_t budget) {
  std::string body = strip(text);
  if (body.empty()) return {};
  body = trim_to(body, budget);
  std::string title = role == "teacher" ? "Teacher" : "Student";
  std::string out = ">>> " + title + " Playbook >>>\n";
  if (!updated_at.empty() || version > 0) {
    out += "Last updated: " + std::string(updated_at.empty() ? "-" : updated_at) + " | Version: " +
           std::to_string(version) + "\n";
  }
  out += body + "\n>>> End " + title + " Playbook >>>";
  return out;
}

std::string derive_entry_id(const json::Value& e) {
  std::string pattern = path_string(e, {"cue", "pattern"});
  if (pattern.empty()) pattern = path_string(e, {"cue", "text"});
  std::string audience = json::get_string(e, "audience");
  std::string material = audience + "||" + path_string(e, {"cue", "type"}) + "||" + pattern + "||" +
                         path_string(e, {"action", "imperative"}) + "||" + path_string(e, {"action", "runtime_handle"}) +
                         "||" + path_string(e, {"scope", "constraints"});
  return "playbook-entry-" + sha256_hex(material).substr(0, 12);
}

void normalise_entry(const json::Value& c, const config::LearningConfig& cfg, json::Value& out, json::Allocator& a) {
  out.SetObject();
  if (c.IsString()) {
    json::Value action(rapidjson::kObjectType);
    action.AddMember("imperative", json::Value(c, a), a);
    action.AddMember("runtime_handle", json::Value(), a);
    out.AddMember("audience", "student", a);
    json::Value cue(rapidjson::kObjectType);
    cue.AddMember("type", "keyword", a);
    cue.AddMember("pattern", "", a);
    out.AddMember("cue", cue, a);
    out.AddMember("action", action, a);
    json::Value scope(rapidjson::kObjectType);
    scope.AddMember("category", json::str(cfg.schema.default_scope_category, a), a);
    scope.AddMember("constraints", "", a);
    out.AddMember("scope", scope, a);
    out.AddMember("expected_effect", "", a);
    return;
  }
  if (!c.IsObject()) return;
  std::string id = json::get_string(c, "id");
  std::string audience = lower(json::get_string(c, "audience", "student"));
  if (audience != "teacher") audience = "student";
  json::Value cue(rapidjson::kObjectType);
  const json::Value* cue_in = json::find(c, "cue");
  std::string type = "keyword", pattern, description;
  if (cue_in && cue_in->IsObject()) {
    type = lower(json::get_string(*cue_in, "type", "keyword"));
    pattern = first_string(*cue_in, {"pattern", "regex"});
    description = first_string(*cue_in, {"description", "text"});
  } else if (cue_in && cue_in->IsString()) {
    pattern = cue_in->GetString();
  }
  if (type != "regex" && type != "keyword" && type != "predicate") type = "keyword";
  cue.AddMember("type", json::str(type, a), a);
  cue.AddMember("pattern", json::str(pattern, a), a);
  cue.AddMember("description", json::str(description, a), a);
  json::Value action(rapidjson::kObjectType);
  const json::Value* act = json::find(c, "action");
  std::string imperative, handle;
  if (act && act->IsObject()) {
    imperative = first_string(*act, {"imperative"});
    handle = strip(first_string(*act, {"runtime_handle", "handle", "tool"}));
  } else if (act && act->IsString()) {
    imperative = act->GetString();
  }
  action.AddMember("imperative", json::str(imperative, a), a);
  action.AddMember("runtime_handle", handle.empty() ? json::Value() : json::str(handle, a), a);
  json::Value scope(rapidjson::kObjectType);
  const json::Value* sc = json::find(c, "scope");
  std::string category = cfg.schema.default_scope_category, constraints;
  if (sc && sc->IsObject()) {
    std::string cat = lower(first_string(*sc, {"category", "kind"}));
    if (!cat.empty()) category = cat;
    constraints = first_string(*sc, {"constraints"});
  }
  scope.AddMember("category", json::str(category, a), a);
  scope.AddMember("constraints", json::str(constraints, a), a);
  out.AddMember("audience", json::str(audience, a), a);
  out.AddMember("cue", cue, a);
  out.AddMember("action", action, a);
  out.AddMember("expected_effect", json::str(first_string(c, {"expected_effect", "why"}), a), a);
  out.AddMember("scope", scope, a);
  std::string final_id = id.empty() ? derive_entry_id(out) : id;
  out.AddMember("id", json::str(final_id, a), a);
}

GateResult evaluate_entry(const json::Value& e, const config::LearningConfig& cfg,
                          const std::vector<std::string>& handles) {
  GateResult g;
  const auto& gates = cfg.gates;
  std::string imperative = path_string(e, {"action", "imperative"});
  std::string handle = path_string(e, {"action", "runtime_handle"});
  std::string type = path_string(e, {"cue", "type"});
  std::string pattern = path_string(e, {"cue", "pattern"});
  std::vector<std::string> allowed = cfg.schema.allowed_runtime_handles;
  allowed.insert(allowed.end(), handles.begin(), handles.end());
  bool tool_less = allowed.empty() && cfg.schema.runtime_handle_prefixes.empty();
  bool handle_ok = tool_less || cfg.schema.allow_missing_tool_mapping;
  if (!handle.empty()) {
    for (const auto& h : allowed)
      if (lower(h) == lower(handle)) handle_ok = true;
    for (const auto& p : cfg.schema.runtime_handle_prefixes)
      if (lower(handle).rfind(lower(p), 0) == 0) handle_ok = true;
  }
  if (gates.enforce_actionability) {
    if (strip(imperative).empty()) {
      g.actionability = false;
      g.failure_reasons.push_back("actionability_gate:imperative missing");
    } else if (!handle_ok) {
      g.actionability = false;
      g.failure_reasons.push_back("actionability_gate:runtime handle missing");
    }
  }
  bool cue_valid = std::find(cfg.schema.cue_types.begin(), cfg.schema.cue_types.end(), type) != cfg.schema.cue_types.end() &&
                   !strip(pattern).empty();
  if (cue_valid && type == "regex") {
    try {
      std::regex re(pattern);
    } catch (const std::regex_error&) {
      cue_valid = false;
    }
  }
  if (gates.enforce_cue && !cue_valid) {
    g.cue = false;
    g.failure_reasons.push_back("cue_gate:invalid cue pattern");
  }
  // Generality: computed always, blocks only when enforced (then the entry is provisional).
  std::string text = pattern + " " + path_string(e, {"cue", "description"}) + " " + imperative + " " +
                     json::get_string(e, "expected_effect") + " " + path_string(e, {"scope", "constraints"});
  std::string lt = lower(text);
  std::vector<std::string> gen_fail;
  if (strip(text).empty()) gen_fail.push_back("generality_gate:empty_text");
  for (const auto& t : gates.banned_incident_tokens)
    if (!t.empty() && lt.find(lower(t)) != std::string::npos) gen_fail.push_back("generality_gate:banned_token:" + t);
  static const std::regex kDate(R"(\b(19|20)\d{2}([-/]\d{1,2}([-/]\d{1,2})?)?\b)");
  static const std::regex kIncident(R"((incident|case|ticket)[\s#:_-]*\d+)", std::regex::icase);
  static const std::regex kFile(R"([\w./-]+\.(py|js|ts|java|go|rb|cpp|cc|c|h|hpp|json|ya?ml|toml|txt|md|csv|log|sql|sh)\b)");
  if (std::regex_search(text, kDate)) gen_fail.push_back("generality_gate:contains_date");
  if (std::regex_search(text, kIncident)) gen_fail.push_back("generality_gate:contains_incident_reference");
  if (std::regex_search(text, kFile)) gen_fail.push_back("generality_gate:contains_specific_file_path");
  bool general = gen_fail.empty();
  if (gates.enforce_generality && !general) {
    g.generality = false;
    g.failure_reasons.insert(g.failure_reasons.end(), gen_fail.begin(), gen_fail.end());
  }
  double s_act = g.actionability ? 1.0 : 0.0;
  double s_gen = (!gates.enforce_generality || general) ? 1.0 : 0.0;
  double s_hook = !cue_valid ? 0.0 : type == "regex" ? 1.0 : type == "predicate" ? 0.6 : 0.4;
  size_t len = imperative.size() + json::get_string(e, "expected_effect").size() +
               path_string(e, {"scope", "constraints"}).size() + pattern.size();
  double max_len = gates.max_text_length > 0 ? gates.max_text_length : 420;
  // Up to allow_length_overflow_margin characters past max_text_length still count as concise.
  double allowed_len = max_len + std::max(0, gates.allow_length_overflow_margin);
  double s_con = len <= allowed_len ? 1.0 : std::max(0.0, 1.0 - (static_cast<double>(len) - allowed_len) / max_len);
  const auto& w = cfg.rubric_weights;
  double wsum = w.actionability + w.generality + w.hookability + w.concision;
  if (wsum <= 0) wsum = 1;
  g.weighted_total = (s_act * w.actionability + s_gen * w.generality + s_hook * w.hookability + s_con * w.concision) / wsum;
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::Value gates_v(rapidjson::kObjectType), scores(rapidjson::kObjectType), weights(rapidjson::kObjectType),
      reasons(rapidjson::kArrayType);
  gates_v.AddMember("actionability", g.actionability, a);
  gates_v.AddMember("cue", g.cue, a);
  gates_v.AddMember("generality", general, a);
  scores.AddMember("actionability", s_act, a);
  scores.AddMember("generality", s_gen, a);
  scores.AddMember("hookability", s_hook, a);
  scores.AddMember("concision", s_con, a);
  weights.AddMember("actionability", w.actionability / wsum, a);
  weights.AddMember("generality", w.generality / wsum, a);
  weights.AddMember("hookability", w.hookability / wsum, a);
  weights.AddMember("concision", w.concision / wsum, a);
  for (const auto& r : g.failure_reasons) reasons.PushBack(json::str(r, a), a);
  d.AddMember("gates", gates_v, a);
  d.AddMember("scores", scores, a);
  d.AddMember("weighted_total", g.weighted_total, a);
  d.AddMember("failure_reasons", reasons, a);
  d.AddMember("weights", weights, a);
  g.rubric_json = json::dump(d);
  return g;
}

LearningSnapshot merge_synthesis(const LearningSnapshot& base, const json::Value& syn, const config::LearningConfig& cfg,
                                 const std::vector<std::string>& handles, std::string_view session_id,
                                 MergeReport* report) {
  LearningSnapshot out = base;
  json::Document meta;
  atlas::sdk::parse_json(meta, base.metadata_json);
  if (meta.HasParseError() || !meta.IsObject()) meta.SetObject();
  auto& a = meta.GetAllocator();
  std::string now = clock::now_iso8601();
  if (const json::Value* sp = json::find(syn, "student_pamphlet"); sp && sp->IsString() && sp->GetStringLength() > 0)
    out.student_learning = sp->GetString();
  if (const json::Value* tp = json::find(syn, "teacher_pamphlet"); tp && tp->IsString() && tp->GetStringLength() > 0)
    out.teacher_learning = tp->GetString();

  json::Value entries(rapidjson::kArrayType);
  if (const json::Value* old = json::find(meta, "playbook_entries"); old && old->IsArray()) entries.CopyFrom(*old, a);
  MergeReport local;
  json::Value candidates_summary(rapidjson::kArrayType);
  if (const json::Value* cands = json::find(syn, "playbook_entries"); cands && cands->IsArray()) {
    for (const auto& c : cands->GetArray()) {
      json::Value entry;
      normalise_entry(c, cfg, entry, a);
      if (!entry.IsObject() || entry.MemberCount() == 0) continue;
      GateResult g = evaluate_entry(entry, cfg, handles);
      json::Document rubric;
      atlas::sdk::parse_json(rubric, g.rubric_json);
      std::string id = json::get_string(entry, "id");
      json::Value summary(rapidjson::kObjectType);
      summary.AddMember("id", json::str(id, a), a);
      summary.AddMember("audience", json::Value(*json::find(entry, "audience"), a), a);
      summary.AddMember("rubric", json::Value(rubric, a), a);
      summary.AddMember("accepted", !g.blocking(), a);
      // A rejected candidate is kept whole: `atlas-host playbook rejected` shows what the gates
      // refused and why (the rubric's failure_reasons), version by version.
      if (g.blocking()) summary.AddMember("entry", json::Value(entry, a), a);
      candidates_summary.PushBack(summary, a);
      if (g.blocking()) {
        ++local.rejected;
        for (const auto& r : g.failure_reasons) local.rejected_reasons.push_back(id + ": " + r);
        continue;
      }
      ++local.accepted;
      // Replace an entry with the same id, keeping its history (created_at, impact).
      json::Value provenance(rapidjson::kObjectType);
      std::string created_at = now, source = std::string(session_id);
      json::Value impact;
      for (auto it = entries.Begin(); it != entries.End(); ++it) {
        if (json::get_string(*it, "id") != id) continue;
        if (const json::Value* p = json::find(*it, "provenance")) {
          created_at = json::get_string(*p, "created_at", now);
          source = json::get_string(*p, "source_session_id", source);
        }
        if (const json::Value* im = json::find(*it, "impact")) impact.CopyFrom(*im, a);
        entries.Erase(it);
        break;
      }
      provenance.AddMember("created_at", json::str(created_at, a), a);
      provenance.AddMember("updated_at", json::str(now, a), a);
      provenance.AddMember("source_session_id", json::str(source, a), a);
      json::Value status(rapidjson::kObjectType);
      status.AddMember("category", json::Value(*json::find(*json::find(entry, "scope"), "category"), a), a);
      status.AddMember("lifecycle", rapidjson::StringRef(g.generality ? "active" : "provisional"), a);
      provenance.AddMember("status", status, a);
      entry.AddMember("rubric", json::Value(rubric, a), a);
      entry.AddMember("generated_at", json::str(now, a), a);
      entry.AddMember("provenance", provenance, a);
      if (!impact.IsNull()) entry.AddMember("impact", impact, a);
      entries.PushBack(entry, a);
    }
  }
  json::set(meta, "playbook_entries", std::move(entries), a);
  json::set(meta, "playbook_version", json::Value("playbook_entry.v1"), a);
  json::set(meta, "last_updated_at", json::str(now, a), a);
  json::Value eval(rapidjson::kObjectType);
  eval.AddMember("timestamp", json::str(now, a), a);
  eval.AddMember("session_id", json::str(session_id, a), a);
  eval.AddMember("accepted", local.accepted, a);
  eval.AddMember("rejected", local.rejected, a);
  eval.AddMember("candidates", candidates_summary, a);
  json::set(meta, "last_evaluation", std::move(eval), a);
  if (local.rejected > 0) {
    json::Value failure(rapidjson::kObjectType);
    failure.AddMember("timestamp", json::str(now, a), a);
    json::Value reasons(rapidjson::kArrayType);
    for (const auto& r : local.rejected_reasons) reasons.PushBack(json::str(r, a), a);
    failure.AddMember("failures", reasons, a);
    json::set(meta, "last_failure", std::move(failure), a);
  }
  int64_t syntheses = json::get_int(meta, "synthesis_count", 0) + 1;
  json::set(meta, "synthesis_count", syntheses, a);
  out.metadata_json = json::dump(meta);
  if (report) *report = local;
  return out;
}

size_t playbook_entry_count(std::string_view metadata_json) {
  json::Document d;
  atlas::sdk::parse_json(d, metadata_json);
  if (d.HasParseError()) return 0;
  const json::Value* e = json::find(d, "playbook_entries");
  return e && e->IsArray() ? e->Size() : 0;
}

}  // namespace atlas::runtime
