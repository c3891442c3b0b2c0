#include "config/section_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "config/toml_json.hpp"

namespace atlas::config::detail {

void ParseContext::error(SourceRegion where, std::string key_path, std::string message) {
  if (where.file.empty()) where.file = source_name;
  errors.push_back({std::move(where), std::move(key_path), std::move(message)});
}

void ParseContext::error(const toml::source_region& where, std::string key_path, std::string message) {
  error(to_region(where, source_name), std::move(key_path), std::move(message));
}

std::string_view type_phrase(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string format_number(double d) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, res.ptr);
}

namespace {

std::string range_text(double min, double max, bool min_exclusive) {
  const bool has_max = max < std::numeric_limits<double>::max() / 2;
  if (min_exclusive && !has_max) return "greater than " + format_number(min);
  if (!has_max) return "at least " + format_number(min);
  if (min <= std::numeric_limits<double>::lowest() / 2) return "at most " + format_number(max);
  if (min_exclusive) return "greater than " + format_number(min) + " and at most " + format_number(max);
  return "between " + format_number(min) + " and " + format_number(max);
}

}  // namespace

SectionReader::SectionReader(ParseContext& ctx, const toml::table* table, std::string key_path)
    : ctx_(ctx), table_(table), path_(std::move(key_path)) {}

SourceRegion SectionReader::region() const {
  if (!table_) return SourceRegion{ctx_.source_name, 0, 0};
  return to_region(table_->source(), ctx_.source_name);
}

SourceRegion SectionReader::region_of(std::string_view key) const {
  if (table_) {
    for (auto&& [k, v] : *table_)
      if (k.str() == key) {
        SourceRegion r = to_region(k.source(), ctx_.source_name);
        return r.known() ? r : to_region(v.source(), ctx_.source_name);
      }
  }
  return region();
}

std::string SectionReader::child_path(std::string_view key) const { return join_key_path(path_, key); }

bool SectionReader::has(std::string_view key) const { return table_ && table_->get(key) != nullptr; }

const toml::node* SectionReader::take(std::string_view key) {
  known_.emplace_back(key);
  if (!table_) return nullptr;
  const toml::node* n = table_->get(key);
  if (n && ctx_.is_secret(child_path(key))) return nullptr;
  return n;
}

void SectionReader::error(std::string_view key, std::string message) {
  ctx_.error(region_of(key), child_path(key), std::move(message));
}

void SectionReader::type_error(std::string_view key, const toml::node& node, std::string_view expected) {
  std::string msg = "expected " + std::string(expected) + ", found " + std::string(type_phrase(node));
  if (const auto* s = node.as_string()) msg += " " + json::quote(s->get());
  ctx_.error(to_region(node.source(), ctx_.source_name), child_path(key), std::move(msg));
}

bool SectionReader::read(std::string_view key, std::string& out) {
  const toml::node* n = take(key);
  if (!n) return false;
  if (!n->is_string()) {
    type_error(key, *n, "a string");
    return false;
  }
  out = n->as_string()->get();
  return true;
}

bool SectionReader::read(std::string_view key, bool& out) {
  const toml::node* n = take(key);
  if (!n) return false;
  if (!n->is_boolean()) {
    type_error(key, *n, "a boolean (true or false)");
    return false;
  }
  out = n->as_boolean()->get();
  return true;
}

namespace {

// Integer in [min, max], reporting a type or range error through `reader`.
std::optional<int64_t> int_value(SectionReader& reader, std::string_view key, const toml::node& n, int64_t min,
                                 int64_t max) {
  if (!n.is_integer()) {
    if (n.is_floating_point()) {
      double d = n.as_floating_point()->get();
      reader.error(key, "expected an integer, found the float " + format_number(d) + " (write it without a decimal point)");
    } else {
      reader.type_error(key, n, "an integer");
    }
    return std::nullopt;
  }
  int64_t v = n.as_integer()->get();
  if (v < min || v > max) {
    std::string range = max == std::numeric_limits<int64_t>::max()
                            ? "at least " + std::to_string(min)
                            : "between " + std::to_string(min) + " and " + std::to_string(max);
    reader.error(key, "value " + std::to_string(v) + " is out of range: must be " + range);
    return std::nullopt;
  }
  return v;
}

std::optional<double> double_value(SectionReader& reader, std::string_view key, const toml::node& n, double min,
                                   double max, bool min_exclusive) {
  double v = 0;
  if (n.is_floating_point()) {
    v = n.as_floating_point()->get();
  } else if (n.is_integer()) {
    v = static_cast<double>(n.as_integer()->get());
  } else {
    reader.type_error(key, n, "a number");
    return std::nullopt;
  }
  const bool below = min_exclusive ? !(v > min) : !(v >= min);
  if (std::isnan(v) || below || v > max) {
    reader.error(key, "value " + format_number(v) + " is out of range: must be " + range_text(min, max, min_exclusive));
    return std::nullopt;
  }
  return v;
}

}  // namespace

bool SectionReader::read_int(std::string_view key, int& out, int64_t min, int64_t max) {
  const toml::node* n = take(key);
  if (!n) return false;
  max = std::min<int64_t>(max, std::numeric_limits<int>::max());
  auto v = int_value(*this, key, *n, min, max);
  if (!v) return false;
  out = static_cast<int>(*v);
  return true;
}

bool SectionReader::read_int(std::string_view key, std::optional<int>& out, int64_t min, int64_t max) {
  int v = 0;
  if (!read_int(key, v, min, max)) return false;
  out = v;
  return true;
}

bool SectionReader::read_int(std::string_view key, std::optional<int64_t>& out, int64_t min, int64_t max) {
  const toml::node* n = take(key);
  if (!n) return false;
  auto v = int_value(*this, key, *n, min, max);
  if (!v) return false;
  out = *v;
  return true;
}

bool SectionReader::read_double(std::string_view key, double& out, double min, double max, bool min_exclusive) {
  const toml::node* n = take(key);
  if (!n) return false;
  auto v = double_value(*this, key, *n, min, max, min_exclusive);
  if (!v) return false;
  out = *v;
  return true;
}

bool SectionReader::read_double(std::string_view key, std::optional<double>& out, double min, double max,
                                bool min_exclusive) {
  double v = 0;
  if (!read_double(key, v, min, max, min_exclusive)) return false;
  out = v;
  return true;
}

bool SectionReader::read_choice(std::string_view key, std::string& out,
                                std::initializer_list<std::string_view> choices) {
  std::string v;
  if (!read(key, v)) return false;
  for (auto c : choices)
    if (v == c) {
      out = v;
      return true;
    }
  std::string list;
  std::vector<std::string_view> cands;
  for (auto c : choices) {
    if (!list.empty()) list += ", ";
    list += c.empty() ? std::string("\"\"") : std::string(c);
    cands.push_back(c);
  }
  std::string msg = "invalid value " + json::quote(v) + ": must be one of " + list;
  std::string near = did_you_mean(v, cands);
  if (!near.empty()) msg += " (did you mean " + json::quote(near) + "?)";
  error(key, std::move(msg));
  return false;
}

bool SectionReader::read_lane(std::string_view key, std::optional<Lane>& out, std::initializer_list<Lane> allowed) {
  std::string v;
  // Build the choice list from the allowed lanes.
  std::vector<std::string_view> names;
  for (Lane l : allowed) names.push_back(lane_name(l));
  const toml::node* n = take(key);
  if (!n) return false;
  if (!n->is_string()) {
    type_error(key, *n, "a string");
    return false;
  }
  v = n->as_string()->get();
  for (Lane l : allowed)
    if (v == lane_name(l)) {
      out = l;
      return true;
    }
  std::string list;
  for (auto s : names) list += (list.empty() ? "" : ", ") + std::string(s);
  std::string msg = "invalid value " + json::quote(v) + ": must be one of " + list;
  std::string near = did_you_mean(v, names);
  if (!near.empty()) msg += " (did you mean " + json::quote(near) + "?)";
  error(key, std::move(msg));
  return false;
}

bool SectionReader::read_strings(std::string_view key, std::vector<std::string>& out) {
  const toml::node* n = take(key);
  if (!n) return false;
  // A single string is accepted as a one-element list (Atlas coerces scalars the same way).
  if (n->is_string()) {
    out = {n->as_string()->get()};
    return true;
  }
  if (!n->is_array()) {
    type_error(key, *n, "an array of strings");
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  size_t i = 0;
  for (const auto& el : *n->as_array()) {
    std::string el_path = child_path(key) + "[" + std::to_string(i++) + "]";
    if (!el.is_string()) {
      ctx_.error(el.source(), el_path, "expected a string, found " + std::string(type_phrase(el)));
      ok = false;
      continue;
    }
    values.push_back(el.as_string()->get());
  }
  if (ok) out = std::move(values);
  return ok;
}

bool SectionReader::read_string_map(std::string_view key, std::map<std::string, std::string>& out) {
  const toml::node* n = take(key);
  if (!n) return false;
  if (!n->is_table()) {
    type_error(key, *n, "a table of strings");
    return false;
  }
  std::map<std::string, std::string> values;
  bool ok = true;
  for (auto&& [k, v] : *n->as_table()) {
    std::string p = join_key_path(child_path(key), k.str());
    if (ctx_.is_secret(p)) {
      ok = false;
      continue;
    }
    if (!v.is_string()) {
      ctx_.error(v.source(), p, "expected a string, found " + std::string(type_phrase(v)));
      ok = false;
      continue;
    }
    values.emplace(std::string(k.str()), v.as_string()->get());
  }
  if (ok) out = std::move(values);
  return ok;
}

SectionReader SectionReader::sub(std::string_view key) {
  const toml::node* n = take(key);
  if (!n) return SectionReader(ctx_, nullptr, child_path(key));
  if (!n->is_table()) {
    type_error(key, *n, "a table");
    return SectionReader(ctx_, nullptr, child_path(key));
  }
  return SectionReader(ctx_, n->as_table(), child_path(key));
}

const toml::array* SectionReader::read_array(std::string_view key) {
  const toml::node* n = take(key);
  if (!n) return nullptr;
  if (!n->is_array()) {
    type_error(key, *n, "an array");
    return nullptr;
  }
  return n->as_array();
}

bool SectionReader::read_json_table(std::string_view key, std::string& out) {
  const toml::node* n = take(key);
  if (!n) return false;
  if (!n->is_table()) {
    type_error(key, *n, "a table");
    return false;
  }
  out = toml_table_to_json_text(*n->as_table());
  return true;
}

void SectionReader::finish(std::string_view hint) {
  if (!table_) return;
  std::vector<std::string_view> cands(known_.begin(), known_.end());
  for (auto&& [k, v] : *table_) {
    std::string key(k.str());
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string p = child_path(key);
    if (ctx_.is_secret(p)) continue;
    std::string msg = "unknown key '" + key + "'";
    std::string near = did_you_mean(key, cands);
    if (!near.empty()) {
      msg += " (did you mean '" + near + "'?)";
    } else if (!hint.empty()) {
      msg += " (" + std::string(hint) + ")";
    } else {
      std::vector<std::string> sorted(known_.begin(), known_.end());
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      std::string list;
      for (const auto& s : sorted) list += (list.empty() ? "" : ", ") + s;
      msg += "; valid keys " + (path_.empty() ? std::string("at the top level") : "in [" + path_ + "]") + ": " + list;
    }
    SourceRegion r = to_region(k.source(), ctx_.source_name);
    if (!r.known()) r = to_region(v.source(), ctx_.source_name);
    ctx_.error(r, p, std::move(msg));
  }
}

}  // namespace atlas::config::detail
