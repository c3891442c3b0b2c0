// Helpers of the command-line tests: run the built atlas-host in a folder, read SQLite files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace atlas::cli_test {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  std::string all() const { return out + err; }
};

// A fresh empty folder under the temp dir, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& name);
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs `<env> atlas-host <args>` (args and env already shell-quoted) in `cwd` with no provider
// key or base URL from the test's own environment; stdin is /dev/null (not a terminal).
CliResult run_cli(const std::filesystem::path& cwd, const std::string& args, const std::string& env = "");

// Single-quoted for /bin/sh.
std::string sh_quote(const std::string& s);

void write_file(const std::filesystem::path& p, const std::string& text);
std::string read_file(const std::filesystem::path& p);

// Rows of a query on a SQLite file, each column as text ("NULL" for null); fails the test on error.
std::vector<std::vector<std::string>> sqlite_rows(const std::filesystem::path& db, const std::string& sql);
// One integer (e.g. SELECT COUNT(*)).
long long sqlite_int(const std::filesystem::path& db, const std::string& sql);

// Fills a SQLite database with three stored quickstart sessions (offline, scripted); the file is
// built once per test binary and copied, so every test starts from the same three sessions.
void copy_three_sessions_db(const std::filesystem::path& to);

// A config whose every model block points at `openai_base` (a mock) with no key.
std::string mock_config(const std::string& openai_base, const std::string& extra, const std::string& database_url);

// `toml` with the body of table [section] (up to the next table) replaced by `body`.
std::string replace_table(const std::string& toml, const std::string& section, const std::string& body);

}  // namespace atlas::cli_test
