// TOML <-> RapidJSON conversions and the key-path index of a parsed TOML document. Free-form
// tables that go to plugins ([agent.config], judge `config`, [plugins.<name>]) are converted to
// JSON here; index_sources() records where every key was written so that a JSON pointer into
// that JSON can be cited as file:line:col (SourceMap::find_json).
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "common/json.hpp"
#include "config/config.hpp"

namespace atlas::config {

// A key as written in a key path: bare (`temperature`) or quoted (`"my.plugin"`).
std::string key_path_segment(std::string_view key);
// `parent.key` (or `key` at the root).
std::string join_key_path(std::string_view parent, std::string_view key);

// Node -> JSON value allocated in `a`. Integers stay integers, floats doubles (inf/nan become
// null: JSON cannot hold them), dates/times become ISO 8601 strings.
json::Value toml_to_json(const toml::node& node, json::Allocator& a);
// Table -> JSON object text (compact).
std::string toml_table_to_json_text(const toml::table& table);

// JSON -> TOML (for printing). null members are dropped (TOML has no null).
toml::table json_object_to_toml(const json::Value& object);

// Records the region of every key and array element of `root` under its key path.
void index_sources(const toml::table& root, std::string_view source_name, SourceMap& out);

SourceRegion to_region(const toml::source_region& r, std::string_view source_name);

}  // namespace atlas::config
