#include "cli_support.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

namespace fs = std::filesystem;

namespace atlas::cli_test {

TempDir::TempDir(const std::string& name) {
  path_ = fs::temp_directory_path() / ("atlas-cli-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CliResult run_cli(const fs::path& cwd, const std::string& args, const std::string& env) {
  fs::path err_file = cwd / ".stderr.txt";
  std::string cmd = "cd " + sh_quote(cwd.string()) +
                    " && env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY -u XAI_API_KEY"
                    " -u OPENAI_BASE_URL -u ANTHROPIC_BASE_URL -u GEMINI_BASE_URL " +
                    env + " " + sh_quote(std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host") + " " + args +
                    " </dev/null 2>" + sh_quote(err_file.string());
  CliResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_file);
  fs::remove(err_file);
  return r;
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::vector<std::string>> sqlite_rows(const fs::path& db, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db << ": " << (h ? sqlite3_errmsg(h) : "?");
    sqlite3_close(h);
    return rows;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(h);
    sqlite3_close(h);
    return rows;
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      row.emplace_back(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return rows;
}

long long sqlite_int(const fs::path& db, const std::string& sql) {
  auto rows = sqlite_rows(db, sql);
  if (rows.empty() || rows[0].empty()) return -1;
  return std::stoll(rows[0][0]);
}

void copy_three_sessions_db(const fs::path& to) {
  static std::once_flag once;
  static fs::path source;
  static std::string failure;
  std::call_once(once, [] {
    static fs::path dir = fs::temp_directory_path() / ("atlas-cli-seed-" + std::to_string(::getpid()));
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(dir, ec);
    });
    fs::remove_all(dir);
    fs::create_directories(dir);
    source = dir / "seed.db";
    // The shipped quickstart config with review gating on: the sessions stay pending.
    std::string config = read_file(std::string(ATLAS_TEST_SOURCE_DIR) + "/configs/quickstart.toml");
    auto at = config.find("require_approval = false");
    if (at == std::string::npos) {
      failure = "configs/quickstart.toml no longer says require_approval = false";
      return;
    }
    config.replace(at, std::string("require_approval = false").size(), "require_approval = true");
    write_file(dir / "gated.toml", config);
    CliResult r = run_cli(dir, "quickstart --offline -c gated.toml --db " + sh_quote("sqlite://" + source.string()));
    if (r.exit_code != 0) failure = "seeding quickstart failed:\n" + r.all();
  });
  ASSERT_TRUE(failure.empty()) << failure;
  fs::copy_file(source, to, fs::copy_options::overwrite_existing);
}

std::string mock_config(const std::string& openai_base, const std::string& extra, const std::string& database_url) {
  auto model = [&](const std::string& section) {
    return "[" + section + "]\nprovider = \"openai\"\nmodel = \"mock-model\"\napi_key_env = \"\"\napi_base = \"" +
           openai_base + "\"\ntimeout_seconds = 30\n\n";
  };
  std::string t = "[agent]\nadapter = \"openai\"\nname = \"reviewer\"\nsystem_prompt = \"You review code.\"\n\n";
  t += model("student.llm") + model("teacher.llm") + model("rewards.small_model") + model("rewards.large_model") +
       model("learning.llm");
  t += "[plugins]\ndirs = [\"" + std::string(ATLAS_TEST_PLUGIN_DIR) + "\"]\n\n";
  t += extra + "\n";
  if (database_url.empty())
    t += "[storage]\nenabled = false\n";
  else
    t += "[storage]\ndatabase_url = \"" + database_url + "\"\n";
  return t;
}

std::string replace_table(const std::string& toml, const std::string& section, const std::string& body) {
  std::string header = "[" + section + "]\n";
  size_t at = toml.find(header);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no " << header << " in\n" << toml;
    return toml;
  }
  size_t start = at + header.size();
  size_t end = toml.find("\n[", start);
  end = end == std::string::npos ? toml.size() : end + 1;
  return toml.substr(0, start) + body + "\n" + toml.substr(end);
}

}  // namespace atlas::cli_test
