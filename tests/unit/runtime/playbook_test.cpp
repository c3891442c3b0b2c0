#include <gtest/gtest.h>

#include "runtime/playbook.hpp"

namespace atlas::runtime {
namespace {

json::Document parse(const char* t) {
  json::Document d;
  d.Parse(t);
  return d;
}

TEST(Playbook, EntryIdMatchesAtlasTestVector) {
  // Atlas's test vector (docs/atlas-compatibility.md)
  auto e = parse(R"({"audience":"student","cue":{"type":"keyword","pattern":"auth"},
                    "action":{"imperative":"Check auth"},"scope":{"constraints":"x"}})");
  EXPECT_EQ(derive_entry_id(e), "playbook-entry-b2db5fc492ad");
}

TEST(Playbook, BlockIsDelimitedVersionedAndTrimmed) {
  std::string b = playbook_block("student", "  be precise  ", 3, "2026-01-01T00:00:00Z", 4000);
  EXPECT_EQ(b, ">>> Student Playbook >>>\nLast updated: 2026-01-01T00:00:00Z | Version: 3\nbe precise\n>>> End Student Playbook >>>");
  std::string long_text(500, 'a');
  std::string t = playbook_block("teacher", long_text, 0, "", 100);
  EXPECT_NE(t.find(std::string(97, 'a') + "..."), std::string::npos);
  EXPECT_EQ(t.find(std::string(98, 'a')), std::string::npos);
  EXPECT_EQ(playbook_block("student", "   ", 1, "", 100), "");
}

TEST(Playbook, GatesRejectOnlyTheBadCandidate) {
  config::LearningConfig cfg;
  auto syn = parse(R"({"student_pamphlet":"new text","playbook_entries":[
     {"audience":"student","cue":{"type":"keyword","pattern":"sql"},"action":{"imperative":"Use bound parameters"},
      "expected_effect":"no injection","scope":{"category":"reinforcement","constraints":"db code"}},
     {"audience":"student","cue":{"type":"regex","pattern":"([unclosed"},"action":{"imperative":"Do it"}},
     {"audience":"student","cue":{"type":"keyword","pattern":"x"},"action":{"imperative":""}}]})");
  MergeReport report;
  LearningSnapshot base{"old", "", R"({"playbook_entries":[{"id":"kept-from-another-session","audience":"student"}]})"};
  LearningSnapshot out = merge_synthesis(base, syn, cfg, {}, "12", &report);
  EXPECT_EQ(report.accepted, 1);
  EXPECT_EQ(report.rejected, 2);
  EXPECT_EQ(out.student_learning, "new text");
  EXPECT_EQ(playbook_entry_count(out.metadata_json), 2u);  // the other session's entry survives
  EXPECT_NE(out.metadata_json.find("kept-from-another-session"), std::string::npos);
  EXPECT_NE(out.metadata_json.find("cue_gate:invalid cue pattern"), std::string::npos);
}

TEST(Playbook, ActionabilityNeedsAKnownHandleWhenTheAgentHasTools) {
  config::LearningConfig cfg;
  json::Document d;
  json::Value e;
  normalise_entry(parse(R"({"cue":{"type":"keyword","pattern":"file"},"action":{"imperative":"Read it","tool":"read_file"}})"),
                  cfg, e, d.GetAllocator());
  EXPECT_FALSE(evaluate_entry(e, cfg, {"list_files"}).actionability);
  EXPECT_TRUE(evaluate_entry(e, cfg, {"READ_FILE"}).actionability);
  EXPECT_TRUE(evaluate_entry(e, cfg, {}).actionability);  // tool-less agents need no handle
}

TEST(Playbook, ConcisionAllowsTheOverflowMargin) {
  config::LearningConfig cfg;
  cfg.gates.max_text_length = 100;
  cfg.gates.allow_length_overflow_margin = 20;
  json::Document d;
  json::Value e;
  // imperative 110 characters + pattern "x": 111, inside 100 + 20.
  std::string entry = R"({"cue":{"type":"keyword","pattern":"x"},"action":{"imperative":")" + std::string(110, 'a') + "\"}}";
  normalise_entry(parse(entry.c_str()), cfg, e, d.GetAllocator());
  auto concision = [&](const config::LearningConfig& c) {
    auto rubric = parse(evaluate_entry(e, c, {}).rubric_json.c_str());
    return rubric["scores"]["concision"].GetDouble();
  };
  EXPECT_DOUBLE_EQ(concision(cfg), 1.0);
  cfg.gates.allow_length_overflow_margin = 0;
  EXPECT_NEAR(concision(cfg), 1.0 - 11.0 / 100.0, 1e-9);
}

TEST(Playbook, GeneralityFlagsDatesTicketsAndFiles) {
  config::LearningConfig cfg;
  cfg.gates.enforce_generality = true;
  json::Document d;
  json::Value e;
  normalise_entry(parse(R"({"cue":{"type":"keyword","pattern":"ticket 4521"},"action":{"imperative":"See report.txt from 2024-05-01"}})"),
                  cfg, e, d.GetAllocator());
  GateResult g = evaluate_entry(e, cfg, {});
  EXPECT_FALSE(g.generality);
  std::string all;
  for (const auto& r : g.failure_reasons) all += r + ";";
  EXPECT_NE(all.find("contains_date"), std::string::npos);
  EXPECT_NE(all.find("contains_incident_reference"), std::string::npos);
  EXPECT_NE(all.find("contains_specific_file_path"), std::string::npos);
}

}  // namespace
}  // namespace atlas::runtime
