#include "runtime/probe_eval.hpp"

#include <fstream>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "llm/llm.hpp"
#include "plugin/registry.hpp"
#include "plugin/registry_options.hpp"
#include "runtime/console.hpp"
#include "runtime/host_services.hpp"
#include "runtime/lane.hpp"
#include "runtime/learning_history.hpp"

namespace atlas::runtime {
namespace {
int lane_index(std::string_view m) { return m == "auto" ? 0 : m == "paired" ? 1 : m == "coach" ? 2 : -1; }
const char* kLanes[] = {"auto", "paired", "coach"};
}  // namespace

std::string ProbeEvalReport::to_text() const {
  std::string out = "probe: " + probe + "\ncases: " + std::to_string(cases.size()) + "\naccuracy: " +
                    console::fixed(accuracy() * 100.0, 1) + "% (" + std::to_string(correct) + "/" +
                    std::to_string(cases.size()) + ")\n\nconfusion matrix (rows: expected, columns: predicted)\n";
  std::vector<std::vector<std::string>> rows = {{"expected \\ predicted", "auto", "paired", "coach"}};
  for (int e = 0; e < 3; ++e)
    rows.push_back({kLanes[e], std::to_string(matrix[e][0]), std::to_string(matrix[e][1]), std::to_string(matrix[e][2])});
  out += console::table(rows);
  bool header = false;
  for (const auto& c : cases) {
    if (c.expected == c.predicted) continue;
    if (!header) out += "\nmisses:\n", header = true;
    out += "  line " + std::to_string(c.line) + ": expected " + c.expected + ", got " + c.predicted + " (" + c.source +
           (c.rationale.empty() ? "" : ": " + c.rationale) + ")\n";
  }
  return out;
}

std::string ProbeEvalReport::to_json() const {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("probe", json::str(probe, a), a);
  d.AddMember("cases", static_cast<int64_t>(cases.size()), a);
  d.AddMember("correct", correct, a);
  d.AddMember("accuracy", accuracy(), a);
  json::Value m(rapidjson::kObjectType);
  for (int e = 0; e < 3; ++e) {
    json::Value row(rapidjson::kObjectType);
    for (int p = 0; p < 3; ++p) row.AddMember(rapidjson::StringRef(kLanes[p]), matrix[e][p], a);
    m.AddMember(rapidjson::StringRef(kLanes[e]), row, a);
  }
  d.AddMember("confusion_matrix", m, a);
  json::Value list(rapidjson::kArrayType);
  for (const auto& c : cases) {
    json::Value o(rapidjson::kObjectType);
    o.AddMember("line", c.line, a);
    o.AddMember("expected", json::str(c.expected, a), a);
    o.AddMember("predicted", json::str(c.predicted, a), a);
    o.AddMember("source", json::str(c.source, a), a);
    list.PushBack(o, a);
  }
  d.AddMember("results", list, a);
  return json::dump(d);
}

std::optional<int64_t> newest_history_time(const json::Value& learning_history) {
  std::optional<int64_t> newest;
  const json::Value* entries = json::find(learning_history, "entries");
  if (!entries || !entries->IsArray()) return newest;
  for (const auto& e : entries->GetArray()) {
    for (const char* key : {"created_at", "completed_at"}) {
      const json::Value* v = json::find(e, key);
      if (!v || !v->IsString()) continue;
      auto t = clock::parse_iso8601_seconds(std::string_view(v->GetString(), v->GetStringLength()));
      if (t && (!newest || *t > *newest)) newest = t;
    }
  }
  return newest;
}

Result<ProbeEvalReport> run_probe_eval(const config::Config& config, const std::filesystem::path& dataset,
                                       const std::string& probe_override,
                                       const std::vector<std::filesystem::path>& plugin_dirs,
                                       std::optional<int64_t> as_of_unix) {
  std::ifstream in(dataset);
  if (!in) return not_found("cannot open dataset " + dataset.string());
  config::RoutingConfig routing = config.routing;
  routing.mode_override.reset();
  routing.enabled = true;
  if (!probe_override.empty()) routing.probe = probe_override;
  plugin::Registry registry;
  ATLAS_RETURN_IF_ERROR(registry.discover(plugin::registry_options(config, plugin_dirs)));
  registry.set_services(std::make_shared<RuntimeServices>(config, llm::default_client()));
  auto probe = registry.create_probe(routing.probe, config::merged_plugin_config(config, routing.probe, "{}"));
  if (!probe) return probe.status().with_context("[routing] probe \"" + routing.probe + "\"");

  ProbeEvalReport report;
  report.probe = routing.probe;
  std::string line;
  int n = 0;
  config::OrchestrationConfig orch;
  while (std::getline(in, line)) {
    ++n;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    auto doc = json::parse(line, dataset.string() + ":" + std::to_string(n));
    if (!doc) return doc.status();
    if (!doc->IsObject()) return invalid_argument(dataset.string() + ":" + std::to_string(n) + ": not a JSON object");
    std::string expected = json::get_string(*doc, "expected_mode");
    if (lane_index(expected) < 0)
      return invalid_argument(dataset.string() + ":" + std::to_string(n) +
                              ": \"expected_mode\" must be auto, paired or coach (got \"" + expected + "\")");
    json::Document history;
    if (const json::Value* h = json::find(*doc, "learning_history"); h && h->IsObject()) history.CopyFrom(*h, history.GetAllocator());
    else history.SetObject();
    ProbeFn fn = [&]() -> Result<ProbeAnswer> {
      json::Document req;
      req.SetObject();
      auto& a = req.GetAllocator();
      req.AddMember("task", json::str(json::get_string(*doc, "task"), a), a);
      req.AddMember("learning_history", json::Value(history, a), a);
      if (const json::Value* now = json::find(*doc, "now_unix"); now && now->IsNumber())
        req.AddMember("now_unix", json::Value(*now, a), a);
      else if (auto as_of = as_of_unix ? as_of_unix : newest_history_time(history))
        req.AddMember("now_unix", *as_of, a);
      plugin::CallContext ctx;
      ctx.deadline_unix_ms = 0;
      auto out = probe->probe(ctx, json::dump(req));
      if (!out) return out.status();
      return parse_probe_reply(*out);
    };
    LaneDecision d = decide_lane(orch, routing, history_count(history), fn);
    ProbeEvalCase c;
    c.line = n;
    c.expected = expected;
    c.predicted = std::string(config::lane_name(d.lane));
    c.source = d.source;
    if (d.probe) c.rationale = d.probe->rationale;
    else if (!d.probe_error.empty()) c.rationale = d.probe_error;
    report.matrix[lane_index(c.expected)][lane_index(c.predicted)]++;
    if (c.expected == c.predicted) ++report.correct;
    report.cases.push_back(std::move(c));
  }
  if (report.cases.empty()) return invalid_argument(dataset.string() + ": no records");
  return report;
}

}  // namespace atlas::runtime
