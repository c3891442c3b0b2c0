// atlas-host db migrate|status|replay — schema migrations, the state of the database and spool,
// and replaying the spool. `status` changes nothing (no migration, no replay).
#include <boost/program_options.hpp>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/json.hpp"
#include "data/open.hpp"

namespace atlas::cli {
namespace {

void usage(std::ostream& os) {
  os << "Usage:\n"
        "  atlas-host db migrate [--config FILE] [--database-url URL] [--json]\n"
        "      Apply pending schema migrations (each in its own transaction).\n"
        "  atlas-host db status  [--config FILE] [--database-url URL] [--json]\n"
        "      Backend, location, schema version, pending migrations, sessions by status,\n"
        "      and the local spool of writes waiting for the database. Changes nothing.\n"
        "  atlas-host db replay  [--config FILE] [--database-url URL] [--json]\n"
        "      Store the writes waiting in the spool of this database (left by a `run` during\n"
        "      an outage). Exits 3 while records still wait (database unreachable).\n\n"
        "Options:\n"
        "  -c, --config FILE      configuration (default ./atlas.toml when present)\n"
        "  --database-url URL     sqlite://PATH, a file path, or postgresql://user@host:port/db\n"
        "  --plugin-dir DIR       extra plugin folder (repeatable)\n"
        "  --json                 machine-readable output\n";
}

}  // namespace

int run_db(const Args& args) {
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")(
      "action", po::value<std::string>(), "");
  add_store_options(desc);
  po::positional_options_description pos;
  pos.add("action", 1);
  po::variables_map vm = parse_options(args, desc, &pos);
  if (vm.count("help")) {
    usage(std::cout);
    return kExitOk;
  }
  if (!vm.count("action")) throw UsageError("missing action: migrate, status or replay");
  std::string action = vm["action"].as<std::string>();
  if (action != "migrate" && action != "status" && action != "replay")
    throw UsageError("unknown action '" + action + "' (migrate|status|replay)");
  bool as_json = vm.count("json") != 0;

  data::OpenRequest req = store_request(vm);
  req.migrate = false;  // `migrate` reports what it applied; `status` must not change anything
  req.recover = false;
  req.read_only = action == "status";
  auto opened = data::open_store(req);
  if (!opened.is_ok()) {
    std::cerr << "atlas-host db: " << opened.status().message() << "\n";
    return kExitFailure;
  }
  data::Store& store = *opened->store;
  if (action == "replay") {
    auto replayed = store.replay_spool();
    auto spool = store.spool_status();
    if (as_json) {
      json::Document d(rapidjson::kObjectType);
      json::set(d, "path", spool.path.string(), d.GetAllocator());
      json::set(d, "replayed_records", static_cast<int64_t>(replayed.is_ok() ? *replayed : 0), d.GetAllocator());
      json::set(d, "pending_records", static_cast<int64_t>(spool.pending_records), d.GetAllocator());
      if (!replayed.is_ok()) json::set(d, "error", replayed.status().to_string(), d.GetAllocator());
      std::cout << json::dump_pretty(d) << "\n";
    } else if (!replayed.is_ok()) {
      std::cerr << "atlas-host db replay: " << replayed.status().message() << "\n";
    } else {
      std::cout << "Replayed " << *replayed << " record(s) from " << spool.path.string() << "; "
                << spool.pending_records << " still waiting.\n";
    }
    if (!replayed.is_ok() && replayed.status().code() != StatusCode::kUnavailable) return kExitFailure;
    return spool.pending_records > 0 ? kExitSpooled : kExitOk;
  }
  if (action == "migrate") {
    auto r = store.execute("migrate", "{}");
    if (!r.is_ok()) {
      std::cerr << "atlas-host db migrate: " << r.status().to_string() << "\n";
      return kExitFailure;
    }
    if (as_json) {
      std::cout << *r << "\n";
    } else {
      auto d = json::parse(*r);
      const auto& applied = (*d)["applied"];
      if (applied.Empty()) {
        std::cout << "Schema is up to date (version " << json::get_int(*d, "schema_version") << ").\n";
      } else {
        std::cout << "Applied migration(s):";
        for (const auto& v : applied.GetArray()) std::cout << " " << v.GetInt();
        std::cout << "; schema version is now " << json::get_int(*d, "schema_version") << ".\n";
      }
    }
    return kExitOk;
  }
  auto spool = store.spool_status();
  auto r = store.execute("status", "{}");
  if (as_json) {
    json::Document d(rapidjson::kObjectType);
    if (r.is_ok()) {
      auto parsed = json::parse(*r);
      if (parsed.is_ok()) d.CopyFrom(*parsed, d.GetAllocator());
    } else {
      json::set(d, "error", r.status().to_string(), d.GetAllocator());
    }
    json::Value sp(rapidjson::kObjectType);
    json::set(sp, "path", spool.path.string(), d.GetAllocator());
    json::set(sp, "pending_records", static_cast<int64_t>(spool.pending_records), d.GetAllocator());
    json::set(d, "spool", std::move(sp), d.GetAllocator());
    std::cout << json::dump_pretty(d) << "\n";
    return r.is_ok() ? kExitOk : kExitFailure;
  }
  if (r.is_ok()) {
    auto d = json::parse(*r);
    std::cout << "Backend:          " << json::get_string(*d, "backend") << "\n"
              << "Location:         " << json::get_string(*d, "location") << "\n"
              << "Schema version:   " << json::get_int(*d, "schema_version") << " (latest "
              << json::get_int(*d, "latest_schema_version") << ")\n";
    const auto& pending = (*d)["pending_migrations"];
    std::cout << "Pending:          ";
    if (pending.Empty()) std::cout << "none";
    for (const auto& v : pending.GetArray()) std::cout << v.GetInt() << " ";
    if (!pending.Empty()) std::cout << " (run `atlas-host db migrate`)";
    std::cout << "\nSessions:         ";
    bool any = false;
    for (auto it = (*d)["sessions"].MemberBegin(); it != (*d)["sessions"].MemberEnd(); ++it) {
      std::cout << (any ? ", " : "") << it->name.GetString() << " " << it->value.GetInt64();
      any = true;
    }
    std::cout << (any ? "" : "none") << "\nReview:           ";
    any = false;
    for (auto it = (*d)["review"].MemberBegin(); it != (*d)["review"].MemberEnd(); ++it) {
      std::cout << (any ? ", " : "") << it->name.GetString() << " " << it->value.GetInt64();
      any = true;
    }
    std::cout << (any ? "" : "none") << "\n";
  } else {
    std::cout << "Database:         unreachable: " << r.status().message() << "\n";
  }
  std::cout << "Spool:            " << spool.path.string() << ": " << spool.pending_records
            << " record(s) waiting for replay\n";
  return r.is_ok() ? kExitOk : kExitFailure;
}

}  // namespace atlas::cli
