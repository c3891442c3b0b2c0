// atlas-host export — stream stored sessions into a training file.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/json.hpp"
#include "common/json_schema.hpp"
#include "data/export.hpp"
#include "data/export_schema.hpp"
#include "data/open.hpp"
#include "data/session_cost.hpp"

namespace atlas::cli {
namespace {

void usage(std::ostream& os) {
  os << "Usage:\n"
        "  atlas-host export --format F --output FILE [filters] [--json]\n"
        "  (--output - writes the records to standard output; the summary then goes to stderr)\n\n"
        "Formats: atlas-jsonl (Atlas AtlasSessionTrace lines), trl-sft, trl-grpo, trl-dpo, openai-ft,\n"
        "trl-sft-corrections (accepted retries and demonstrations), trl-kto, trl-prm,\n"
        "tokens-jsonl (token ids and logprobs of local-model calls for RL trainers)\n"
        "(docs/export-formats.md). Only approved sessions by default (the [review] policy and the\n"
        "ATLAS_REVIEW_* environment variables apply), succeeded sessions only (failed ones with\n"
        "--include-failed); running and interrupted sessions never.\n\n"
        "Filters (applied before --limit):\n"
        "  --include-status S       also export this review status (repeatable)\n"
        "  --include-all-statuses   every review status\n"
        "  --status S               session status: succeeded|failed (repeatable)\n"
        "  --include-failed         also export failed sessions (same as --status succeeded --status failed)\n"
        "  --min-reward X           reward_stats.score >= X\n"
        "  --learning-key K\n"
        "  --created-after DATE     ISO 8601 date or timestamp\n"
        "  --session-id ID          only these sessions (repeatable)\n"
        "  --limit N                at most N sessions\n"
        "Rows: every row is checked against the format's JSON Schema before it is written; a row that\n"
        "does not match stops the export (exit 1) and no file is left behind.\n"
        "  --schema FILE            also check every row against this JSON Schema (draft-04), e.g. your\n"
        "                           trainer's own column requirements\n"
        "  --print-schema           print the format's schema (with --format) and exit\n"
        "Conversation (trl-sft, trl-dpo, trl-grpo, openai-ft): the student's system prompt, as sent, and\n"
        "every tool it was offered with its schema.\n"
        "  --strip-playbook         remove the injected playbook (\">>> Student Playbook >>>\" block)\n"
        "                           from the system message; kept by default\n"
        "  --conversation per-session|per-step  trl-sft, openai-ft: a session of several steps as one\n"
        "                           conversation (default; a one-step session exports as before) or\n"
        "                           one row per step, its prompt as the student got it\n"
        "Corrections (trl-sft-corrections, trl-kto, trl-dpo also pairs a demonstration with the answer)\n"
        "and multi-step trl-sft / openai-ft conversations:\n"
        "  --guidance context|exclude  the teacher's guidance the student received: as context turns,\n"
        "                           where it saw it (default), or left out; never an assistant turn\n"
        "  --label-threshold X      trl-kto / trl-prm: a reward >= X is desirable / a correct step (0.5)\n"
        "trl-grpo: one row per rollout group (run --rollouts), else per learning key and task.\n"
        "  --drop-zero-variance     leave out groups whose rewards are all equal\n"
        "Lineage (session, step, judges, reviewer, cost, content hash) is in session_metadata.lineage\n"
        "for atlas-jsonl and in FILE.lineage.jsonl (one line per row) for the other formats.\n"
        "Common options: -c/--config FILE, --database-url URL, --plugin-dir DIR, --quiet.\n"
        "Exit 1 with a message when no session matches.\n";
}

// Why --conversation does not apply to a format: what its rows already are.
const char* conversation_shape(data::ExportFormat format) {
  switch (format) {
    case data::ExportFormat::kAtlasJsonl:
      return "rows are whole session traces with every step";
    case data::ExportFormat::kTrlSftCorrections:
    case data::ExportFormat::kTrlDpo:
    case data::ExportFormat::kTrlKto:
      return "rows are already one per corrected step, its prompt as the student got it";
    case data::ExportFormat::kTrlPrm:
      return "rows list every step's output with its label";
    case data::ExportFormat::kTrlGrpo:
      return "rows are one prompt per group of sessions";
    case data::ExportFormat::kTokensJsonl:
      return "rows are already one per model call";
    case data::ExportFormat::kTrlSft:
    case data::ExportFormat::kOpenAiFt:
      break;
  }
  return "";
}

std::string json_usd(std::optional<double> usd) {
  return usd ? json::dump(json::Value(*usd)) : "null";
}

}  // namespace

int run_export(const Args& args) {
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("quiet,q", "")("format,f", po::value<std::string>(), "")(
      "output,o", po::value<std::string>(), "")("include-status", po::value<std::vector<std::string>>(), "")(
      "include-all-statuses", "")("status", po::value<std::vector<std::string>>(), "")("include-failed", "")(
      "min-reward", po::value<double>(), "")("learning-key", po::value<std::string>(), "")(
      "created-after", po::value<std::string>(), "")("session-id", po::value<std::vector<std::string>>(), "")(
      "limit", po::value<int64_t>(), "")("schema", po::value<std::string>(), "")("print-schema", "")(
      "strip-playbook", "")("drop-zero-variance", "")("guidance", po::value<std::string>(), "")(
      "label-threshold", po::value<double>(), "")("conversation", po::value<std::string>(), "");
  add_store_options(desc);
  po::variables_map vm = parse_options(args, desc);
  if (vm.count("help")) {
    usage(std::cout);
    return kExitOk;
  }
  if (!vm.count("format"))
    throw UsageError(
        "--format is required (atlas-jsonl|trl-sft|trl-grpo|trl-dpo|openai-ft|trl-sft-corrections|trl-kto|trl-prm|"
        "tokens-jsonl)");
  auto format = data::parse_export_format(vm["format"].as<std::string>());
  if (!format.is_ok()) throw UsageError(format.status().message());
  if (vm.count("print-schema")) {
    std::cout << data::export_schema_text(*format) << "\n";
    return kExitOk;
  }
  if (!vm.count("output")) throw UsageError("--output FILE is required");
  // Checked before the store is opened: a usage error, whatever the database.
  data::ExportOptions::Conversation conversation = data::ExportOptions::Conversation::kPerSession;
  if (vm.count("conversation")) {
    const std::string c = vm["conversation"].as<std::string>();
    if (c == "per-session")
      conversation = data::ExportOptions::Conversation::kPerSession;
    else if (c == "per-step")
      conversation = data::ExportOptions::Conversation::kPerStep;
    else
      throw UsageError("--conversation " + c +
                       ": use per-session (one conversation per session) or per-step (one row per step)");
    if (*format != data::ExportFormat::kTrlSft && *format != data::ExportFormat::kOpenAiFt)
      throw UsageError("--conversation applies to conversation rows: use it with --format trl-sft or openai-ft (" +
                       std::string(data::export_format_name(*format)) + " " + conversation_shape(*format) + ")");
  }
  std::string extra_schema;
  if (vm.count("schema")) {
    const std::string path = vm["schema"].as<std::string>();
    std::ifstream in(path);
    if (!in) {
      std::cerr << "atlas-host export: cannot read the schema file " << path << "\n";
      return kExitFailure;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto compiled = json::Schema::compile(text.str(), "the schema " + path);
    if (!compiled.is_ok()) {
      std::cerr << "atlas-host export: " << compiled.status().message() << "\n";
      return kExitFailure;
    }
    extra_schema = text.str();
  }
  std::vector<SessionStatus> statuses = session_status_values(vm, "status");
  for (SessionStatus s : statuses) {
    if (s != SessionStatus::kSucceeded && s != SessionStatus::kFailed)
      throw UsageError("--status " + std::string(status_name(s)) +
                       ": only succeeded or failed sessions can be exported");
  }
  const std::vector<ReviewStatus> include = review_status_values(vm, "include-status");
  data::OpenRequest req = store_request(vm);
  req.read_only = true;
  auto opened = data::open_store(req);
  if (!opened.is_ok()) {
    std::cerr << "atlas-host export: " << opened.status().message() << "\n";
    return kExitFailure;
  }
  data::ExportOptions eo;
  eo.format = *format;
  eo.output = vm["output"].as<std::string>();
  eo.strip_playbook = vm.count("strip-playbook") != 0;
  eo.conversation = conversation;
  eo.drop_zero_variance = vm.count("drop-zero-variance") != 0;
  if (eo.drop_zero_variance && eo.format != data::ExportFormat::kTrlGrpo)
    throw UsageError("--drop-zero-variance applies to groups: use it with --format trl-grpo");
  if (vm.count("guidance")) {
    const std::string g = vm["guidance"].as<std::string>();
    if (g == "context")
      eo.guidance = data::ExportOptions::Guidance::kContext;
    else if (g == "exclude")
      eo.guidance = data::ExportOptions::Guidance::kExclude;
    else
      throw UsageError("--guidance " + g + ": use context (the guidance as the student saw it) or exclude");
  }
  if (vm.count("label-threshold")) {
    if (eo.format != data::ExportFormat::kTrlKto && eo.format != data::ExportFormat::kTrlPrm)
      throw UsageError("--label-threshold sets the labels of trl-kto and trl-prm rows; this format has none");
    eo.label_threshold = vm["label-threshold"].as<double>();
    if (eo.label_threshold < 0.0 || eo.label_threshold > 1.0)
      throw UsageError("--label-threshold must be between 0 and 1 (rewards are 0..1)");
  }
  if (vm.count("schema")) {
    eo.extra_schema_json = extra_schema;
    eo.extra_schema_name = "the schema " + vm["schema"].as<std::string>();
  }
  eo.filters.review_statuses = data::resolve_review_filter(opened->config_loaded ? &opened->config.review : nullptr,
                                                           include, vm.count("include-all-statuses") != 0);
  eo.filters.statuses = statuses;
  if (vm.count("include-failed")) {
    if (eo.filters.statuses.empty()) eo.filters.statuses.push_back(SessionStatus::kSucceeded);
    eo.filters.statuses.push_back(SessionStatus::kFailed);
  }
  if (vm.count("min-reward")) eo.filters.min_reward = vm["min-reward"].as<double>();
  if (vm.count("learning-key")) eo.filters.learning_key = vm["learning-key"].as<std::string>();
  if (vm.count("created-after")) eo.filters.created_after = vm["created-after"].as<std::string>();
  if (vm.count("session-id")) eo.filters.session_ids = vm["session-id"].as<std::vector<std::string>>();
  if (vm.count("limit")) {
    if (vm["limit"].as<int64_t>() < 1) throw UsageError("--limit must be at least 1");
    eo.filters.limit = vm["limit"].as<int64_t>();
  }
  bool quiet = vm.count("quiet") != 0;
  // With the records on stdout, everything else goes to stderr.
  std::ostream& summary_out = eo.output == "-" ? std::cerr : std::cout;
  if (!quiet && ::isatty(2)) {
    eo.progress = [](uint64_t done, uint64_t total) {
      const int width = 30;
      int filled = total ? static_cast<int>(width * done / total) : width;
      std::fprintf(stderr, "\rexport [%.*s%*s] %llu/%llu sessions", filled, "##############################",
                   width - filled, "", static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
      if (done == total) std::fprintf(stderr, "\n");
    };
  }
  auto r = data::export_sessions(*opened->store, eo);
  if (!r.is_ok()) {
    std::cerr << "atlas-host export: " << r.status().message() << "\n";
    return kExitFailure;
  }
  if (r->records == 0) {
    std::string statuses = "every review status";
    if (eo.filters.review_statuses) {
      statuses.clear();
      for (ReviewStatus s : *eo.filters.review_statuses)
        statuses += (statuses.empty() ? "" : ", ") + std::string(status_name(s));
    }
    std::cerr << "atlas-host export: no session matched (review status: " << statuses << "; " << r->sessions
              << " candidate session(s) produced no " << data::export_format_name(eo.format) << " record"
              << (r->groups_dropped ? "; " + std::to_string(r->groups_dropped) +
                                          " group(s) left out by --drop-zero-variance, all their rewards equal"
                                    : std::string())
              << "). Approve sessions with `atlas-host review approve ID`, add --include-status pending, "
                 "or set ATLAS_REVIEW_REQUIRE_APPROVAL=0.\n";
    return kExitFailure;
  }
  if (vm.count("json")) {
    summary_out << "{\"output\":" << json::quote(eo.output.string())
                << ",\"format\":" << json::quote(data::export_format_name(eo.format)) << ",\"sessions\":" << r->sessions
                << ",\"records\":" << r->records << ",\"steps\":" << r->steps << ",\"bytes\":" << r->bytes
                << ",\"sha256\":" << json::quote(r->sha256) << ",\"cost_usd\":" << json_usd(r->cost_usd)
                << ",\"cost_per_record_usd\":" << json_usd(r->cost_per_record_usd())
                << ",\"groups_dropped\":" << r->groups_dropped << "}\n";
  } else if (!quiet) {
    summary_out << "Exported " << r->sessions << " session(s) as " << r->records << " "
                << data::export_format_name(eo.format) << " record(s) (" << r->steps << " steps, " << r->bytes
                << " bytes) to " << (eo.output == "-" ? std::string("standard output") : eo.output.string())
                << "\nsha256 " << r->sha256 << "\n"
                << "cost " << data::format_usd(r->cost_usd) << ", per record "
                << data::format_usd(r->cost_per_record_usd());
    if (r->sessions_cost_unknown > 0)
      summary_out << " (" << r->sessions_cost_unknown
                  << " session(s) without a price or usage: docs/runtime.md, \"Cost\")";
    summary_out << "\n";
    if (r->groups_dropped > 0)
      summary_out << r->groups_dropped << " group(s) left out by --drop-zero-variance (all rewards equal)\n";
  }
  return kExitOk;
}

}  // namespace atlas::cli
