// atlas-host playbook — the learning playbook of a key: show, history, diff, edit, reset, and
// the candidates the learning gates refused (docs/runtime.md, "Playbook commands").
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/json.hpp"
#include "data/open.hpp"
#include "data/review.hpp"
#include "runtime/playbook_admin.hpp"

namespace atlas::cli {
namespace {

void usage(std::ostream& os) {
  os << "Usage:\n"
        "  atlas-host playbook list [--json]\n"
        "  atlas-host playbook show KEY [--version N] [--json]\n"
        "  atlas-host playbook history KEY [--json]\n"
        "  atlas-host playbook diff KEY [V1 [V2]]        (default: the previous version against the current)\n"
        "  atlas-host playbook edit KEY [--file F] [--actor WHO] [--note TEXT]\n"
        "  atlas-host playbook reset KEY [--actor WHO] [--note TEXT]\n"
        "  atlas-host playbook rejected KEY [--json]\n\n"
        "KEY is a learning key, the label `report` shows for it, or a unique prefix of either.\n"
        "edit opens $VISUAL/$EDITOR on the playbook (or reads --file F, '-' = stdin) and stores it as\n"
        "a new version; reset stores an empty one. Every version keeps who wrote it (--actor, default\n"
        "$USER; the learning synthesis writes as \"learning\" with its session), so history and diff\n"
        "can go back to any of them. rejected lists the candidates the learning gates refused, with\n"
        "the reasons. docs/runtime.md, \"Playbook commands\".\n"
        "Common options: -c/--config FILE, --database-url URL, --plugin-dir DIR.\n";
}

std::string body_of(const std::string& document) {
  size_t at = document.find("=== student_learning ===");
  return at == std::string::npos ? document : document.substr(at);
}

std::string version_line(const runtime::PlaybookVersion& v) {
  std::string line = "v" + std::to_string(v.version) + "  " + v.created_at + "  " + v.action + " by " + v.actor;
  if (!v.session_id.empty()) line += " (session " + v.session_id + ")";
  if (!v.note.empty()) line += ": " + v.note;
  return line;
}

int fail(const std::string& message, int code = kExitFailure) {
  std::cerr << "atlas-host playbook: " << message << "\n";
  return code;
}

Result<std::string> read_all(const std::string& path) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot read " + path + "; check the path");
  ss << in.rdbuf();
  return ss.str();
}

// Runs the user's editor on `path`; the editor's exit status must be 0.
Status run_editor(const std::filesystem::path& path) {
  const char* editor = std::getenv("VISUAL");
  if (!editor || !*editor) editor = std::getenv("EDITOR");
  if (!editor || !*editor) editor = "vi";
  std::string quoted = "'";
  for (char c : path.string()) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  int rc = std::system((std::string(editor) + " " + quoted).c_str());
  if (rc != 0)
    return failed_precondition(std::string("the editor (") + editor + ") exited with status " + std::to_string(rc) +
                               "; nothing was stored");
  return Status::ok();
}

}  // namespace

int run_playbook(const Args& args) {
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("version", po::value<int64_t>(), "")(
      "file", po::value<std::string>(), "")("actor", po::value<std::string>(), "")(
      "note", po::value<std::string>(), "")("words", po::value<std::vector<std::string>>(), "");
  add_store_options(desc);
  po::positional_options_description pos;
  pos.add("words", -1);
  po::variables_map vm = parse_options(args, desc, &pos);
  std::vector<std::string> words = values(vm, "words");
  if (vm.count("help") || words.empty()) {
    usage(words.empty() && !vm.count("help") ? std::cerr : std::cout);
    return vm.count("help") ? kExitOk : kExitUsage;
  }
  const std::string verb = words[0];
  static const std::vector<std::string> verbs = {"list", "show", "history", "diff", "edit", "reset", "rejected"};
  if (std::find(verbs.begin(), verbs.end(), verb) == verbs.end())
    throw UsageError("unknown playbook command \"" + verb +
                     "\"; use list, show, history, diff, edit, reset or rejected");
  if (verb != "list" && words.size() < 2) throw UsageError("playbook " + verb + " needs a KEY (see `playbook list`)");
  const size_t max_words = verb == "diff" ? 4 : verb == "list" ? 1 : 2;
  if (words.size() > max_words)
    throw UsageError("playbook " + verb + ": unexpected argument \"" + words[max_words] + "\"");
  const bool writes = verb == "edit" || verb == "reset";
  if (vm.count("file") && verb != "edit") throw UsageError("--file is for playbook edit");
  if ((vm.count("actor") || vm.count("note")) && !writes) throw UsageError("--actor and --note are for edit and reset");
  if (vm.count("version") && verb != "show") throw UsageError("--version is for playbook show (diff takes V1 V2)");

  data::OpenRequest req = store_request(vm);
  req.read_only = !writes;
  auto opened = data::open_store(req);
  if (!opened.is_ok()) return fail(opened.status().message());
  data::Store& store = *opened->store;

  if (verb == "list") {
    auto keys = runtime::list_playbook_keys(store);
    if (!keys) return fail(keys.status().message());
    if (vm.count("json")) {
      json::Document d(rapidjson::kArrayType);
      auto& a = d.GetAllocator();
      for (const auto& k : *keys) {
        json::Value o(rapidjson::kObjectType);
        json::set(o, "learning_key", k.learning_key, a);
        json::set(o, "label", k.label, a);
        json::set(o, "version", k.version, a);
        json::set(o, "updated_at", k.updated_at, a);
        d.PushBack(o, a);
      }
      std::cout << json::dump(d) << "\n";
    } else if (keys->empty()) {
      std::cout << "No learning key has a playbook yet (the learning synthesis writes one after a rewarded session).\n";
    } else {
      for (const auto& k : *keys)
        std::cout << k.learning_key.substr(0, 16) << "  v" << k.version << "  " << k.updated_at << "  " << k.label
                  << "\n";
    }
    return kExitOk;
  }

  auto key = runtime::resolve_playbook_key(store, words[1]);
  if (!key)
    return fail(key.status().message(),
                key.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure);
  const std::string& k = key->learning_key;

  if (verb == "show") {
    std::optional<int64_t> only;
    if (vm.count("version")) only = vm["version"].as<int64_t>();
    auto versions = runtime::playbook_versions(store, k, only);
    if (!versions) return fail(versions.status().message());
    if (versions->empty()) return fail("learning key " + k + " has no stored playbook version");
    const auto& v = versions->back();
    if (vm.count("json")) {
      json::Document d(rapidjson::kObjectType);
      auto& a = d.GetAllocator();
      json::set(d, "learning_key", k, a);
      json::set(d, "label", key->label, a);
      json::set(d, "current_version", key->version, a);
      json::set(d, "playbook", runtime::playbook_version_json(v, true, a), a);
      std::cout << json::dump(d) << "\n";
    } else {
      std::cout << "Learning key: " << key->label << "\n";
      if (key->label != k) std::cout << "  key       " << k << "\n";
      std::cout << "  version   " << v.version << (v.version == key->version ? " (current)" : "") << "\n"
                << "  written   " << version_line(v) << "\n\n"
                << body_of(runtime::playbook_document(k, v));
    }
    return kExitOk;
  }

  if (verb == "history") {
    auto versions = runtime::playbook_versions(store, k);
    if (!versions) return fail(versions.status().message());
    if (vm.count("json")) {
      json::Document d(rapidjson::kObjectType);
      auto& a = d.GetAllocator();
      json::set(d, "learning_key", k, a);
      json::set(d, "label", key->label, a);
      json::Value list(rapidjson::kArrayType);
      for (const auto& v : *versions) list.PushBack(runtime::playbook_version_json(v, false, a), a);
      json::set(d, "versions", std::move(list), a);
      std::cout << json::dump(d) << "\n";
    } else {
      std::cout << "Learning key: " << key->label << " (" << versions->size() << " version"
                << (versions->size() == 1 ? "" : "s") << " stored)\n";
      for (const auto& v : *versions) std::cout << "  " << version_line(v) << "\n";
    }
    return kExitOk;
  }

  if (verb == "diff") {
    auto versions = runtime::playbook_versions(store, k);
    if (!versions) return fail(versions.status().message());
    auto parse_version = [&](const std::string& w) -> int64_t {
      std::string digits = !w.empty() && (w[0] == 'v' || w[0] == 'V') ? w.substr(1) : w;
      try {
        size_t used = 0;
        long long n = std::stoll(digits, &used);
        if (used == digits.size() && n > 0) return n;
      } catch (const std::exception&) {
      }
      throw UsageError("playbook diff: \"" + w + "\" is not a version number (e.g. 3 or v3)");
    };
    auto find = [&](int64_t n) -> const runtime::PlaybookVersion* {
      for (const auto& v : *versions)
        if (v.version == n) return &v;
      return nullptr;
    };
    const runtime::PlaybookVersion* a = nullptr;
    const runtime::PlaybookVersion* b = versions->empty() ? nullptr : &versions->back();
    if (words.size() >= 3) a = find(parse_version(words[2]));
    if (words.size() == 4) b = find(parse_version(words[3]));
    if (words.size() == 2) {
      if (versions->size() < 2) return fail("learning key " + k + " has only one stored version; nothing to compare");
      a = &(*versions)[versions->size() - 2];
    }
    if (!a || !b) {
      std::string have;
      for (const auto& v : *versions) have += (have.empty() ? "" : ", ") + std::to_string(v.version);
      return fail("version " + (a ? words[3] : words[2]) + " of " + key->label + " is not stored (stored: " + have +
                  ")");
    }
    std::string diff =
        runtime::unified_diff(body_of(runtime::playbook_document(k, *a)), body_of(runtime::playbook_document(k, *b)),
                              "playbook v" + std::to_string(a->version) + " (" + a->created_at + ")",
                              "playbook v" + std::to_string(b->version) + " (" + b->created_at + ")");
    if (diff.empty())
      std::cout << "v" << a->version << " and v" << b->version << " are the same.\n";
    else
      std::cout << diff;
    return kExitOk;
  }

  if (verb == "rejected") {
    auto versions = runtime::playbook_versions(store, k);
    if (!versions) return fail(versions.status().message());
    auto rejected = runtime::rejected_candidates(*versions);
    if (vm.count("json")) {
      json::Document d(rapidjson::kArrayType);
      auto& a = d.GetAllocator();
      for (const auto& r : rejected) d.PushBack(runtime::rejected_candidate_json(r, a), a);
      std::cout << json::dump(d) << "\n";
    } else if (rejected.empty()) {
      std::cout << "The learning gates refused no candidate for " << key->label << ".\n";
    } else {
      std::cout << rejected.size() << " candidate" << (rejected.size() == 1 ? "" : "s") << " refused for " << key->label
                << ":\n";
      for (const auto& r : rejected) {
        std::cout << "  " << r.entry_id << "  (v" << r.version << ", session " << r.session_id << ", " << r.evaluated_at
                  << ")\n";
        for (const auto& x : r.reasons) std::cout << "    reason: " << x << "\n";
        if (!r.entry_json.empty()) std::cout << "    entry:  " << r.entry_json << "\n";
      }
    }
    return kExitOk;
  }

  // edit / reset: a new version on top of the current one.
  auto versions = runtime::playbook_versions(store, k);
  if (!versions) return fail(versions.status().message());
  if (versions->empty()) return fail("learning key " + k + " has no stored playbook version to start from");
  const runtime::PlaybookVersion& current = versions->back();
  const std::string actor = vm.count("actor") ? vm["actor"].as<std::string>() : data::default_actor();
  const std::string note = vm.count("note") ? vm["note"].as<std::string>() : "";
  runtime::PlaybookContent content;
  if (verb == "edit") {
    std::string text;
    if (vm.count("file")) {
      auto read = read_all(vm["file"].as<std::string>());
      if (!read) return fail(read.status().message());
      text = std::move(*read);
    } else {
      if (!::isatty(STDIN_FILENO))
        return fail("playbook edit needs a terminal for $EDITOR; give the new playbook with --file F (or --file -)",
                    kExitUsage);
      std::filesystem::path tmp =
          std::filesystem::temp_directory_path() / ("atlas-playbook-" + std::to_string(::getpid()) + ".txt");
      {
        std::ofstream out(tmp, std::ios::binary);
        out << runtime::playbook_document(k, current);
        if (!out) return fail("cannot write " + tmp.string());
      }
      Status edited = run_editor(tmp);
      auto read = read_all(tmp.string());
      if (!edited.is_ok() || !read) {
        std::filesystem::remove(tmp);
        return fail(edited.is_ok() ? read.status().message() : edited.message());
      }
      text = std::move(*read);
      auto parsed = runtime::parse_playbook_document(text);
      if (!parsed)
        return fail(parsed.status().message() + "; your edit is kept in " + tmp.string() +
                    " (fix it and run `atlas-host playbook edit " + words[1] + " --file " + tmp.string() + "`)");
      std::filesystem::remove(tmp);
    }
    auto parsed = runtime::parse_playbook_document(text);
    if (!parsed) return fail(parsed.status().message());
    content = std::move(*parsed);
    auto unchanged = runtime::parse_playbook_document(runtime::playbook_document(k, current));
    if (unchanged && unchanged->student_learning == content.student_learning &&
        unchanged->teacher_learning == content.teacher_learning && unchanged->entries_json == content.entries_json) {
      std::cout << "No change; the playbook of " << key->label << " stays at version " << current.version << ".\n";
      return kExitOk;
    }
  }
  auto version = runtime::write_playbook(store, k, content, current, current.version, actor, verb, note);
  if (!version) return fail(version.status().message());
  std::cout << "Playbook of " << key->label << ": version " << *version << " stored ("
            << (verb == "reset" ? "reset to empty" : "edited") << " by " << actor << "; version " << current.version
            << " is kept in the history).\n";
  return kExitOk;
}

}  // namespace atlas::cli
