#include "config/toml_json.hpp"

#include <cctype>
#include <cmath>
#include <sstream>

namespace atlas::config {

std::string key_path_segment(std::string_view key) {
  bool bare = !key.empty();
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) bare = false;
  return bare ? std::string(key) : json::quote(key);
}

std::string join_key_path(std::string_view parent, std::string_view key) {
  std::string seg = key_path_segment(key);
  if (parent.empty()) return seg;
  std::string out(parent);
  out += '.';
  out += seg;
  return out;
}

SourceRegion to_region(const toml::source_region& r, std::string_view source_name) {
  SourceRegion out;
  out.file = std::string(source_name);
  out.line = r.begin.line;
  out.column = r.begin.column;
  return out;
}

namespace {

template <typename T>
std::string stream_text(const T& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

void index_node(const toml::node& node, const std::string& path, std::string_view source, SourceMap& out) {
  if (const auto* t = node.as_table()) {
    for (auto&& [k, v] : *t) {
      std::string child = join_key_path(path, k.str());
      // The key's own position is what a user looks for; fall back to the value's.
      SourceRegion r = to_region(k.source(), source);
      if (!r.known()) r = to_region(v.source(), source);
      out.add(child, r);
      index_node(v, child, source, out);
    }
  } else if (const auto* a = node.as_array()) {
    size_t i = 0;
    for (const auto& el : *a) {
      std::string child = path + "[" + std::to_string(i++) + "]";
      out.add(child, to_region(el.source(), source));
      index_node(el, child, source, out);
    }
  }
}

}  // namespace

json::Value toml_to_json(const toml::node& node, json::Allocator& a) {
  switch (node.type()) {
    case toml::node_type::table: {
      json::Value obj(rapidjson::kObjectType);
      for (auto&& [k, v] : *node.as_table())
        obj.AddMember(json::str(k.str(), a), toml_to_json(v, a), a);
      return obj;
    }
    case toml::node_type::array: {
      json::Value arr(rapidjson::kArrayType);
      for (const auto& el : *node.as_array()) arr.PushBack(toml_to_json(el, a), a);
      return arr;
    }
    case toml::node_type::string: return json::str(node.as_string()->get(), a);
    case toml::node_type::integer: return json::Value(static_cast<int64_t>(node.as_integer()->get()));
    case toml::node_type::floating_point: {
      double d = node.as_floating_point()->get();
      return std::isfinite(d) ? json::Value(d) : json::Value();
    }
    case toml::node_type::boolean: return json::Value(node.as_boolean()->get());
    case toml::node_type::date: return json::str(stream_text(node.as_date()->get()), a);
    case toml::node_type::time: return json::str(stream_text(node.as_time()->get()), a);
    case toml::node_type::date_time: return json::str(stream_text(node.as_date_time()->get()), a);
    case toml::node_type::none: break;
  }
  return json::Value();
}

std::string toml_table_to_json_text(const toml::table& table) {
  json::Document doc;
  json::Value v = toml_to_json(table, doc.GetAllocator());
  return json::dump(v);
}

namespace {

// Inserts the TOML form of `v` into `arr` or `tbl` (exactly one non-null); null is skipped.
void push_json(const json::Value& v, toml::array* arr, toml::table* tbl, std::string_view key) {
  auto put = [&](auto&& value) {
    if (arr)
      arr->push_back(std::forward<decltype(value)>(value));
    else
      tbl->insert_or_assign(key, std::forward<decltype(value)>(value));
  };
  if (v.IsObject()) {
    put(json_object_to_toml(v));
  } else if (v.IsArray()) {
    toml::array inner;
    for (const auto& el : v.GetArray()) push_json(el, &inner, nullptr, {});
    put(std::move(inner));
  } else if (v.IsString()) {
    put(std::string(v.GetString(), v.GetStringLength()));
  } else if (v.IsBool()) {
    put(v.GetBool());
  } else if (v.IsInt64()) {
    put(v.GetInt64());
  } else if (v.IsNumber()) {
    put(v.GetDouble());
  }
}

}  // namespace

toml::table json_object_to_toml(const json::Value& object) {
  toml::table out;
  if (!object.IsObject()) return out;
  for (const auto& m : object.GetObject())
    push_json(m.value, nullptr, &out, std::string_view(m.name.GetString(), m.name.GetStringLength()));
  return out;
}

void index_sources(const toml::table& root, std::string_view source_name, SourceMap& out) {
  index_node(root, "", source_name, out);
}

}  // namespace atlas::config
