// Reading one TOML table into typed fields while collecting every error with its position.
// Each read_* call also declares the key as known, so finish() can report unknown keys with a
// did-you-mean drawn from the keys this section actually accepts. Internal to the loader.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"

namespace atlas::config::detail {

// State shared by every section while one file is parsed.
struct ParseContext {
  std::string source_name;
  std::filesystem::path base_dir;  // relative paths in the file resolve against it
  std::vector<ConfigError> errors;
  std::set<std::string, std::less<>> secret_paths;  // already reported as literal secrets

  void error(SourceRegion where, std::string key_path, std::string message);
  void error(const toml::source_region& where, std::string key_path, std::string message);
  bool is_secret(std::string_view key_path) const { return secret_paths.count(key_path) != 0; }
};

// "a string", "an integer", ... for messages.
std::string_view type_phrase(const toml::node& node);
// Shortest text that reads back as `d` ("0.15", "3", "1e-05").
std::string format_number(double d);

class SectionReader {
 public:
  // `table` may be null (section absent): every read returns false and finish() does nothing.
  SectionReader(ParseContext& ctx, const toml::table* table, std::string key_path);

  bool present() const { return table_ != nullptr; }
  const std::string& path() const { return path_; }
  const toml::table* table() const { return table_; }
  // Region of the table itself, or an unknown region when absent.
  SourceRegion region() const;
  // Region of `key` if written, else of the table.
  SourceRegion region_of(std::string_view key) const;
  std::string child_path(std::string_view key) const;

  // Declares `key` known and returns its node (nullptr when absent or reported as a secret).
  const toml::node* take(std::string_view key);
  bool has(std::string_view key) const;

  bool read(std::string_view key, std::string& out);
  bool read(std::string_view key, bool& out);
  bool read_int(std::string_view key, int& out, int64_t min, int64_t max);
  bool read_int(std::string_view key, std::optional<int>& out, int64_t min, int64_t max);
  bool read_int(std::string_view key, std::optional<int64_t>& out, int64_t min, int64_t max);
  // min_exclusive: the value must be strictly greater than `min`.
  bool read_double(std::string_view key, double& out, double min, double max, bool min_exclusive = false);
  bool read_double(std::string_view key, std::optional<double>& out, double min, double max,
                   bool min_exclusive = false);
  bool read_choice(std::string_view key, std::string& out, std::initializer_list<std::string_view> choices);
  bool read_lane(std::string_view key, std::optional<Lane>& out, std::initializer_list<Lane> allowed);
  bool read_strings(std::string_view key, std::vector<std::string>& out);
  bool read_string_map(std::string_view key, std::map<std::string, std::string>& out);
  // A sub-table; a wrong type is reported and yields an absent reader.
  SectionReader sub(std::string_view key);
  // An array; a wrong type is reported and yields nullptr.
  const toml::array* read_array(std::string_view key);
  // A free table as JSON object text ("{}" when absent).
  bool read_json_table(std::string_view key, std::string& out);

  // Declares keys known without reading them (handled elsewhere).
  void accept(std::string_view key) { known_.emplace_back(key); }
  // Reports every key of the table that no read_* call declared.
  void finish(std::string_view hint = {});

  void error(std::string_view key, std::string message);
  void type_error(std::string_view key, const toml::node& node, std::string_view expected);

 private:
  ParseContext& ctx_;
  const toml::table* table_;
  std::string path_;
  std::vector<std::string> known_;
};

}  // namespace atlas::config::detail
