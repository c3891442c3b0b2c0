#include "scan/scanner.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

namespace atlas::scan {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxFileBytes = 4 * 1024 * 1024;

// Folders that never hold the user's own tool definitions.
const std::set<std::string>& skipped_dirs() {
  static const std::set<std::string> dirs = {"node_modules", ".git", ".hg", ".svn", "__pycache__", ".venv", "venv",
                                             ".tox", ".mypy_cache", ".pytest_cache", "dist", "build", ".atlas-scan",
                                             "site-packages", ".idea", ".vscode"};
  return dirs;
}

// JSON files that are configuration, not tool definitions: not reported as skipped.
bool is_config_json(const std::string& name) {
  return name == "package.json" || name == "package-lock.json" || name.rfind("tsconfig", 0) == 0 ||
         name == "composer.json" || name.rfind(".eslintrc", 0) == 0 || name == ".prettierrc.json" ||
         name == "jsconfig.json";
}

enum class Kind { kNone, kJson, kPython, kScript };

Kind kind_of(const fs::path& p) {
  std::string ext = p.extension().string();
  if (ext == ".json") return Kind::kJson;
  if (ext == ".py") return Kind::kPython;
  if (ext == ".ts" || ext == ".tsx" || ext == ".mts" || ext == ".cts" || ext == ".js" || ext == ".mjs" || ext == ".cjs")
    return p.filename().string().ends_with(".d.ts") ? Kind::kNone : Kind::kScript;
  return Kind::kNone;
}

Result<std::string> read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return not_found("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status scan_dir(const fs::path& root, const std::vector<fs::path>& exclude, Found& out) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    return invalid_argument("scan: " + root.string() + " is not a folder (give the folder holding your agent's code)");
  std::vector<std::pair<std::string, fs::path>> files;
  std::set<fs::path> excluded;
  for (const auto& e : exclude) excluded.insert(fs::weakly_canonical(e, ec));
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) return invalid_argument("scan: cannot list " + root.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const fs::directory_entry& entry = *it;
    std::string name = entry.path().filename().string();
    if (entry.is_directory(ec)) {
      if (skipped_dirs().count(name) || excluded.count(fs::weakly_canonical(entry.path(), ec)) ||
          (name.size() > 1 && name[0] == '.'))
        it.disable_recursion_pending();
      continue;
    }
    if (!entry.is_regular_file(ec) || kind_of(entry.path()) == Kind::kNone) continue;
    files.emplace_back(fs::relative(entry.path(), root, ec).generic_string(), entry.path());
  }
  std::sort(files.begin(), files.end());  // deterministic output whatever the directory order
  for (const auto& [rel, path] : files) {
    std::error_code size_ec;
    if (fs::file_size(path, size_ec) > kMaxFileBytes) {
      out.skipped.push_back({{rel, 0}, "larger than 4 MiB; not scanned"});
      continue;
    }
    auto text = read_text(path);
    if (!text.is_ok()) {
      out.skipped.push_back({{rel, 0}, text.status().message()});
      continue;
    }
    switch (kind_of(path)) {
      case Kind::kJson:
        if (!is_config_json(path.filename().string())) scan_json_text(text.value(), rel, out);
        break;
      case Kind::kPython:
        scan_python_text(text.value(), rel, out);
        break;
      case Kind::kScript:
        scan_typescript_text(text.value(), rel, out);
        break;
      case Kind::kNone:
        break;
    }
  }
  return Status::ok();
}

}  // namespace

Result<std::vector<std::string>> split_command(std::string_view command) {
  std::vector<std::string> argv;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < command.size()) cur += command[++i];
      else cur += c;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < command.size()) {
      cur += command[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) argv.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote) return invalid_argument(std::string("unclosed ") + quote + " quote in command: " + std::string(command));
  if (in_word) argv.push_back(cur);
  if (argv.empty()) return invalid_argument("empty command");
  return argv;
}

Result<Found> scan(const ScanOptions& options) {
  Found found;
  if (!options.dir.empty()) ATLAS_RETURN_IF_ERROR(scan_dir(options.dir, options.exclude, found));
  if (!options.openapi.empty()) {
    ATLAS_ASSIGN_OR_RETURN(std::string text, read_text(options.openapi));
    ATLAS_RETURN_IF_ERROR(scan_openapi_text(text, options.openapi.generic_string(), found));
  }
  if (!options.mcp_command.empty()) {
    ATLAS_ASSIGN_OR_RETURN(auto argv, split_command(options.mcp_command));
    ATLAS_RETURN_IF_ERROR(scan_mcp_server(argv, options.mcp_timeout_seconds, found));
  }
  return found;
}

}  // namespace atlas::scan
