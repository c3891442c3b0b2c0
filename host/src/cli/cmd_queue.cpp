// atlas-host enqueue --config C --tasks F.jsonl [--rollouts N] [--priority P] [--max-attempts N]
// atlas-host queue status|retry|cancel
// The work queue (docs/scaling.md): tasks in the database, run by `atlas-host worker`.
#include <iostream>
#include <set>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/session_runner.hpp"
#include "common/json.hpp"
#include "common/secrets.hpp"
#include "data/open.hpp"
#include "data/work_queue.hpp"

namespace atlas::cli {
namespace {

std::shared_ptr<data::Store> open_queue_store(const po::variables_map& vm, std::string_view command, bool read_only) {
  data::OpenRequest req = store_request(vm);
  req.read_only = read_only;
  req.recover = false;
  auto opened = data::open_store(req);
  if (!opened.is_ok()) {
    std::cerr << command << ": " << opened.status().message() << "\n";
    return nullptr;
  }
  if (!opened->config.storage.active()) {
    std::cerr << command
              << ": storage is disabled in the configuration; the queue lives in the database "
                 "([storage] enabled = true, database_url = ...)\n";
    return nullptr;
  }
  return opened->store;
}

}  // namespace

int run_enqueue(const Args& args) {
  po::options_description opts("atlas-host enqueue --config FILE --tasks FILE.jsonl [options]");
  add_store_options(opts);
  opts.add_options()("help,h", "show this help")(
      "tasks", po::value<std::string>(),
      "JSONL task file (as `run --tasks`; an optional \"id\" per line is the task's idempotency key)")(
      "rollouts", po::value<int>()->default_value(1), "sessions per task (1-1000): one queued task each")(
      "priority", po::value<int>()->default_value(0), "higher runs first")(
      "max-attempts", po::value<int>()->default_value(3), "failed attempts before a task is dead-lettered (1-100)")(
      "json", "machine-readable output");
  po::variables_map vm = parse_options(args, opts);
  if (vm.count("help")) {
    std::cout
        << opts
        << "\nEach line is one task; a task without \"id\" gets one from its content, so enqueuing the same file\n"
           "twice queues nothing twice. Workers (`atlas-host worker`) run the tasks.\n";
    return kExitOk;
  }
  if (!vm.count("tasks")) throw UsageError("--tasks FILE.jsonl is required");
  const int rollouts = vm["rollouts"].as<int>();
  if (rollouts < 1 || rollouts > 1000) throw UsageError("--rollouts must be between 1 and 1000");
  const int max_attempts = vm["max-attempts"].as<int>();
  if (max_attempts < 1 || max_attempts > 100) throw UsageError("--max-attempts must be between 1 and 100");
  const int priority = vm["priority"].as<int>();
  const std::string path = vm["tasks"].as<std::string>();
  std::vector<TaskLine> lines;
  try {
    lines = read_tasks(path);
  } catch (const std::exception& e) {
    std::cerr << "atlas-host enqueue: " << e.what() << "\n";
    return kExitFailure;
  }
  // All or nothing: a file with a bad line queues nothing, so fixing it and enqueuing again is safe.
  size_t bad = 0;
  std::set<std::string> seen;
  for (auto& l : lines) {
    std::string why = !l.error.empty() ? l.error : l.id_error;
    if (why.empty() && !l.id.empty() && !seen.insert(l.id).second)
      why = path + ":" + std::to_string(l.line) + ": the id \"" + l.id + "\" is used by an earlier line";
    if (!why.empty()) {
      std::cerr << "atlas-host enqueue: " << secrets::redact(why) << "\n";
      ++bad;
    }
  }
  if (bad > 0) {
    std::cerr << "atlas-host enqueue: " << bad << " bad line(s) in " << path
              << "; nothing was queued (fix them and run again)\n";
    return kExitFailure;
  }
  auto store = open_queue_store(vm, "atlas-host enqueue", false);
  if (!store) return kExitFailure;

  int64_t inserted = 0, existing = 0, total = 0;
  json::Document req(rapidjson::kObjectType);
  auto& a = req.GetAllocator();
  json::Value batch(rapidjson::kArrayType);
  auto send = [&]() -> bool {
    if (batch.Empty()) return true;
    json::Document body(rapidjson::kObjectType);
    body.AddMember("tasks", json::Value(batch, body.GetAllocator()), body.GetAllocator());
    auto answer = data::queue_call(*store, "queue_enqueue", json::dump(body));
    if (!answer) {
      std::cerr << "atlas-host enqueue: " << answer.status().message() << " (" << inserted
                << " task(s) were queued before this; enqueue the file again: queued tasks are not queued twice)\n";
      return false;
    }
    inserted += json::find(*answer, "inserted") ? json::find(*answer, "inserted")->GetInt64() : 0;
    existing += json::find(*answer, "existing") ? json::find(*answer, "existing")->GetInt64() : 0;
    batch.SetArray();
    return true;
  };
  for (const auto& l : lines) {
    json::Value payload(rapidjson::kObjectType);
    json::set(payload, "task", l.spec.task, a);
    auto md = json::parse(l.spec.metadata_json, "metadata", json::kMaxInputDepth);
    json::set(payload, "metadata", md && md->IsObject() ? json::Value(*md, a) : json::Value(rapidjson::kObjectType), a);
    if (!l.spec.expected_json.empty()) {
      auto ex = json::parse(l.spec.expected_json, "expected", json::kMaxInputDepth);
      if (ex) json::set(payload, "expected", json::Value(*ex, a), a);
    }
    const std::string base =
        l.id.empty() ? data::content_task_id(l.spec.task, l.spec.metadata_json, l.spec.expected_json) : l.id;
    for (int r = 0; r < rollouts; ++r) {
      json::Value t(rapidjson::kObjectType);
      json::set(t, "task_id", rollouts == 1 ? base : base + "#r" + std::to_string(r), a);
      json::set(t, "payload", json::Value(payload, a), a);
      json::set(t, "priority", static_cast<int64_t>(priority), a);
      json::set(t, "group", base, a);
      json::set(t, "rollout", static_cast<int64_t>(r), a);
      json::set(t, "max_attempts", static_cast<int64_t>(max_attempts), a);
      batch.PushBack(t, a);
      ++total;
      if (batch.Size() >= 500 && !send()) return kExitFailure;
    }
  }
  if (!send()) return kExitFailure;
  if (vm.count("json")) {
    std::cout << "{\"tasks\":" << total << ",\"queued\":" << inserted << ",\"already_queued\":" << existing << "}\n";
  } else {
    std::cout << "Queued " << inserted << " task(s) from " << lines.size() << " line(s)"
              << (rollouts > 1 ? " x " + std::to_string(rollouts) + " rollouts" : std::string()) << "; " << existing
              << " were already queued.\n";
  }
  return kExitOk;
}

int run_queue(const Args& args) {
  po::options_description opts("atlas-host queue status|retry|cancel [TASK_ID...] [options]");
  add_store_options(opts);
  opts.add_options()("help,h", "show this help")("action", po::value<std::string>(), "")(
      "ids", po::value<std::vector<std::string>>(), "")("list", po::value<std::string>(),
                                                        "status: also list the tasks in this state (e.g. dead)")(
      "limit", po::value<int>()->default_value(50), "status --list: at most this many")(
      "dead", "retry: every dead-lettered task")("cancelled", "retry: every cancelled task")(
      "all", "cancel: every pending and leased task")("json", "machine-readable output");
  po::positional_options_description pos;
  pos.add("action", 1).add("ids", -1);
  po::variables_map vm = parse_options(args, opts, &pos);
  if (vm.count("help")) {
    std::cout << opts
              << "\n  status             tasks by state (pending, leased, done, dead, cancelled)\n"
                 "  retry ID...|--dead|--cancelled   back to pending with a fresh attempt count\n"
                 "  cancel ID...|--all               stop handing tasks out (a running one is stored interrupted)\n";
    return kExitOk;
  }
  if (!vm.count("action")) throw UsageError("missing action: status, retry or cancel");
  const std::string action = vm["action"].as<std::string>();
  const std::vector<std::string> ids = values(vm, "ids");
  const bool as_json = vm.count("json") > 0;
  json::Document req(rapidjson::kObjectType);
  auto& a = req.GetAllocator();
  std::string op;
  if (action == "status") {
    if (!ids.empty()) throw UsageError("queue status takes no task ids");
    op = "queue_status";
    if (vm.count("list")) {
      static const std::set<std::string> states = {"pending", "leased", "done", "dead", "cancelled"};
      if (!states.count(vm["list"].as<std::string>()))
        throw UsageError("--list must be one of pending, leased, done, dead, cancelled");
      json::set(req, "list", vm["list"].as<std::string>(), a);
      json::set(req, "limit", static_cast<int64_t>(vm["limit"].as<int>()), a);
    }
  } else if (action == "retry") {
    op = "queue_retry";
    const int picks =
        (ids.empty() ? 0 : 1) + static_cast<int>(vm.count("dead")) + static_cast<int>(vm.count("cancelled"));
    if (picks != 1) throw UsageError("queue retry: give task ids, or --dead, or --cancelled (one of them)");
    if (vm.count("dead")) json::set(req, "state", "dead", a);
    if (vm.count("cancelled")) json::set(req, "state", "cancelled", a);
  } else if (action == "cancel") {
    op = "queue_cancel";
    if (ids.empty() == (vm.count("all") == 0)) throw UsageError("queue cancel: give task ids or --all (one of them)");
    if (vm.count("all")) req.AddMember("all", true, a);
  } else {
    throw UsageError("unknown action '" + action + "' (status|retry|cancel)");
  }
  if (!ids.empty()) {
    json::Value list(rapidjson::kArrayType);
    for (const auto& id : ids) list.PushBack(json::str(id, a), a);
    json::set(req, "task_ids", std::move(list), a);
  }
  auto store = open_queue_store(vm, "atlas-host queue", action == "status");
  if (!store) return kExitFailure;
  auto answer = data::queue_call(*store, op, json::dump(req));
  if (!answer) {
    std::cerr << "atlas-host queue " << action << ": " << answer.status().message() << "\n";
    return kExitFailure;
  }
  if (as_json) {
    std::cout << secrets::redact(json::dump(*answer)) << "\n";
  } else if (action == "status") {
    const json::Value* c = json::find(*answer, "counts");
    std::cout << "state      tasks\n";
    if (c && c->IsObject())
      for (auto& m : c->GetObject()) {
        std::string name = m.name.GetString();
        std::cout << name << std::string(name.size() < 11 ? 11 - name.size() : 1, ' ') << m.value.GetInt64() << "\n";
      }
    if (const json::Value* age = json::find(*answer, "oldest_pending_age_ms"); age && age->IsNumber())
      std::cout << "oldest pending task waits " << static_cast<int64_t>(age->GetDouble() / 1000.0) << " s\n";
    if (const json::Value* tasks = json::find(*answer, "tasks"); tasks && tasks->IsArray()) {
      for (const auto& t : tasks->GetArray())
        std::cout << json::get_string(t, "task_id") << "  attempts "
                  << (json::find(t, "attempts") ? json::find(t, "attempts")->GetInt64() : 0) << "  "
                  << secrets::redact(json::get_string(t, "last_error")) << "\n";
    }
  } else {
    const char* key = action == "retry" ? "retried" : "cancelled";
    int64_t n = json::find(*answer, key) ? json::find(*answer, key)->GetInt64() : 0;
    std::cout << (action == "retry" ? "Retried " : "Cancelled ") << n << " task(s).\n";
    // Asked for named tasks and some could not be changed (done, unknown, or in another state).
    if (!ids.empty() && n < static_cast<int64_t>(ids.size())) {
      std::cerr << "atlas-host queue " << action << ": " << ids.size() - n << " of " << ids.size()
                << " task(s) were not changed (unknown ids, or not in a state that allows it: retry takes dead or "
                   "cancelled tasks, cancel takes pending or leased ones; `queue status --list STATE` shows them)\n";
      return kExitFailure;
    }
  }
  return kExitOk;
}

}  // namespace atlas::cli
