#include "runtime/playbook_admin.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "data/report.hpp"
#include "runtime/playbook.hpp"

namespace atlas::runtime {

using json::Value;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Result<std::vector<PlaybookKey>> list_playbook_keys(data::Store& store) {
  ATLAS_ASSIGN_OR_RETURN(std::string text, store.execute("learning_keys", "{}"));
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(text, "learning_keys response"));
  std::vector<data::KeyReport> labelled;
  std::vector<PlaybookKey> out;
  if (const Value* keys = json::find(doc, "keys"); keys && keys->IsArray()) {
    for (const Value& k : keys->GetArray()) {
      PlaybookKey p;
      p.learning_key = json::get_string(k, "learning_key");
      p.first_task = json::get_string(k, "first_task");
      p.version = json::get_int(k, "version");
      p.updated_at = json::get_string(k, "updated_at");
      data::KeyReport r;
      r.learning_key = p.learning_key;
      r.first_task = p.first_task;
      labelled.push_back(std::move(r));
      out.push_back(std::move(p));
    }
  }
  data::assign_report_labels(labelled);
  for (size_t i = 0; i < out.size(); ++i) out[i].label = labelled[i].label;
  return out;
}

Result<PlaybookKey> resolve_playbook_key(data::Store& store, std::string_view query) {
  if (query.empty()) return invalid_argument("no learning key given; `atlas-host playbook list` shows them");
  ATLAS_ASSIGN_OR_RETURN(std::vector<PlaybookKey> keys, list_playbook_keys(store));
  const std::string q = lower(query);
  // Exact key, then exact label, then a unique prefix of a key or a label.
  for (const auto& k : keys)
    if (k.learning_key == query) return k;
  std::vector<const PlaybookKey*> hits;
  for (const auto& k : keys)
    if (lower(k.label) == q) hits.push_back(&k);
  if (hits.empty())
    for (const auto& k : keys)
      if (starts_with(k.learning_key, query) || starts_with(lower(k.label), q)) hits.push_back(&k);
  if (hits.size() == 1) return *hits.front();
  if (hits.size() > 1) {
    std::string list;
    for (const auto* k : hits) list += "\n  " + k->learning_key.substr(0, 16) + "  " + k->label;
    return invalid_argument("\"" + std::string(query) + "\" matches " + std::to_string(hits.size()) +
                            " learning keys; give more of the key or the label:" + list);
  }
  std::string known;
  for (const auto& k : keys) known += "\n  " + k.learning_key.substr(0, 16) + "  " + k.label;
  return not_found(
      "no playbook for \"" + std::string(query) + "\"" +
      (keys.empty() ? std::string("; no learning key has a playbook yet") : "; keys with a playbook:" + known));
}

Result<std::vector<PlaybookVersion>> playbook_versions(data::Store& store, std::string_view learning_key,
                                                       std::optional<int64_t> only) {
  std::string req = "{\"learning_key\":" + json::quote(learning_key);
  if (only) req += ",\"version\":" + std::to_string(*only);
  req += "}";
  ATLAS_ASSIGN_OR_RETURN(std::string text, store.execute("learning_versions", req));
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(text, "learning_versions response"));
  std::vector<PlaybookVersion> out;
  if (const Value* vs = json::find(doc, "versions"); vs && vs->IsArray()) {
    for (const Value& v : vs->GetArray()) {
      PlaybookVersion p;
      p.version = json::get_int(v, "version");
      p.actor = json::get_string(v, "actor");
      p.action = json::get_string(v, "action");
      p.note = json::get_string(v, "note");
      p.session_id = json::get_string(v, "session_id");
      p.created_at = json::get_string(v, "created_at");
      p.student_learning = json::get_string(v, "student_learning");
      p.teacher_learning = json::get_string(v, "teacher_learning");
      const Value* m = json::find(v, "metadata");
      p.metadata_json = m && m->IsObject() ? json::dump(*m) : "{}";
      out.push_back(std::move(p));
    }
  }
  if (only && out.empty())
    return not_found("version " + std::to_string(*only) + " of learning key " + std::string(learning_key) +
                     " is not stored; `atlas-host playbook history` lists the versions");
  return out;
}

json::Value playbook_version_json(const PlaybookVersion& v, bool with_content, json::Allocator& a) {
  json::Value o(rapidjson::kObjectType);
  json::set(o, "version", v.version, a);
  json::set(o, "actor", v.actor, a);
  json::set(o, "action", v.action, a);
  json::set(o, "note", v.note, a);
  json::set(o, "session_id", v.session_id, a);
  json::set(o, "created_at", v.created_at, a);
  if (with_content) {
    json::set(o, "student_learning", v.student_learning, a);
    json::set(o, "teacher_learning", v.teacher_learning, a);
    json::set(o, "metadata", json::parsed_or_null(v.metadata_json, a), a);
  }
  return o;
}

// ---- the editable document ----------------------------------------------------------------

namespace {

constexpr std::string_view kStudentHeader = "=== student_learning ===";
constexpr std::string_view kTeacherHeader = "=== teacher_learning ===";
constexpr std::string_view kEntriesHeader = "=== playbook_entries (JSON array) ===";

std::string entries_of(const std::string& metadata_json) {
  auto doc = json::parse(metadata_json, "playbook metadata");
  if (!doc) return "[]";
  const Value* e = json::find(*doc, "playbook_entries");
  return e && e->IsArray() ? json::dump_pretty(*e) : "[]";
}

std::string trimmed_trailing_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

std::string playbook_document(std::string_view learning_key, const PlaybookVersion& v) {
  std::string out;
  out += "# Playbook of learning key " + std::string(learning_key) + ", version " + std::to_string(v.version) + "\n";
  out += "# Edit the sections below; lines starting with '#' before the first section are ignored.\n";
  out += "# The pamphlets are what the student and the teacher see in their prompts; the entries\n";
  out += "# must stay a JSON array of objects (an entry without \"id\" gets one).\n";
  out += std::string(kStudentHeader) + "\n" + v.student_learning + "\n";
  out += std::string(kTeacherHeader) + "\n" + v.teacher_learning + "\n";
  out += std::string(kEntriesHeader) + "\n" + entries_of(v.metadata_json) + "\n";
  return out;
}

Result<PlaybookContent> parse_playbook_document(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  int section = -1;  // 0 student, 1 teacher, 2 entries
  bool seen[3] = {false, false, false};
  std::string body[3];
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    int header = line == kStudentHeader ? 0 : line == kTeacherHeader ? 1 : line == kEntriesHeader ? 2 : -1;
    if (header >= 0) {
      if (seen[header])
        return invalid_argument("line " + std::to_string(line_no) + ": the section \"" + line +
                                "\" appears twice; keep one of each");
      seen[header] = true;
      section = header;
      continue;
    }
    if (section < 0) {
      if (line.empty() || line[0] == '#') continue;
      return invalid_argument("line " + std::to_string(line_no) + ": text before the first section; start with \"" +
                              std::string(kStudentHeader) + "\" or make the line a '#' comment");
    }
    body[section] += line + "\n";
  }
  const std::string_view names[3] = {kStudentHeader, kTeacherHeader, kEntriesHeader};
  for (int i = 0; i < 3; ++i)
    if (!seen[i])
      return invalid_argument("the section \"" + std::string(names[i]) +
                              "\" is missing; the document needs all three sections");
  PlaybookContent c;
  c.student_learning = trimmed_trailing_newlines(body[0]);
  c.teacher_learning = trimmed_trailing_newlines(body[1]);
  std::string entries = trimmed_trailing_newlines(body[2]);
  if (entries.find_first_not_of(" \t\n") == std::string::npos) entries = "[]";
  auto doc = json::parse(entries, "playbook_entries");
  if (!doc) return invalid_argument("the playbook_entries section is not JSON: " + doc.status().message());
  if (!doc->IsArray()) return invalid_argument("the playbook_entries section must be a JSON array of objects");
  for (rapidjson::SizeType i = 0; i < doc->Size(); ++i)
    if (!(*doc)[i].IsObject())
      return invalid_argument("playbook_entries[" + std::to_string(i) + "] is not a JSON object");
  c.entries_json = json::dump(*doc);
  return c;
}

Result<int64_t> write_playbook(data::Store& store, std::string_view learning_key, const PlaybookContent& content,
                               const PlaybookVersion& base, int64_t expected_version, std::string_view actor,
                               std::string_view action, std::string_view note) {
  if (actor.empty()) return invalid_argument("no actor: every playbook change records who made it (--actor WHO)");
  auto meta = json::parse(base.metadata_json.empty() ? "{}" : base.metadata_json, "playbook metadata");
  if (!meta || !meta->IsObject()) meta = json::parse("{}");
  auto& a = meta->GetAllocator();
  ATLAS_ASSIGN_OR_RETURN(json::Document entries, json::parse(content.entries_json, "playbook_entries"));
  Value list(rapidjson::kArrayType);
  for (Value& e : entries.GetArray()) {
    Value copy(e, a);
    if (json::get_string(copy, "id").empty()) json::set(copy, "id", derive_entry_id(copy), a);
    list.PushBack(copy, a);
  }
  const std::string now = clock::now_iso8601();
  json::set(*meta, "playbook_entries", std::move(list), a);
  json::set(*meta, "playbook_version", "playbook_entry.v1", a);
  json::set(*meta, "last_updated_at", now, a);
  if (action == "reset") {  // a reset playbook has no evaluation of its own
    meta->RemoveMember("last_evaluation");
    meta->RemoveMember("last_failure");
  }
  Value change(rapidjson::kObjectType);
  json::set(change, "action", action, a);
  json::set(change, "actor", actor, a);
  json::set(change, "at", now, a);
  json::set(*meta, "last_manual_change", std::move(change), a);
  std::string req = "{\"learning_key\":" + json::quote(learning_key) +
                    ",\"student_learning\":" + json::quote(content.student_learning) +
                    ",\"teacher_learning\":" + json::quote(content.teacher_learning) +
                    ",\"metadata\":" + json::dump(*meta) + ",\"expected_version\":" + std::to_string(expected_version) +
                    ",\"actor\":" + json::quote(actor) + ",\"action\":" + json::quote(action) +
                    (note.empty() ? std::string() : ",\"note\":" + json::quote(note)) + "}";
  auto r = store.execute("learning_put", req);
  if (!r) {
    if (r.status().code() == StatusCode::kAborted)
      return aborted("the playbook of " + std::string(learning_key) +
                     " changed while you edited it (now past version " + std::to_string(expected_version) +
                     "); run the command again to start from the new version");
    return r.status();
  }
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(*r, "learning_put response"));
  return json::get_int(doc, "version");
}

// ---- unified diff -------------------------------------------------------------------------

namespace {

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      out.emplace_back(text.substr(start));
      break;
    }
    out.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace

std::string unified_diff(std::string_view a_text, std::string_view b_text, std::string_view a_name,
                         std::string_view b_name, int context) {
  const std::vector<std::string> a = lines_of(a_text), b = lines_of(b_text);
  const size_t n = a.size(), m = b.size();
  // Longest common subsequence over lines (playbooks are short: a few hundred lines).
  std::vector<std::vector<uint32_t>> lcs(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  struct Op {
    char kind;  // ' ', '-', '+'
    size_t ai, bi;
  };
  std::vector<Op> ops;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ops.push_back({' ', i++, j++});
    } else if (j < m && (i == n || lcs[i][j + 1] > lcs[i + 1][j])) {
      ops.push_back({'+', i, j++});
    } else {
      ops.push_back({'-', i++, j});
    }
  }
  if (std::all_of(ops.begin(), ops.end(), [](const Op& o) { return o.kind == ' '; })) return {};
  std::string out = "--- " + std::string(a_name) + "\n+++ " + std::string(b_name) + "\n";
  const size_t ctx = static_cast<size_t>(std::max(0, context));
  size_t k = 0;
  while (k < ops.size()) {
    while (k < ops.size() && ops[k].kind == ' ') ++k;
    if (k == ops.size()) break;
    size_t begin = k >= ctx ? k - ctx : 0;
    size_t end = k;  // one past the hunk's last op
    size_t last_change = k;
    while (end < ops.size()) {
      if (ops[end].kind != ' ') last_change = end;
      if (end - last_change > 2 * ctx) break;
      ++end;
    }
    end = std::min(ops.size(), last_change + ctx + 1);
    size_t a_start = ops[begin].ai, b_start = ops[begin].bi, a_len = 0, b_len = 0;
    std::string body;
    for (size_t x = begin; x < end; ++x) {
      const Op& o = ops[x];
      if (o.kind != '+') ++a_len;
      if (o.kind != '-') ++b_len;
      body += o.kind;
      body += o.kind == '+' ? b[o.bi] : a[o.ai];
      body += '\n';
    }
    auto range = [](size_t start, size_t len) {
      // GNU: a hunk with no lines on one side names the line before it.
      return std::to_string(len == 0 ? start : start + 1) + (len == 1 ? "" : "," + std::to_string(len));
    };
    out += "@@ -" + range(a_start, a_len) + " +" + range(b_start, b_len) + " @@\n" + body;
    k = end;
  }
  return out;
}

std::vector<RejectedCandidate> rejected_candidates(const std::vector<PlaybookVersion>& versions) {
  std::vector<RejectedCandidate> out;
  std::set<std::string> seen;  // (timestamp, session) of each synthesis: edits copy last_evaluation along
  for (const auto& v : versions) {
    auto meta = json::parse(v.metadata_json, "playbook metadata");
    if (!meta) continue;
    const Value* ev = json::find(*meta, "last_evaluation");
    if (!ev || !ev->IsObject()) continue;
    std::string at = json::get_string(*ev, "timestamp");
    std::string session = json::get_string(*ev, "session_id");
    if (!seen.insert(at + '\x1f' + session).second) continue;
    const Value* cands = json::find(*ev, "candidates");
    if (!cands || !cands->IsArray()) continue;
    for (const Value& c : cands->GetArray()) {
      if (json::get_bool(c, "accepted", true)) continue;
      RejectedCandidate r;
      r.version = v.version;
      r.session_id = session;
      r.evaluated_at = at;
      r.entry_id = json::get_string(c, "id");
      if (const Value* e = json::find(c, "entry"); e && e->IsObject()) r.entry_json = json::dump(*e);
      const Value* rubric = json::find(c, "rubric");
      const Value* reasons = rubric ? json::find(*rubric, "failure_reasons") : nullptr;
      if (reasons && reasons->IsArray())
        for (const Value& x : reasons->GetArray())
          if (x.IsString()) r.reasons.emplace_back(x.GetString());
      out.push_back(std::move(r));
    }
  }
  return out;
}

json::Value rejected_candidate_json(const RejectedCandidate& r, json::Allocator& a) {
  json::Value o(rapidjson::kObjectType);
  json::set(o, "version", r.version, a);
  json::set(o, "session_id", r.session_id, a);
  json::set(o, "evaluated_at", r.evaluated_at, a);
  json::set(o, "entry_id", r.entry_id, a);
  json::set(o, "entry", json::parsed_or_null(r.entry_json, a), a);
  json::Value reasons(rapidjson::kArrayType);
  for (const auto& x : r.reasons) reasons.PushBack(json::str(x, a), a);
  json::set(o, "reasons", std::move(reasons), a);
  return o;
}

}  // namespace atlas::runtime
