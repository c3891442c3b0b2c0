// Export golden tests: a fixed set of sessions (fixed ids, timestamps and host info) is
// exported in every format and compared with tests/integration/storage/golden/<format>.jsonl
// (JSON-equal line by line, so PostgreSQL's JSONB key order does not matter).
// Regenerate after an intended format change with ATLAS_UPDATE_GOLDEN=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "common/digest.hpp"
#include "data/export.hpp"
#include "data/report.hpp"
#include "integration/storage/storage_fixture.hpp"
#include "support/trainer_rules.hpp"

namespace atlas::test {
namespace {

const char* kHost = R"("host":{"hostname":"golden","pid":1,"started_at":"2026-01-01T00:00:00.000000Z"})";

std::string begin(const std::string& task, const std::string& extra_meta, int minute) {
  char ts[64];
  std::snprintf(ts, sizeof(ts), "2026-01-01T00:%02d:00.000000Z", minute);
  return R"({"task":")" + task + R"(","metadata":{)" + std::string(kHost) + extra_meta + R"(},"created_at":")" + ts +
         "\"}";
}

std::string events(const std::string& id, int minute) {
  char ts[64];
  std::snprintf(ts, sizeof(ts), "2026-01-01T00:%02d:01.000000Z", minute);
  return R"({"session_id":")" + id + R"(","events":[
    {"event":{"id":"e1","type":"session","name":"start","role":"host","step_id":null,"data":{}},"created_at":")" +
         ts + R"("},
    {"event":{"id":"e2","type":"tool_call","name":"read_file","role":"student","step_id":"1",
              "data":{"type":"tool_call","tool":"read_file","exposed_name":"fs__read_file","call_id":"c1",
                      "arguments":{"path":"a.txt"},"result":"hello"}},"created_at":")" +
         ts + R"("},
    {"event":{"id":"e3","type":"session","name":"end","role":"host","step_id":null,"data":{}},"created_at":")" +
         ts + R"("}]})";
}

// `cost_usd`: the session's stored cost, "null" for a session whose models have no price.
std::string finish(const std::string& id, double score, const std::string& review, bool retried, int minute,
                   const std::string& cost_usd = "0.001") {
  char ts[64];
  std::snprintf(ts, sizeof(ts), "2026-01-01T00:%02d:30.000000Z", minute);
  std::string s = std::to_string(score);
  std::string attempts =
      retried
          ? R"([{"attempt":1,"evaluation":{"validation":{"valid":false,"guidance":"read the file first"},"status":"failed","output":"I guess: hi"}},
                                      {"attempt":2,"evaluation":{"validation":{"valid":true},"status":"passed","output":"The file says hello"}}])"
          : R"([{"attempt":1,"evaluation":{"validation":{"valid":true},"status":"passed","output":"The file says hello"}}])";
  return R"({"session_id":")" + id + R"(","status":"succeeded","final_answer":"The file says hello","completed_at":")" +
         ts + R"(",
    "metadata":{"learning_key":"lk-files","execution_mode":")" +
         std::string(retried ? "coach" : "auto") + R"(",
                "token_usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,"calls":2,
                               "cost_usd":)" +
         cost_usd + R"(,
                               "by_role":{"student":{"total_tokens":30,"cost_usd":)" +
         cost_usd + R"(},
                                          "teacher":{"total_tokens":12,"cost_usd":0.0}}}},
    "plan":{"steps":[{"id":1,"description":"Read a.txt and report","depends_on":[]}]},
    "steps":[{"step_id":1,"trace":"USER: read a.txt","output":"The file says hello",
              "evaluation":{"validation":{"valid":true},"reward":{"score":)" +
         s + R"(,"rationale":"step judged",
                 "judges":[{"identifier":"process","score":)" +
         s + R"(,"rationale":"fine","principles":[],"samples":[{"score":)" + s +
         R"(,"uncertainty":0.1,"temperature":0.2}],"escalated":false}]}},
              "attempts":)" +
         std::string(retried ? "2" : "1") + R"(,"metadata":{"description":"Read a.txt and report","status":"passed"},
              "attempt_details":)" +
         attempts + R"(,"guidance":)" + std::string(retried ? R"(["read the file first"])" : "[]") + R"(}],
    "reward":{"score":)" +
         s + R"(,"rationale":null,"judges":[]},
    "reward_stats":{"score":)" +
         s + R"(,"score_stddev":0.0,"uncertainty_mean":0.1,"sample_count":1},
    "reward_audit":[{"stage":"tier1","model":"small"}],
    "student_learning":"Read files before answering.","teacher_learning":null,
    "review_status":")" +
         review + R"(","review_actor":"runtime","review_reason":"fixture"})";
}

void drop_content_hash(json::Value& row) {
  auto meta = row.FindMember("session_metadata");
  if (meta == row.MemberEnd() || !meta->value.IsObject()) return;
  auto lineage = meta->value.FindMember("lineage");
  if (lineage != meta->value.MemberEnd() && lineage->value.IsObject()) lineage->value.RemoveMember("content_sha256");
}

std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class ExportGolden : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped()) return;
    auto h = handle();
    auto mk = [&](const std::string& task, double score, const std::string& review, bool retried, int minute,
                  bool finish_it = true, const std::string& cost_usd = "0.001") {
      auto b = call(h, "begin_session", begin(task, "", minute));
      ASSERT_TRUE(b.is_ok()) << b.status().to_string();
      std::string id = json::get_string(*b, "session_id");
      ASSERT_TRUE(call(h, "append_events", events(id, minute)).is_ok());
      if (finish_it) {
        auto f = call(h, "finish_session", finish(id, score, review, retried, minute, cost_usd));
        ASSERT_TRUE(f.is_ok()) << f.status().to_string();
      }
    };
    mk("Summarise a.txt", 0.9, "approved", true, 1);         // 1: DPO pair, group A
    mk("Summarise a.txt", 0.5, "approved", false, 2);        // 2: group A
    mk("Summarise a.txt", 0.7, "pending", false, 3);         // 3: pending -> not exported by default
    mk("List b/", 0.6, "approved", false, 4, true, "null");  // 4: group B; its models have no price
    mk("Crashed task", 0.0, "pending", false, 5, false);     // 5: stays running -> never exported
    store_ = data::Store::open(handle(), store_options()).value();
  }

  std::string export_to(data::ExportFormat f, const data::ExportFilters& filters = {}) {
    data::ExportOptions o;
    o.format = f;
    o.output = dir_ / ("out-" + std::string(data::export_format_name(f)) + ".jsonl");
    o.filters = filters;
    auto r = data::export_sessions(*store_, o);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    std::ifstream in(o.output);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  void check_golden(data::ExportFormat f) {
    std::string got = export_to(f);
    std::string path = std::string(ATLAS_TEST_SOURCE_DIR) + "/tests/integration/storage/golden/" +
                       std::string(data::export_format_name(f)) + ".jsonl";
    if (std::getenv("ATLAS_UPDATE_GOLDEN") && GetParam() == "sqlite") {
      std::ofstream(path) << got;
      GTEST_SKIP() << "golden file rewritten: " << path;
    }
    std::ifstream in(path);
    ASSERT_TRUE(in.good()) << "missing golden file " << path << " (run with ATLAS_UPDATE_GOLDEN=1)";
    std::stringstream want_ss;
    want_ss << in.rdbuf();
    std::istringstream got_lines(got), want_lines(want_ss.str());
    std::string g, w;
    int n = 0;
    while (std::getline(want_lines, w)) {
      ++n;
      ASSERT_TRUE(static_cast<bool>(std::getline(got_lines, g))) << "export has fewer lines than the golden file";
      auto gd = json::parse(g, "export line");
      auto wd = json::parse(w, "golden line");
      ASSERT_TRUE(gd.is_ok() && wd.is_ok());
      // The content hash is of the line as written: PostgreSQL's JSONB key order gives another
      // line, so it is checked on its own (LineageOfEveryRowNamesItsSourcesAndHashesTheRow).
      for (auto* doc : {&*gd, &*wd}) drop_content_hash(*doc);
      EXPECT_TRUE(*gd == *wd) << "line " << n << " differs\n got: " << g << "\nwant: " << w;
    }
    EXPECT_FALSE(static_cast<bool>(std::getline(got_lines, g))) << "export has more lines than the golden file: " << g;
  }

  std::shared_ptr<data::Store> store_;
};

TEST_P(ExportGolden, AtlasJsonl) {
  check_golden(data::ExportFormat::kAtlasJsonl);
}
TEST_P(ExportGolden, TrlSft) {
  check_golden(data::ExportFormat::kTrlSft);
}
TEST_P(ExportGolden, TrlGrpo) {
  check_golden(data::ExportFormat::kTrlGrpo);
}
TEST_P(ExportGolden, TrlDpo) {
  check_golden(data::ExportFormat::kTrlDpo);
}
TEST_P(ExportGolden, OpenAiFt) {
  check_golden(data::ExportFormat::kOpenAiFt);
}

TEST_P(ExportGolden, PendingAndRunningSessionsAreNotExportedByDefault) {
  std::string out = export_to(data::ExportFormat::kAtlasJsonl);
  EXPECT_EQ(out.find("\"pending\""), std::string::npos);
  EXPECT_EQ(out.find("Crashed task"), std::string::npos);
  size_t lines = std::count(out.begin(), out.end(), '\n');
  EXPECT_EQ(lines, 3u);  // sessions 1, 2, 4
  data::ExportFilters all;
  all.review_statuses = std::nullopt;  // --include-all-statuses
  std::string every = export_to(data::ExportFormat::kAtlasJsonl, all);
  EXPECT_EQ(std::count(every.begin(), every.end(), '\n'), 4);  // + pending; running never
  EXPECT_EQ(every.find("Crashed task"), std::string::npos);
}

TEST_P(ExportGolden, FiltersApplyBeforeTheLimit) {
  data::ExportFilters f;
  f.min_reward = 0.55;
  f.limit = 2;
  std::string out = export_to(data::ExportFormat::kAtlasJsonl, f);
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 2);  // sessions 1 (0.9) and 4 (0.6); 2 is 0.5
  EXPECT_NE(out.find("\"session_id\":\"1\""), std::string::npos);
  EXPECT_NE(out.find("\"session_id\":\"4\""), std::string::npos);
}

TEST_P(ExportGolden, ZeroMatchesWritesNothing) {
  data::ExportFilters f;
  f.learning_key = "no-such-key";
  data::ExportOptions o;
  o.output = dir_ / "empty.jsonl";
  o.filters = f;
  auto r = data::export_sessions(*store_, o);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->records, 0u);
  EXPECT_FALSE(std::filesystem::exists(o.output));
}

TEST_P(ExportGolden, AtlasRecordsCarryRealStepRewardsAndOrderedEvents) {
  std::string out = export_to(data::ExportFormat::kAtlasJsonl);
  std::istringstream lines(out);
  std::string first;
  std::getline(lines, first);
  auto d = json::parse(first);
  ASSERT_TRUE(d.is_ok());
  for (const char* k : {"task", "final_answer", "plan", "steps", "session_metadata", "execution_mode", "review_status",
                        "reward_stats", "reward_audit", "session_reward", "student_learning", "learning_key",
                        "teacher_notes", "reward_summary", "trajectory_events"})
    EXPECT_TRUE(d->HasMember(k)) << k;
  EXPECT_DOUBLE_EQ((*d)["steps"][0]["reward"]["score"].GetDouble(), 0.9);
  EXPECT_EQ((*d)["steps"][0]["reward"]["judges"][0]["identifier"], "process");
  const auto& ev = (*d)["trajectory_events"];
  ASSERT_EQ(ev.Size(), 3u);
  EXPECT_LT(ev[0]["id"].GetInt64(), ev[1]["id"].GetInt64());
  // Atlas's names at the top level and in event.payload; ours stay in the event.
  EXPECT_EQ(std::string(ev[0]["name"].GetString()), "orchestration");
  EXPECT_EQ(std::string(ev[0]["event_type"].GetString()), "WORKFLOW_START");
  EXPECT_EQ(std::string(ev[0]["event"]["payload"]["event_type"].GetString()), "WORKFLOW_START");
  EXPECT_EQ(std::string(ev[0]["event"]["name"].GetString()), "start");
  EXPECT_EQ(std::string(ev[2]["event"]["payload"]["event_type"].GetString()), "WORKFLOW_END");
  EXPECT_EQ(std::string(ev[2]["event"]["payload"]["data"]["output"].GetString()),
            std::string((*d)["final_answer"].GetString()));
  EXPECT_EQ(std::string(ev[1]["event_type"].GetString()), "TOOL_END");
  EXPECT_EQ(std::string(ev[1]["type"].GetString()), "tool_call");
  EXPECT_FALSE((*d)["session_metadata"].HasMember("trajectory_events"));  // not duplicated
}

TEST_P(ExportGolden, ToolCallArgumentsAreObjectsForTrlAndStringsForOpenAi) {
  auto first_line = [](const std::string& s) { return s.substr(0, s.find('\n')); };
  auto trl = json::parse(first_line(export_to(data::ExportFormat::kTrlSft)));
  auto oai = json::parse(first_line(export_to(data::ExportFormat::kOpenAiFt)));
  ASSERT_TRUE(trl.is_ok() && oai.is_ok());
  const auto& tcall = (*trl)["messages"][1]["tool_calls"][0]["function"];
  EXPECT_TRUE(tcall["arguments"].IsObject());
  EXPECT_EQ(std::string(tcall["arguments"]["path"].GetString()), "a.txt");
  const auto& ocall = (*oai)["messages"][1]["tool_calls"][0]["function"];
  ASSERT_TRUE(ocall["arguments"].IsString());
  EXPECT_EQ(std::string(ocall["arguments"].GetString()), R"({"path":"a.txt"})");
  EXPECT_EQ(std::string((*trl)["tools"][0]["function"]["name"].GetString()), "fs__read_file");
}

// TRL hands every column but `prompt` to the reward functions as keyword arguments beside its own
// prompts/completions/completion_ids/trainer_state: no column of ours may carry those names.
TEST_P(ExportGolden, GrpoColumnsCannotCollideWithTrlRewardArguments) {
  std::string out = export_to(data::ExportFormat::kTrlGrpo);
  std::istringstream lines(out);
  std::string line;
  int rows = 0;
  while (std::getline(lines, line)) {
    ++rows;
    auto d = json::parse(line);
    ASSERT_TRUE(d.is_ok());
    ASSERT_TRUE(d->HasMember("prompt"));
    for (auto it = d->MemberBegin(); it != d->MemberEnd(); ++it) {
      std::string name = it->name.GetString();
      EXPECT_TRUE(name == "prompt" || name.rfind("atlas_", 0) == 0) << "column " << name << " may collide";
    }
    const auto& ids = (*d)["atlas_session_ids"];
    EXPECT_EQ((*d)["atlas_step_rewards"].Size(), ids.Size());
    EXPECT_EQ((*d)["atlas_reward_uncertainty"].Size(), ids.Size());
    EXPECT_EQ((*d)["atlas_session_rewards"].Size(), ids.Size());
  }
  EXPECT_EQ(rows, 2);
}

TEST_P(ExportGolden, ReportSummarisesLearningPerKey) {
  auto r = data::build_report(*store_, {});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const data::KeyReport* k = nullptr;
  for (const auto& kr : r->keys)
    if (kr.learning_key == "lk-files") k = &kr;
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->sessions, 4u);
  EXPECT_EQ(k->label, "lk-files");  // set by hand: the key is its own label
  EXPECT_EQ(k->lanes.at("coach"), 1u);
  EXPECT_EQ(k->lanes.at("auto"), 3u);
  EXPECT_EQ(k->sessions_with_teacher, 1u);
  EXPECT_EQ(k->guidance_notes, 1u);
  EXPECT_EQ(k->retries, 1u);
  EXPECT_EQ(k->tokens_by_role.at("student"), 120);
  EXPECT_EQ(k->tokens_by_role.at("teacher"), 48);
  ASSERT_EQ(k->rewards.size(), 4u);
  EXPECT_NEAR(k->reward_mean, (0.9 + 0.5 + 0.7 + 0.6) / 4, 1e-9);
  EXPECT_NEAR(k->reward_first_half, 0.7, 1e-9);
  std::string text = data::report_text(*r);
  EXPECT_NE(text.find("lk-files"), std::string::npos);
  EXPECT_NE(text.find("coach 1 (25%)"), std::string::npos) << text;
  auto only = data::build_report(*store_, {"lk-files", "", {}});
  ASSERT_TRUE(only.is_ok());
  EXPECT_EQ(only->keys.size(), 1u);
}

TEST_P(ExportGolden, ReportCostPerKeyIsUnknownWhenOneSessionHasNoPrice) {
  auto r = data::build_report(*store_, {});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  auto found = std::find_if(r->keys.begin(), r->keys.end(), [](const auto& k) { return k.learning_key == "lk-files"; });
  ASSERT_NE(found, r->keys.end());
  const data::KeyReport& k = *found;
  const size_t index = static_cast<size_t>(found - r->keys.begin());
  EXPECT_FALSE(k.cost.value().has_value());  // session 4 has no price: unknown, not a smaller sum
  EXPECT_NEAR(k.cost.known_part(), 0.003, 1e-12);
  EXPECT_EQ(k.cost.unknown_terms(), 1u);
  EXPECT_EQ(k.accepted_sessions, 3u);  // 1, 2 and 4 are approved; 3 is pending
  EXPECT_FALSE(k.cost_per_accepted_usd().has_value());
  EXPECT_NEAR(k.cost_by_role.at("teacher").value().value(), 0.0, 1e-12);
  std::string text = data::report_text(*r);
  EXPECT_NE(text.find("cost                unknown (1 of 4 session(s) without a price or usage; $0.003000 priced)"),
            std::string::npos)
      << text;
  auto doc = json::parse(data::report_json(*r));
  ASSERT_TRUE(doc.is_ok());
  const auto& cost = (*doc)["learning_keys"][static_cast<rapidjson::SizeType>(index)]["cost"];
  EXPECT_TRUE(cost["usd"].IsNull());
  EXPECT_EQ(cost["sessions_unknown"].GetInt64(), 1);
}

TEST_P(ExportGolden, ExportSummaryCarriesTheCostPerRecord) {
  data::ExportOptions o;
  o.format = data::ExportFormat::kTrlSft;
  o.output = dir_ / "priced.jsonl";
  o.filters.session_ids = {"1", "2"};
  auto priced = data::export_sessions(*store_, o);
  ASSERT_TRUE(priced.is_ok()) << priced.status().to_string();
  ASSERT_EQ(priced->records, 2u);
  ASSERT_TRUE(priced->cost_usd.has_value());
  EXPECT_NEAR(*priced->cost_usd, 0.002, 1e-12);
  EXPECT_NEAR(priced->cost_per_record_usd().value(), 0.001, 1e-12);
  o.filters.session_ids = {"1", "4"};
  o.output = dir_ / "unpriced.jsonl";
  auto unpriced = data::export_sessions(*store_, o);
  ASSERT_TRUE(unpriced.is_ok()) << unpriced.status().to_string();
  EXPECT_FALSE(unpriced->cost_usd.has_value());
  EXPECT_FALSE(unpriced->cost_per_record_usd().has_value());
  EXPECT_EQ(unpriced->sessions_cost_unknown, 1u);
}

// Lineage: atlas-jsonl carries it in session_metadata.lineage (hash of the record without it);
// the trainer formats in FILE.lineage.jsonl, one line per row (hash of the row's line).
TEST_P(ExportGolden, LineageOfEveryRowNamesItsSourcesAndHashesTheRow) {
  data::ExportOptions o;
  o.format = data::ExportFormat::kTrlDpo;
  o.output = dir_ / "dpo.jsonl";
  auto r = data::export_sessions(*store_, o);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  auto rows = lines_of(o.output);
  auto lineage = lines_of(data::lineage_sidecar_path(o.output));
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(lineage.size(), rows.size());
  auto l = json::parse(lineage[0]).value();
  EXPECT_EQ(l["row"].GetInt64(), 1);
  EXPECT_EQ(std::string(l["format"].GetString()), "trl-dpo");
  EXPECT_EQ(std::string(l["content_sha256"].GetString()), sha256_hex(rows[0]));
  EXPECT_EQ(l["step_id"].GetInt64(), 1);
  ASSERT_EQ(l["sessions"].Size(), 1u);
  const auto& source = l["sessions"][0];
  EXPECT_EQ(std::string(source["session_id"].GetString()), "1");
  EXPECT_EQ(std::string(source["reviewer"].GetString()), "runtime");
  EXPECT_EQ(std::string(source["review_status"].GetString()), "approved");
  EXPECT_EQ(std::string(source["judges"][0].GetString()), "process");
  EXPECT_DOUBLE_EQ(source["cost_usd"].GetDouble(), 0.001);

  o.format = data::ExportFormat::kTrlGrpo;  // one row per group: every member session is named
  o.output = dir_ / "grpo.jsonl";
  ASSERT_TRUE(data::export_sessions(*store_, o).is_ok());
  auto grpo = lines_of(data::lineage_sidecar_path(o.output));
  ASSERT_EQ(grpo.size(), 2u);
  EXPECT_EQ(json::parse(grpo[1]).value()["sessions"].Size(), 2u);

  o.format = data::ExportFormat::kAtlasJsonl;  // same path: the stale sidecar must go
  o.output = dir_ / "dpo.jsonl";
  ASSERT_TRUE(data::export_sessions(*store_, o).is_ok());
  EXPECT_FALSE(std::filesystem::exists(data::lineage_sidecar_path(o.output)));
  for (const auto& line : lines_of(o.output)) {
    auto rec = json::parse(line).value();
    std::string hash = rec["session_metadata"]["lineage"]["content_sha256"].GetString();
    rec["session_metadata"].RemoveMember("lineage");
    EXPECT_EQ(hash, sha256_hex(json::dump(rec)));
  }
}

// A row that does not match its schema stops the export with an error naming the row, the
// session and the failing field; no file, partial file or sidecar is left behind.
TEST_P(ExportGolden, ARowMissingARequiredFieldIsRefusedAndNothingIsWritten) {
  data::ExportOptions o;
  o.format = data::ExportFormat::kTrlSft;
  o.output = dir_ / "refused.jsonl";
  o.extra_schema_json = R"({"type":"object","required":["label"]})";
  o.extra_schema_name = "the schema trainer.json";
  auto r = data::export_sessions(*store_, o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("row 1 of the trl-sft export (session 1)"), std::string::npos) << m;
  EXPECT_NE(m.find("does not match the schema trainer.json"), std::string::npos) << m;
  EXPECT_NE(m.find("label"), std::string::npos) << m;
  EXPECT_NE(m.find("nothing was written"), std::string::npos) << m;
  for (const char* leftover :
       {"refused.jsonl", "refused.jsonl.partial", "refused.jsonl.lineage.jsonl", "refused.jsonl.lineage.jsonl.partial"})
    EXPECT_FALSE(std::filesystem::exists(dir_ / leftover)) << leftover;
}

// What the student saw: a run session whose attempt event recorded the system prompt (with the
// injected playbook) and three offered tools with full schemas, one of which it called.
constexpr const char* kPlaybookBlock =
    ">>> Student Playbook >>>\nVersion: 2\n- Read files before answering.\n>>> End Student Playbook >>>";
constexpr const char* kStudentPrompt = "You are a careful file assistant.";
constexpr const char* kOfferedTools = R"([
  {"name":"fs__read_file","description":"Read a file","parameters":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}},
  {"name":"fs__list_dir","description":"List a directory","parameters":{"type":"object","properties":{"dir":{"type":"string"}}}},
  {"name":"search","description":"Search the files","parameters":{"type":"object","properties":{"query":{"type":"string"},"limit":{"type":"integer"}},"required":["query"]}}])";

class ExportConversation : public ExportGolden {
 protected:
  void SetUp() override {
    ExportGolden::SetUp();
    if (IsSkipped()) return;
    auto h = handle();
    auto b = call(h, "begin_session", begin("Summarise a.txt", "", 6));
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    id_ = json::get_string(*b, "session_id");
    const std::string system = std::string(kPlaybookBlock) + "\n\n" + kStudentPrompt;
    ASSERT_TRUE(call(h, "append_events",
                     R"({"session_id":")" + id_ + R"(","events":[
      {"event":{"id":"a1","type":"attempt","name":"start","role":"student","step_id":"1",
                "data":{"attempt":1,"system_prompt":)" +
                         json::quote(system) + R"(,"tools":)" + kOfferedTools + R"(}},
       "created_at":"2026-01-01T00:06:01.000000Z"}]})")
                    .is_ok());
    ASSERT_TRUE(call(h, "append_events", events(id_, 6)).is_ok());
    ASSERT_TRUE(call(h, "finish_session", finish(id_, 0.8, "approved", false, 6)).is_ok());
  }

  json::Document export_row(data::ExportFormat f, bool strip_playbook = false) {
    data::ExportOptions o;
    o.format = f;
    o.output = dir_ / "conversation.jsonl";
    o.filters.session_ids = {id_};
    o.strip_playbook = strip_playbook;
    auto r = data::export_sessions(*store_, o);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    auto rows = lines_of(o.output);
    EXPECT_EQ(rows.size(), 1u);
    return json::parse(rows.empty() ? "{}" : rows[0]).value();
  }

  // All three offered tools, in order, with their full schemas.
  static void expect_offered_tools(const json::Value& row) {
    auto offered = json::parse(kOfferedTools).value();
    ASSERT_TRUE(row.HasMember("tools"));
    ASSERT_EQ(row["tools"].Size(), 3u) << json::dump(row["tools"]);
    for (rapidjson::SizeType i = 0; i < 3; ++i) {
      const json::Value& fn = row["tools"][i]["function"];
      EXPECT_EQ(json::get_string(row["tools"][i], "type"), "function");
      EXPECT_EQ(json::get_string(fn, "name"), json::get_string(offered[i], "name"));
      EXPECT_EQ(json::get_string(fn, "description"), json::get_string(offered[i], "description"));
      EXPECT_TRUE(fn["parameters"] == offered[i]["parameters"]) << json::dump(fn);
    }
  }

  std::string id_;
};

TEST_P(ExportConversation, TrlSftCarriesTheSystemPromptAndEveryOfferedToolWithArgumentsAsObjects) {
  auto row = export_row(data::ExportFormat::kTrlSft);
  const json::Value& m = row["messages"];
  ASSERT_GE(m.Size(), 4u);
  EXPECT_EQ(json::get_string(m[0], "role"), "system");
  EXPECT_EQ(json::get_string(m[0], "content"), std::string(kPlaybookBlock) + "\n\n" + kStudentPrompt);
  EXPECT_EQ(json::get_string(m[1], "role"), "user");
  const json::Value& args = m[2]["tool_calls"][0]["function"]["arguments"];
  ASSERT_TRUE(args.IsObject()) << json::dump(m[2]);
  EXPECT_EQ(json::get_string(args, "path"), "a.txt");
  expect_offered_tools(row);
}

TEST_P(ExportConversation, OpenAiCarriesTheSameWithArgumentsAsStringsAndWeightOnTheFinalAnswer) {
  auto row = export_row(data::ExportFormat::kOpenAiFt);
  const json::Value& m = row["messages"];
  ASSERT_GE(m.Size(), 4u);
  EXPECT_EQ(json::get_string(m[0], "role"), "system");
  EXPECT_EQ(json::get_string(m[0], "content"), std::string(kPlaybookBlock) + "\n\n" + kStudentPrompt);
  const json::Value& args = m[2]["tool_calls"][0]["function"]["arguments"];
  ASSERT_TRUE(args.IsString()) << json::dump(m[2]);
  EXPECT_EQ(json::get_string(json::parse(args.GetString()).value(), "path"), "a.txt");
  const json::Value& last = m[m.Size() - 1];
  EXPECT_EQ(json::get_string(last, "role"), "assistant");
  EXPECT_EQ(json::get_int(last, "weight"), 1);
  EXPECT_EQ(json::get_int(m[2], "weight"), 1) << "no attempt was rejected: the tool-calling turn is trained on";
  expect_offered_tools(row);
}

TEST_P(ExportConversation, StripPlaybookRemovesExactlyThePlaybookBlock) {
  for (auto f : {data::ExportFormat::kTrlSft, data::ExportFormat::kOpenAiFt}) {
    auto row = export_row(f, true);
    EXPECT_EQ(json::get_string(row["messages"][0], "content"), kStudentPrompt) << data::export_format_name(f);
  }
  auto grpo = export_row(data::ExportFormat::kTrlGrpo, true);
  EXPECT_EQ(json::get_string(grpo["prompt"][0], "content"), kStudentPrompt) << "the group's prompt too";
}

// A captured gateway episode of three model calls (one step each): call 1 read a file, call 2
// was sent the teacher's guidance before it and read another, call 3 answered. Stored the way
// runtime/session_capture.cpp stores it: an llm_call event per call, tool_call events under the
// call that made them, a tool-only reply's output being its calls as JSON.
class ExportCapturedEpisode : public ExportGolden {
 protected:
  void SetUp() override {
    ExportGolden::SetUp();
    if (IsSkipped()) return;
    auto h = handle();
    auto b = call(h, "begin_session", begin("Summarise a.txt", "", 7));
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    id_ = json::get_string(*b, "session_id");
    auto llm_call = [](const std::string& id, int step, int tool_calls) {
      return R"({"event":{"id":")" + id + R"(","type":"llm_call","name":"m","role":"student","step_id":")" +
             std::to_string(step) + R"(","data":{"wire":"openai.chat","model":"m","tool_calls":)" +
             std::to_string(tool_calls) +
             R"(,"system_prompt":"You read files.","tools":[]}},"created_at":"2026-01-01T00:07:01.000000Z"})";
    };
    auto tool_call = [](const std::string& parent, int step, const std::string& call_id, const std::string& path,
                        const std::string& result) {
      return R"({"event":{"id":"t)" + call_id + R"(","parent_id":")" + parent +
             R"(","type":"tool_call","name":"read_file","role":"student","step_id":")" + std::to_string(step) +
             R"(","data":{"call_id":")" + call_id + R"(","tool":"read_file","arguments":{"path":")" + path +
             R"("},"result":")" + result + R"("}},"created_at":"2026-01-01T00:07:02.000000Z"})";
    };
    ASSERT_TRUE(call(h, "append_events",
                     R"({"session_id":")" + id_ + R"(","events":[)" + llm_call("l1", 1, 1) + "," +
                         tool_call("l1", 1, "c1", "a.txt", "hello") + "," + llm_call("l2", 2, 1) + "," +
                         tool_call("l2", 2, "c2", "b.txt", "world") + "," + llm_call("l3", 3, 0) + "]}")
                    .is_ok());
    auto step = [](int id, const std::string& output, const std::string& guidance) {
      return R"({"step_id":)" + std::to_string(id) + R"(,"trace":"","output":)" + json::quote(output) +
             R"(,"evaluation":{"validation":{"valid":true},"reward":{"score":0.8}},"attempts":1,
               "metadata":{"description":"model call","status":"passed"},
               "attempt_details":[{"attempt":1,"evaluation":{"validation":{"valid":true},"status":"passed","output":)" +
             json::quote(output) + R"(}}],"guidance":)" + guidance + "}";
    };
    const std::string finished =
        R"({"session_id":")" + id_ + R"(","status":"succeeded","final_answer":"a says hello, b says world",
      "completed_at":"2026-01-01T00:07:30.000000Z","metadata":{"learning_key":"lk-files","execution_mode":"coach"},
      "plan":{"steps":[{"id":1,"description":"model call"},{"id":2,"description":"model call"},{"id":3,"description":"model call"}]},
      "steps":[)" +
        step(1, R"([{"tool":"read_file","arguments":{"path":"a.txt"}}])", "[]") + "," +
        step(2, R"([{"tool":"read_file","arguments":{"path":"b.txt"}}])", R"(["cite both files"])") + "," +
        step(3, "a says hello, b says world", "[]") + R"(],
      "reward":{"score":0.8},"reward_stats":{"score":0.8},"review_status":"approved","review_actor":"runtime"})";
    auto f = call(h, "finish_session", finished);
    ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  }

  std::vector<json::Document> export_rows(data::ExportFormat f, data::ExportOptions::Conversation c,
                                          data::ExportOptions::Guidance g = data::ExportOptions::Guidance::kContext) {
    data::ExportOptions o;
    o.format = f;
    o.output = dir_ / "captured.jsonl";
    o.filters.session_ids = {id_};
    o.conversation = c;
    o.guidance = g;
    auto r = data::export_sessions(*store_, o);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    std::vector<json::Document> rows;
    for (const auto& line : lines_of(o.output)) {
      rows.push_back(json::parse(line).value());
      EXPECT_EQ(f == data::ExportFormat::kOpenAiFt ? atlas::testing::trainer_rules::openai_chat(rows.back())
                                                   : atlas::testing::trainer_rules::trl_sft(rows.back()),
                "")
          << line;
    }
    return rows;
  }

  // "role[weight]: content or the called path"
  static std::vector<std::string> turns(const json::Value& row) {
    std::vector<std::string> out;
    for (const auto& m : row["messages"].GetArray()) {
      std::string t = json::get_string(m, "role");
      if (m.HasMember("weight")) t += "[" + std::to_string(m["weight"].GetInt()) + "]";
      if (m.HasMember("tool_calls")) {
        const json::Value& args = m["tool_calls"][0]["function"]["arguments"];
        t += ": call " + (args.IsString() ? json::get_string(json::parse(args.GetString()).value(), "path")
                                          : json::get_string(args, "path"));
      } else {
        t += ": " + json::get_string(m, "content");
      }
      out.push_back(t);
    }
    return out;
  }

  std::string id_;
};

TEST_P(ExportCapturedEpisode, PerSessionIsTheEpisodesConversationWithGuidanceAsAUserTurn) {
  using C = data::ExportOptions::Conversation;
  auto rows = export_rows(data::ExportFormat::kOpenAiFt, C::kPerSession);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(turns(rows[0]),
            (std::vector<std::string>{"system: You read files.", "user: Summarise a.txt", "assistant[1]: call a.txt",
                                      "tool: hello", "user: cite both files", "assistant[1]: call b.txt", "tool: world",
                                      "assistant[1]: a says hello, b says world"}));
  auto excluded = export_rows(data::ExportFormat::kTrlSft, C::kPerSession, data::ExportOptions::Guidance::kExclude);
  ASSERT_EQ(excluded.size(), 1u);
  EXPECT_EQ(turns(excluded[0]).size(), 7u) << "no guidance turn";
  EXPECT_EQ(json::dump(excluded[0]).find("cite both files"), std::string::npos);
}

TEST_P(ExportCapturedEpisode, PerStepRowsEndAtTheirCallsReplyWithTheEarlierCallsAsContext) {
  auto rows = export_rows(data::ExportFormat::kOpenAiFt, data::ExportOptions::Conversation::kPerStep);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(turns(rows[0]),
            (std::vector<std::string>{"system: You read files.", "user: Summarise a.txt", "assistant[1]: call a.txt"}))
      << "the tool result came with the next call";
  EXPECT_EQ(turns(rows[1]),
            (std::vector<std::string>{"system: You read files.", "user: Summarise a.txt", "assistant[0]: call a.txt",
                                      "tool: hello", "user: cite both files", "assistant[1]: call b.txt"}));
  EXPECT_EQ(turns(rows[2]).back(), "assistant[1]: a says hello, b says world");
  EXPECT_EQ(turns(rows[2])[5], "assistant[0]: call b.txt");
  auto sft = export_rows(data::ExportFormat::kTrlSft, data::ExportOptions::Conversation::kPerStep);
  ASSERT_EQ(sft.size(), 3u);
  for (size_t i = 0; i < sft.size(); ++i) EXPECT_EQ(json::get_int(sft[i], "step_id"), static_cast<int64_t>(i + 1));
  const auto lineage = lines_of(data::lineage_sidecar_path(dir_ / "captured.jsonl"));
  ASSERT_EQ(lineage.size(), 3u);
  EXPECT_EQ(json::get_int(json::parse(lineage[2]).value(), "step_id"), 3);
}

// A coach session stored before attempts recorded their prompts: no attempt events, a tool call
// without its attempt, step 2 rejected once then accepted after guidance.
TEST_P(ExportCapturedEpisode, OlderCoachSessionsFallBackToTheTaskAndStepAndWeighUnattributedCallsZero) {
  auto h = handle();
  auto b = call(h, "begin_session", begin("Summarise a.txt", "", 8));
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  const std::string id = json::get_string(*b, "session_id");
  ASSERT_TRUE(call(h, "append_events", events(id, 8)).is_ok());  // read_file a.txt, step 1 (no parent)
  const std::string finished = R"({"session_id":")" + id + R"(","status":"succeeded","final_answer":"FINAL",
    "completed_at":"2026-01-01T00:08:30.000000Z","metadata":{"learning_key":"lk-files","execution_mode":"coach"},
    "plan":{"steps":[{"id":1,"description":"read it"},{"id":2,"description":"summarise it"}]},
    "steps":[{"step_id":1,"output":"hello","evaluation":{"reward":{"score":0.8}},"attempts":2,
              "metadata":{"description":"read it"},"guidance":["read the file first"],
              "attempt_details":[{"attempt":1,"evaluation":{"validation":{"valid":false},"status":"failed","output":"guess"}},
                                 {"attempt":2,"evaluation":{"validation":{"valid":true},"status":"passed","output":"hello"}}]},
             {"step_id":2,"output":"it says hello","evaluation":{"reward":{"score":0.8}},"attempts":1,
              "metadata":{"description":"summarise it"},"guidance":[],
              "attempt_details":[{"attempt":1,"evaluation":{"validation":{"valid":true},"status":"passed","output":"it says hello"}}]}],
    "reward":{"score":0.8},"reward_stats":{"score":0.8},"review_status":"approved","review_actor":"runtime"})";
  ASSERT_TRUE(call(h, "finish_session", finished).is_ok());
  data::ExportOptions o;
  o.format = data::ExportFormat::kOpenAiFt;
  o.output = dir_ / "older.jsonl";
  o.filters.session_ids = {id};
  ASSERT_TRUE(data::export_sessions(*store_, o).is_ok());
  auto rows = lines_of(o.output);
  ASSERT_EQ(rows.size(), 1u);
  auto row = json::parse(rows[0]).value();
  EXPECT_EQ(atlas::testing::trainer_rules::openai_chat(row), "") << rows[0];
  EXPECT_EQ(turns(row),
            (std::vector<std::string>{
                "user: Summarise a.txt",
                "user: Summarise a.txt\n\nStep 1: read it\n\nGuidance from your teacher on earlier "
                "attempts:\n- read the file first",
                "assistant[0]: call a.txt", "tool: hello", "assistant[1]: hello",
                "user: Summarise a.txt\n\nStep 2: summarise it", "assistant[1]: it says hello", "assistant[1]: FINAL"}))
      << "a call that cannot be told apart from the rejected attempt's is context only";
  EXPECT_EQ(rows[0].find("guess"), std::string::npos) << "the rejected answer is no turn";
  // Per-step: its synthesizer's prompt was not stored, so there is no synthesis row to make up.
  o.conversation = data::ExportOptions::Conversation::kPerStep;
  o.format = data::ExportFormat::kTrlSft;
  o.output = dir_ / "older-per-step.jsonl";
  ASSERT_TRUE(data::export_sessions(*store_, o).is_ok());
  auto per_step = lines_of(o.output);
  ASSERT_EQ(per_step.size(), 2u) << "one row per step, no synthesis row";
  for (const auto& line : per_step) EXPECT_EQ(line.find("\"synthesis\""), std::string::npos) << line;
}

// Rollout groups (run --rollouts, X-Atlas-Rollout-Group): trl-grpo rows follow the stored group
// id, not the task text; --drop-zero-variance leaves out groups whose rewards are all equal.
class ExportRollouts : public ExportGolden {
 protected:
  void SetUp() override {
    ExportGolden::SetUp();
    if (IsSkipped()) return;
    auto h = handle();
    int minute = 10;
    // Same task text as sessions 1 and 2, but two groups of their own.
    for (const auto& [group, score] : std::vector<std::pair<std::string, double>>{
             {"rg-a", 0.9}, {"rg-a", 0.3}, {"rg-a", 0.6}, {"rg-b", 0.5}, {"rg-b", 0.5}}) {
      auto b = call(h, "begin_session",
                    begin("Summarise a.txt", R"(,"rollout_group":")" + group + R"(","rollout_index":0)", minute));
      ASSERT_TRUE(b.is_ok()) << b.status().to_string();
      std::string id = json::get_string(*b, "session_id");
      ASSERT_TRUE(call(h, "append_events", events(id, minute)).is_ok());
      ASSERT_TRUE(call(h, "finish_session", finish(id, score, "approved", false, minute)).is_ok());
      ids_[group].push_back(id);
      ++minute;
    }
  }

  std::vector<json::Document> grpo_rows(bool drop_zero_variance, data::ExportSummary* summary = nullptr) {
    data::ExportOptions o;
    o.format = data::ExportFormat::kTrlGrpo;
    o.output = dir_ / "grpo-rollouts.jsonl";
    o.drop_zero_variance = drop_zero_variance;
    auto r = data::export_sessions(*store_, o);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (r && summary) *summary = *r;
    std::vector<json::Document> rows;
    for (const auto& line : lines_of(o.output)) {
      rows.push_back(json::parse(line).value());
      EXPECT_EQ(atlas::testing::trainer_rules::trl_grpo(rows.back()), "") << line;
    }
    return rows;
  }

  static const json::Value* row_of(const std::vector<json::Document>& rows, const std::string& group) {
    for (const auto& r : rows)
      if (json::get_string(r, "atlas_group_id") == group) return &r;
    return nullptr;
  }

  std::map<std::string, std::vector<std::string>> ids_;
};

TEST_P(ExportRollouts, GrpoRowsFollowTheRolloutGroupNotTheTaskText) {
  auto rows = grpo_rows(false);
  ASSERT_EQ(rows.size(), 4u);  // lk-files/"Summarise a.txt" (1, 2), "List b/" (4), rg-a, rg-b
  const json::Value* a = row_of(rows, "rg-a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(json::get_string(*a, "atlas_group_source"), "rollout");
  ASSERT_EQ((*a)["atlas_session_ids"].Size(), 3u);
  for (rapidjson::SizeType i = 0; i < 3; ++i)
    EXPECT_EQ(std::string((*a)["atlas_session_ids"][i].GetString()), ids_["rg-a"][i]);
  EXPECT_EQ((*a)["atlas_session_rewards"][0].GetDouble(), 0.9);
  EXPECT_EQ((*a)["atlas_step_rewards"][1][0].GetDouble(), 0.3) << "step rewards stay per sibling";
  EXPECT_EQ((*a)["atlas_reward_uncertainty"][2].GetDouble(), 0.1);
  double advantages = 0;
  for (const auto& v : (*a)["atlas_advantages"].GetArray()) advantages += v.GetDouble();
  EXPECT_NEAR(advantages, 0.0, 1e-9);
  const json::Value* by_task = nullptr;
  for (const auto& r : rows)
    if (json::get_string(r["prompt"][0], "content") == "Summarise a.txt" &&
        json::get_string(r, "atlas_group_source") == "task")
      by_task = &r;
  ASSERT_NE(by_task, nullptr);
  EXPECT_EQ(json::get_string(*by_task, "atlas_group_id").rfind("task-", 0), 0u);
  EXPECT_EQ(json::get_string(*by_task, "atlas_group_source"), "task");
  EXPECT_EQ((*by_task)["atlas_session_ids"].Size(), 2u) << "the rollout siblings are not mixed into the task group";
}

TEST_P(ExportRollouts, DropZeroVarianceLeavesOutGroupsWhoseRewardsAreAllEqual) {
  data::ExportSummary summary;
  auto rows = grpo_rows(true, &summary);
  EXPECT_EQ(summary.groups_dropped, 2u);  // rg-b (0.5, 0.5) and "List b/" (a group of one)
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(row_of(rows, "rg-a"), nullptr);
  EXPECT_EQ(row_of(rows, "rg-b"), nullptr);
  for (const auto& r : rows) EXPECT_NE(json::get_string(r["prompt"][0], "content"), "List b/");
}

// Corrections as data: session 1's step was rejected, then accepted after the guidance "read
// the file first"; a reviewer demonstrated a better answer for session 2.
class ExportCorrections : public ExportGolden {
 protected:
  void SetUp() override {
    ExportGolden::SetUp();
    if (IsSkipped()) return;
    auto h = handle();
    auto d = call(h, "add_demonstration",
                  R"({"session_id":"2","answer":"a.txt says: hello","actor":"ana","reason":"more precise"})");
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  }

  std::vector<json::Document> rows(data::ExportFormat f, data::ExportOptions o = {}) {
    o.format = f;
    o.output = dir_ / ("corrections-" + std::string(data::export_format_name(f)) + ".jsonl");
    auto r = data::export_sessions(*store_, o);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    std::vector<json::Document> out;
    for (const auto& line : lines_of(o.output)) out.push_back(json::parse(line).value());
    EXPECT_EQ(lines_of(data::lineage_sidecar_path(o.output)).size(), out.size()) << "one lineage line per row";
    return out;
  }

  static std::string last_content(const json::Value& conversation) {
    return json::get_string(conversation[conversation.Size() - 1], "content");
  }
};

TEST_P(ExportCorrections, AcceptedRetriesAndDemonstrationsBecomeSftRowsWithOrWithoutTheGuidance) {
  namespace rules = atlas::testing::trainer_rules;
  auto with = rows(data::ExportFormat::kTrlSftCorrections);
  ASSERT_EQ(with.size(), 2u);
  for (const auto& r : with) EXPECT_EQ(rules::trl_sft(r), "") << json::dump(r);
  EXPECT_EQ(json::get_string(with[0], "source"), "teacher_retry");
  EXPECT_EQ(json::get_int(with[0], "step_id"), 1);
  const json::Value& m = with[0]["messages"];
  EXPECT_EQ(json::get_string(m[m.Size() - 2], "content"),
            "Summarise a.txt\n\nGuidance from your teacher on earlier attempts:\n- read the file first")
      << "the guidance as the runtime showed it to the student";
  EXPECT_EQ(last_content(m), "The file says hello");
  EXPECT_EQ(json::get_string(with[1], "source"), "demonstration");
  EXPECT_EQ(json::get_string(with[1], "session_id"), "2");
  EXPECT_EQ(last_content(with[1]["messages"]), "a.txt says: hello");
  data::ExportOptions exclude;
  exclude.guidance = data::ExportOptions::Guidance::kExclude;
  auto without = rows(data::ExportFormat::kTrlSftCorrections, exclude);
  ASSERT_EQ(without.size(), 2u);
  const json::Value& w = without[0]["messages"];
  EXPECT_EQ(json::get_string(w[w.Size() - 2], "content"), "Summarise a.txt");
}

TEST_P(ExportCorrections, DpoPairsTheDemonstrationWithTheSessionsAnswer) {
  auto pairs = rows(data::ExportFormat::kTrlDpo);
  ASSERT_EQ(pairs.size(), 2u);
  for (const auto& r : pairs) EXPECT_EQ(atlas::testing::trainer_rules::trl_preference(r), "") << json::dump(r);
  EXPECT_EQ(json::get_string(pairs[0], "source"), "teacher_retry");
  EXPECT_EQ(last_content(pairs[0]["rejected"]), "I guess: hi");
  EXPECT_EQ(json::get_string(pairs[1], "source"), "demonstration");
  EXPECT_EQ(last_content(pairs[1]["chosen"]), "a.txt says: hello");
  EXPECT_EQ(last_content(pairs[1]["rejected"]), "The file says hello");
  EXPECT_TRUE(pairs[0]["prompt"] == pairs[0]["prompt"]);
  EXPECT_EQ(last_content(pairs[1]["prompt"]), "Summarise a.txt") << "the same prompt for both answers";
}

TEST_P(ExportCorrections, KtoRowsFlagEachCompletionDesirableOrNot) {
  auto kto = rows(data::ExportFormat::kTrlKto);
  // Session 1: rejected attempt (false), accepted retry (true), answer 0.9 (true);
  // session 2: demonstration (true), the answer it replaced (false); session 4: answer 0.6 (true).
  ASSERT_EQ(kto.size(), 6u);
  std::vector<std::pair<std::string, bool>> got;
  for (const auto& r : kto) {
    EXPECT_EQ(atlas::testing::trainer_rules::trl_unpaired_preference(r), "") << json::dump(r);
    got.emplace_back(json::get_string(r, "source") + ":" + last_content(r["completion"]), r["label"].GetBool());
  }
  EXPECT_EQ(got, (std::vector<std::pair<std::string, bool>>{{"teacher_retry:I guess: hi", false},
                                                            {"teacher_retry:The file says hello", true},
                                                            {"session:The file says hello", true},
                                                            {"demonstration:a.txt says: hello", true},
                                                            {"session:The file says hello", false},
                                                            {"session:The file says hello", true}}));
  data::ExportOptions strict;
  strict.label_threshold = 0.95;
  auto high = rows(data::ExportFormat::kTrlKto, strict);
  ASSERT_EQ(high.size(), 6u);
  EXPECT_FALSE(high[2]["label"].GetBool()) << "0.9 is below the 0.95 threshold";
}

TEST_P(ExportCorrections, PrmRowsLabelEveryStepFromItsStepReward) {
  data::ExportOptions o;
  o.label_threshold = 0.55;
  auto prm = rows(data::ExportFormat::kTrlPrm, o);
  ASSERT_EQ(prm.size(), 3u);  // sessions 1 (0.9), 2 (0.5), 4 (0.6): one judged step each
  std::vector<bool> labels;
  for (const auto& r : prm) {
    EXPECT_EQ(atlas::testing::trainer_rules::trl_stepwise_supervision(r), "") << json::dump(r);
    labels.push_back(r["labels"][0].GetBool());
    EXPECT_EQ(std::string(r["completions"][0].GetString()), "The file says hello");
  }
  EXPECT_EQ(labels, (std::vector<bool>{true, false, true}));
}

INSTANTIATE_TEST_SUITE_P(Backends, ExportCorrections, ::testing::Values("sqlite", "postgresql"), backend_name);

INSTANTIATE_TEST_SUITE_P(Backends, ExportRollouts, ::testing::Values("sqlite", "postgresql"), backend_name);

INSTANTIATE_TEST_SUITE_P(Backends, ExportConversation, ::testing::Values("sqlite", "postgresql"), backend_name);

INSTANTIATE_TEST_SUITE_P(Backends, ExportCapturedEpisode, ::testing::Values("sqlite", "postgresql"), backend_name);

INSTANTIATE_TEST_SUITE_P(Backends, ExportGolden, ::testing::Values("sqlite", "postgresql"), backend_name);

}  // namespace
}  // namespace atlas::test
