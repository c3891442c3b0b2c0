// atlas-host review list|show|approve|quarantine|note — human review of stored sessions.
#include <boost/program_options.hpp>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

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
        "  atlas-host review approve ID [--reason WHY] [--note TEXT] [--actor WHO]\n"
        "  atlas-host review quarantine ID [--reason WHY] [--note TEXT] [--actor WHO]\n"
        "  atlas-host review note ID TEXT [--actor WHO]\n"
        "      Every change is recorded in review_events with who (--actor, default $USER),\n"
        "      when, and why (--reason).\n\n"
        "Common options: -c/--config FILE, --database-url URL, --plugin-dir DIR.\n";
}

bool use_color() { return ::isatty(1) && !std::getenv("NO_COLOR"); }

}  // namespace

int run_review(const Args& args) {
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")(
      "status", po::value<std::vector<std::string>>(), "")("review-status", po::value<std::vector<std::string>>(), "")(
      "learning-key", po::value<std::string>(), "")("min-reward", po::value<double>(), "")(
      "max-reward", po::value<double>(), "")("since", po::value<std::string>(), "")("until", po::value<std::string>(), "")(
      "limit", po::value<int>(), "")("after", po::value<std::string>(), "")("events", po::value<int>(), "")(
      "reason", po::value<std::string>(), "")("note", po::value<std::string>(), "")("actor", po::value<std::string>(), "")(
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
  if (positional.empty()) throw UsageError("missing action: list, show, approve, quarantine or note");
  std::string action = positional[0];
  bool as_json = vm.count("json") != 0;
  auto need_id = [&]() -> std::string {
    if (positional.size() < 2) throw UsageError("'review " + action + "' needs a session id (see `review list`)");
    const std::string& id = positional[1];
    if (id.find_first_not_of("0123456789") != std::string::npos)
      throw UsageError("session id '" + id + "' is not a number");
    return id;
  };
  if (action != "list" && action != "show" && action != "approve" && action != "quarantine" && action != "note")
    throw UsageError("unknown action '" + action + "' (list|show|approve|quarantine|note)");
  std::string id = action == "list" ? "" : need_id();
  std::string note_text = vm.count("note") ? vm["note"].as<std::string>() : "";
  if (action == "note") {
    if (positional.size() >= 3) note_text = positional[2];
    if (note_text.empty()) throw UsageError("'review note ID TEXT' needs the note text");
  }

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
    data::ReviewListFilters f;
    if (vm.count("status")) f.statuses = vm["status"].as<std::vector<std::string>>();
    if (vm.count("review-status")) f.review_statuses = vm["review-status"].as<std::vector<std::string>>();
    if (vm.count("learning-key")) f.learning_key = vm["learning-key"].as<std::string>();
    if (vm.count("min-reward")) f.min_reward = vm["min-reward"].as<double>();
    if (vm.count("max-reward")) f.max_reward = vm["max-reward"].as<double>();
    if (vm.count("since")) f.since = vm["since"].as<std::string>();
    if (vm.count("until")) f.until = vm["until"].as<std::string>();
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
  std::string status = action == "approve" ? "approved" : "quarantined";
  std::string reason = vm.count("reason") ? vm["reason"].as<std::string>() : "";
  auto prev = data::set_review(store, id, status, actor, reason, note_text);
  if (!prev.is_ok()) {
    std::cerr << "atlas-host review " << action << ": " << prev.status().message() << "\n";
    return kExitFailure;
  }
  if (as_json) {
    std::cout << "{\"session_id\":" << json::quote(id) << ",\"previous\":" << json::quote(*prev)
              << ",\"review_status\":" << json::quote(status) << "}\n";
  } else {
    std::cout << "Session " << id << " marked as " << status << " (was " << *prev << ").\n";
  }
  return kExitOk;
}

}  // namespace atlas::cli
