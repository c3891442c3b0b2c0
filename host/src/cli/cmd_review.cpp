// atlas-host review list|show|approve|quarantine|note|demonstrate — human review of stored sessions.
#include <boost/program_options.hpp>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/json.hpp"
#include "data/open.hpp"
#include "data/review.hpp"

namespace atlas::cli {
namespace {

void usage(std::ostream& os) {
  os << "Usage:\n"
        "  atlas-host review list [filters] [--limit N] [--after CURSOR] [--json]\n"
        "      Sessions newest first. Filters: --status S (running|succeeded|failed|interrupted),\n"
        "      --review-status S (pending|approved|quarantined), --learning-key K,\n"
        "      --min-reward X, --max-reward X, --since DATE, --until DATE (ISO 8601). Repeatable\n"
        "      --status/--review-status combine with OR; different filters with AND.\n"
        "  atlas-host review show ID [--events N] [--json]\n"
        "      Plan, steps with attempts and guidance, rewards, events and the review history.\n"
        "  atlas-host review approve ID... [--reason WHY] [--note TEXT] [--actor WHO]\n"
        "  atlas-host review quarantine ID... [--reason WHY] [--note TEXT] [--actor WHO]\n"
        "      One or more session ids. Each session gets its own review_events row; a session that\n"
        "      cannot be changed is reported and the others still are (exit 1 if any failed).\n"
        "  atlas-host review approve|quarantine --all-matching [filters] [--confirm N] [--dry-run]\n"
        "      Every session the `review list` filters select. Asks to type the number of sessions\n"
        "      on a terminal; elsewhere --confirm N must equal that number. --dry-run lists them\n"
        "      and changes nothing.\n"
        "  atlas-host review note ID TEXT [--actor WHO]\n"
        "  atlas-host review demonstrate ID (--answer TEXT | --answer-file FILE) [--reason WHY] [--actor WHO]\n"
        "      Stores a corrected answer for a finished session (a demonstration; the latest one\n"
        "      counts). Exports turn demonstrations into SFT rows and DPO pairs.\n"
        "      Every change is recorded in review_events with who (--actor, default $USER),\n"
        "      when, and why (--reason).\n\n"
        "Common options: -c/--config FILE, --database-url URL, --plugin-dir DIR.\n";
}

bool use_color() { return ::isatty(1) && !std::getenv("NO_COLOR"); }

bool has_filters(const po::variables_map& vm) {
  for (const char* f : {"status", "review-status", "learning-key", "min-reward", "max-reward", "since", "until"})
    if (vm.count(f)) return true;
  return false;
}

data::ReviewListFilters filters_from(const po::variables_map& vm) {
  data::ReviewListFilters f;
  f.statuses = session_status_values(vm, "status");
  f.review_statuses = review_status_values(vm, "review-status");
  if (vm.count("learning-key")) f.learning_key = vm["learning-key"].as<std::string>();
  if (vm.count("min-reward")) f.min_reward = vm["min-reward"].as<double>();
  if (vm.count("max-reward")) f.max_reward = vm["max-reward"].as<double>();
  if (vm.count("since")) f.since = vm["since"].as<std::string>();
  if (vm.count("until")) f.until = vm["until"].as<std::string>();
  return f;
}

std::string session_id_arg(const std::string& id) {
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("session id '" + id + "' is not a number (see `review list`)");
  return id;
}

// The bulk selection is confirmed by its size: typed on a terminal, or --confirm N.
bool confirmed(const po::variables_map& vm, const std::string& action, size_t count) {
  if (vm.count("confirm")) {
    if (vm["confirm"].as<long long>() == static_cast<long long>(count)) return true;
    std::cerr << "atlas-host review " << action << ": " << count << " session(s) match, not "
              << vm["confirm"].as<long long>() << "; nothing was changed (check with --dry-run)\n";
    return false;
  }
  if (!::isatty(0)) {
    std::cerr << "atlas-host review " << action << ": " << count << " session(s) match; re-run with --confirm " << count
              << " to " << action << " them (or --dry-run to list them). Nothing was changed.\n";
    return false;
  }
  std::cerr << count << " session(s) match. Type " << count << " to " << action << " them: " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  if (answer == std::to_string(count)) return true;
  std::cerr << "Not confirmed; nothing was changed.\n";
  return false;
}

// The corrected answer of `review demonstrate`: --answer TEXT or --answer-file FILE ("-" = stdin).
std::string demonstration_answer(const po::variables_map& vm) {
  if (vm.count("answer") == vm.count("answer-file"))
    throw UsageError("'review demonstrate ID' needs the corrected answer: --answer TEXT or --answer-file FILE");
  std::string answer;
  if (vm.count("answer")) {
    answer = vm["answer"].as<std::string>();
  } else {
    const std::string path = vm["answer-file"].as<std::string>();
    std::ostringstream buf;
    if (path == "-") {
      buf << std::cin.rdbuf();
    } else {
      std::ifstream in(path, std::ios::binary);
      if (!in) throw UsageError("--answer-file " + path + ": cannot be read (" + std::strerror(errno) + ")");
      buf << in.rdbuf();
    }
    answer = buf.str();
  }
  if (answer.find_first_not_of(" \t\r\n") == std::string::npos)
    throw UsageError("the corrected answer is empty; give the text a trainer should learn from");
  return answer;
}

}  // namespace

int run_review(const Args& args) {
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")(
      "status", po::value<std::vector<std::string>>(), "")("review-status", po::value<std::vector<std::string>>(), "")(
      "learning-key", po::value<std::string>(), "")("min-reward", po::value<double>(), "")(
      "max-reward", po::value<double>(), "")("since", po::value<std::string>(), "")("until", po::value<std::string>(), "")(
      "limit", po::value<int>(), "")("after", po::value<std::string>(), "")("events", po::value<int>(), "")(
      "reason", po::value<std::string>(), "")("note", po::value<std::string>(), "")("actor", po::value<std::string>(), "")("answer", po::value<std::string>(), "")(
      "answer-file", po::value<std::string>(), "")(
      "all-matching", "")("confirm", po::value<long long>(), "")("dry-run", "")(
      "positional", po::value<std::vector<std::string>>(), "");
  add_store_options(desc);
  po::positional_options_description pos;
  pos.add("positional", -1);
  po::variables_map vm = parse_options(args, desc, &pos);
  if (vm.count("help")) {
    usage(std::cout);
    return kExitOk;
  }
  std::vector<std::string> positional;
  if (vm.count("positional")) positional = vm["positional"].as<std::vector<std::string>>();
  if (positional.empty()) throw UsageError("missing action: list, show, approve, quarantine, note or demonstrate");
  std::string action = positional[0];
  bool as_json = vm.count("json") != 0;
  if (action != "list" && action != "show" && action != "approve" && action != "quarantine" && action != "note" &&
      action != "demonstrate")
    throw UsageError("unknown action '" + action + "' (list|show|approve|quarantine|note|demonstrate)");
  if (action != "demonstrate" && (vm.count("answer") || vm.count("answer-file")))
    throw UsageError("--answer and --answer-file apply to 'review demonstrate' only");
  const bool bulk_action = action == "approve" || action == "quarantine";
  const bool all_matching = vm.count("all-matching") != 0;
  if (!bulk_action && (all_matching || vm.count("confirm") || vm.count("dry-run")))
    throw UsageError("--all-matching, --confirm and --dry-run apply to approve and quarantine only");
  if (bulk_action && all_matching && positional.size() > 1)
    throw UsageError("give session ids or --all-matching with filters, not both");
  if (bulk_action && !all_matching && has_filters(vm))
    throw UsageError("filters select sessions only with --all-matching (e.g. review " + action +
                     " --all-matching --review-status pending)");
  if (bulk_action && !all_matching && vm.count("confirm"))
    throw UsageError("--confirm N confirms an --all-matching selection");
  std::vector<std::string> ids;
  if (action != "list" && !all_matching) {
    if (positional.size() < 2) throw UsageError("'review " + action + "' needs a session id (see `review list`)");
    if (action == "show" || action == "note" || action == "demonstrate") {
      ids.push_back(session_id_arg(positional[1]));
      if (action != "note" && positional.size() > 2)
        throw UsageError("'review " + action + "' takes one session id; got " + std::to_string(positional.size() - 1));
    } else {
      for (size_t i = 1; i < positional.size(); ++i) ids.push_back(session_id_arg(positional[i]));
    }
  }
  std::string id = ids.empty() ? "" : ids.front();
  std::string note_text = vm.count("note") ? vm["note"].as<std::string>() : "";
  if (action == "note") {
    if (positional.size() >= 3) note_text = positional[2];
    if (positional.size() > 3) throw UsageError("'review note ID TEXT' takes one text; quote it");
    if (note_text.empty()) throw UsageError("'review note ID TEXT' needs the note text");
  }

  std::string answer;
  if (action == "demonstrate") answer = demonstration_answer(vm);

  data::OpenRequest req = store_request(vm);
  req.read_only = true;  // every action works on stored sessions: never create an empty database
  auto opened = data::open_store(req);
  if (!opened.is_ok()) {
    std::cerr << "atlas-host review: " << opened.status().message() << "\n";
    return kExitFailure;
  }
  data::Store& store = *opened->store;
  std::string actor = vm.count("actor") ? vm["actor"].as<std::string>() : data::default_actor();

  if (action == "list") {
    data::ReviewListFilters f = filters_from(vm);
    if (vm.count("limit")) f.limit = vm["limit"].as<int>();
    if (f.limit < 1) throw UsageError("--limit must be at least 1");
    if (vm.count("after")) f.after = vm["after"].as<std::string>();
    auto r = store.execute("query_sessions", data::review_filters_json(f));
    if (!r.is_ok()) {
      std::cerr << "atlas-host review list: " << r.status().message() << "\n";
      return kExitFailure;
    }
    if (as_json) {
      std::cout << *r << "\n";
    } else {
      auto d = json::parse(*r);
      std::cout << data::render_session_list(*d, use_color());
    }
    return kExitOk;
  }
  if (action == "show") {
    auto r = store.execute("read_session", "{\"session_id\":" + json::quote(id) + "}");
    if (!r.is_ok()) {
      std::cerr << "atlas-host review show: " << r.status().message() << "\n";
      return kExitFailure;
    }
    if (as_json) {
      std::cout << *r << "\n";
    } else {
      auto d = json::parse(*r);
      size_t events = vm.count("events") ? static_cast<size_t>(std::max(0, vm["events"].as<int>())) : 50;
      std::cout << data::render_session(*d, use_color(), events);
    }
    return kExitOk;
  }
  if (action == "note") {
    Status s = data::add_review_note(store, id, note_text, actor);
    if (!s.is_ok()) {
      std::cerr << "atlas-host review note: " << s.message() << "\n";
      return kExitFailure;
    }
    if (as_json) {
      std::cout << "{\"session_id\":" << json::quote(id) << ",\"note\":" << json::quote(note_text) << "}\n";
    } else {
      std::cout << "Note added to session " << id << ".\n";
    }
    return kExitOk;
  }

  if (action == "demonstrate") {
    std::string reason = vm.count("reason") ? vm["reason"].as<std::string>() : "";
    Status s = data::add_demonstration(store, id, answer, actor, reason);
    if (!s.is_ok()) {
      std::cerr << "atlas-host review demonstrate: " << s.message() << "\n";
      return kExitFailure;
    }
    if (as_json) {
      std::cout << "{\"session_id\":" << json::quote(id) << ",\"demonstration_bytes\":" << answer.size() << "}\n";
    } else {
      std::cout << "Demonstration stored for session " << id << " (" << answer.size() << " bytes).\n";
    }
    return kExitOk;
  }

  const ReviewStatus decision = action == "approve" ? ReviewStatus::kApproved : ReviewStatus::kQuarantined;
  const std::string status(status_name(decision));
  if (all_matching) {
    auto matching = data::matching_sessions(store, filters_from(vm));
    if (!matching.is_ok()) {
      std::cerr << "atlas-host review " << action << ": " << matching.status().message() << "\n";
      return kExitFailure;
    }
    for (const auto& s : matching->GetArray()) ids.push_back(json::get_string(s, "session_id"));
    if (vm.count("dry-run")) {
      if (as_json) {
        std::cout << "{\"dry_run\":true,\"review_status\":" << json::quote(status) << ",\"count\":" << ids.size()
                  << ",\"sessions\":" << json::dump(*matching) << "}\n";
      } else {
        json::Document page(rapidjson::kObjectType);
        json::set(page, "sessions", json::Value(*matching, page.GetAllocator()), page.GetAllocator());
        std::cout << data::render_session_list(page, use_color()) << "Dry run: " << ids.size() << " session(s) would be "
                  << status << "; nothing was changed.\n";
      }
      return kExitOk;
    }
    if (ids.empty()) {
      std::cerr << "atlas-host review " << action << ": no session matches the filters; nothing was changed\n";
      return kExitFailure;
    }
    if (!confirmed(vm, action, ids.size())) return kExitFailure;
  } else if (vm.count("dry-run")) {
    std::cout << "Dry run: " << ids.size() << " session(s) would be " << status << "; nothing was changed.\n";
    return kExitOk;
  }

  std::string reason = vm.count("reason") ? vm["reason"].as<std::string>() : "";
  auto changes = data::set_review_many(store, ids, decision, actor, reason, note_text);
  size_t failed = 0;
  const bool json_array = all_matching || changes.size() > 1;  // one id keeps the one-object reply
  if (as_json && json_array) std::cout << "[";
  for (size_t i = 0; i < changes.size(); ++i) {
    const auto& c = changes[i];
    if (!c.error.empty()) ++failed;
    if (as_json) {
      std::cout << (i ? "," : "") << "{\"session_id\":" << json::quote(c.session_id);
      if (c.error.empty()) std::cout << ",\"previous\":" << json::quote(c.previous) << ",\"review_status\":" << json::quote(status);
      else std::cout << ",\"error\":" << json::quote(c.error);
      std::cout << "}";
    } else if (c.error.empty()) {
      std::cout << "Session " << c.session_id << " marked as " << status << " (was " << c.previous << ").\n";
    } else {
      std::cerr << "atlas-host review " << action << ": session " << c.session_id << ": " << c.error << "\n";
    }
  }
  if (as_json) std::cout << (json_array ? "]\n" : "\n");
  if (failed > 0) {
    std::cerr << "atlas-host review " << action << ": " << changes.size() - failed << " of " << changes.size()
              << " session(s) " << status << "; " << failed << " could not be changed (see above)\n";
    return kExitFailure;
  }
  if (!as_json && changes.size() > 1) std::cout << changes.size() << " session(s) " << status << ".\n";
  return kExitOk;
}

}  // namespace atlas::cli
