// atlas-host tokens check — re-tokenises the stored prompts of token-exact student calls with
// the model server's /tokenize and reports drift (docs/llm-model.md, "Checking for drift").
#include <boost/program_options.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/json.hpp"
#include "data/open.hpp"
#include "llm/tokenize.hpp"
#include "runtime/token_check.hpp"

namespace atlas::cli {
namespace {

void usage(std::ostream& os) {
  os << "Usage:\n"
        "  atlas-host tokens check [--tokenize-url URL] [--model NAME] [--session-id ID]... [--limit N] [--json]\n\n"
        "For every stored student call captured token-exact (capture_tokens = true), sends its prompt\n"
        "(messages and tools, as sent) to the server's tokenizer and compares the ids with the stored\n"
        "prompt ids. Prints the number of steps whose ids differ and, per call, the first differing\n"
        "position. Exit 0: no drift; 1: drift, or nothing could be checked, or the tokenizer failed.\n"
        "  --tokenize-url URL   default: the student's api_base without /v1, plus /tokenize (vLLM)\n"
        "  --model NAME         the model name to send (default: the one each call recorded)\n"
        "Common options: -c/--config FILE, --database-url URL, --plugin-dir DIR.\n";
}

}  // namespace

int run_tokens(const Args& args) {
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("tokenize-url", po::value<std::string>(), "")(
      "model", po::value<std::string>(), "")("session-id", po::value<std::vector<std::string>>(), "")(
      "limit", po::value<int64_t>(), "")("timeout", po::value<double>(), "")("words",
                                                                             po::value<std::vector<std::string>>(), "");
  add_store_options(desc);
  po::positional_options_description pos;
  pos.add("words", -1);
  po::variables_map vm = parse_options(args, desc, &pos);
  std::vector<std::string> words = values(vm, "words");
  if (vm.count("help")) {
    usage(std::cout);
    return kExitOk;
  }
  if (words.size() != 1 || words[0] != "check") {
    usage(std::cerr);
    throw UsageError(words.empty() ? "tokens needs a command: check" : "unknown tokens command \"" + words[0] + "\"");
  }
  data::OpenRequest req = store_request(vm);
  req.read_only = true;
  auto opened = data::open_store(req);
  if (!opened.is_ok()) {
    std::cerr << "atlas-host tokens: " << opened.status().message() << "\n";
    return kExitFailure;
  }
  runtime::TokenCheckOptions o;
  if (vm.count("tokenize-url")) {
    o.tokenize_url = vm["tokenize-url"].as<std::string>();
  } else if (!opened->config.student.llm.api_base.empty()) {
    o.tokenize_url = llm::tokenize_url_for(opened->config.student.llm.api_base);
  } else {
    throw UsageError(
        "no tokenizer to ask: the student model has no api_base; give --tokenize-url URL (vLLM: "
        "http://HOST:PORT/tokenize)");
  }
  if (vm.count("model")) o.model = vm["model"].as<std::string>();
  o.session_ids = values(vm, "session-id");
  if (vm.count("limit")) {
    o.limit = vm["limit"].as<int64_t>();
    if (o.limit < 1) throw UsageError("--limit must be at least 1");
  }
  if (vm.count("timeout")) o.timeout_seconds = vm["timeout"].as<double>();
  auto report = runtime::check_token_drift(*opened->store, o);
  if (!report.is_ok()) {
    std::cerr << "atlas-host tokens check: " << report.status().message() << "\n";
    return kExitFailure;
  }
  const auto& r = *report;
  if (vm.count("json")) {
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    json::set(d, "tokenize_url", o.tokenize_url, a);
    json::set(d, "sessions", static_cast<int64_t>(r.sessions), a);
    json::set(d, "calls_checked", static_cast<int64_t>(r.calls_checked), a);
    json::set(d, "calls_text_only", static_cast<int64_t>(r.calls_text_only), a);
    json::set(d, "steps_checked", static_cast<int64_t>(r.steps_checked), a);
    json::set(d, "steps_drifted", static_cast<int64_t>(r.steps_drifted), a);
    json::Value drifts(rapidjson::kArrayType);
    for (const auto& x : r.drifts) {
      json::Value o2(rapidjson::kObjectType);
      json::set(o2, "session_id", x.session_id, a);
      json::set(o2, "step_id", x.step_id, a);
      json::set(o2, "call_index", x.call_index, a);
      json::set(o2, "first_difference", static_cast<int64_t>(x.first_difference), a);
      json::set(o2, "stored_count", static_cast<int64_t>(x.stored_count), a);
      json::set(o2, "tokenizer_count", static_cast<int64_t>(x.tokenizer_count), a);
      drifts.PushBack(o2, a);
    }
    json::set(d, "drifts", std::move(drifts), a);
    std::cout << json::dump(d) << "\n";
  } else {
    std::cout << "Checked " << r.calls_checked << " token-exact call" << (r.calls_checked == 1 ? "" : "s") << " in "
              << r.steps_checked << " step" << (r.steps_checked == 1 ? "" : "s") << " of " << r.sessions << " session"
              << (r.sessions == 1 ? "" : "s") << " against " << o.tokenize_url << "\n";
    if (r.calls_text_only > 0)
      std::cout << r.calls_text_only << " captured call" << (r.calls_text_only == 1 ? " was" : "s were")
                << " text-only (no ids to compare)\n";
    for (const auto& x : r.drifts)
      std::cout << "  drift: session " << x.session_id << ", step " << x.step_id << ", call " << x.call_index
                << ": first difference at token " << x.first_difference << " (stored " << x.stored_count
                << " ids, tokenizer " << x.tokenizer_count << ")\n";
    std::cout << r.steps_drifted << " of " << r.steps_checked << " steps drifted\n";
  }
  if (r.calls_checked == 0) {
    std::cerr << "atlas-host tokens check: no token-exact call to check (set capture_tokens = true on the "
                 "student's model block of a local server; docs/llm-model.md, \"Token-level capture\")\n";
    return kExitFailure;
  }
  return r.drifted() ? kExitFailure : kExitOk;
}

}  // namespace atlas::cli
