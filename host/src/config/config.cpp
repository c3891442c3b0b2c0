#include "config/config.hpp"

#include <cctype>
#include <vector>

#include "common/json.hpp"
#include "config/toml_json.hpp"

namespace atlas::config {

std::string SourceRegion::to_string() const {
  std::string out = file.empty() ? std::string("<config>") : file;
  if (line != 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  return out;
}

void SourceMap::add(std::string key_path, SourceRegion region) {
  regions_.insert_or_assign(std::move(key_path), std::move(region));
}

const SourceRegion* SourceMap::find(std::string_view key_path) const {
  auto it = regions_.find(key_path);
  return it == regions_.end() ? nullptr : &it->second;
}

namespace {

// RFC 6901 token unescaping (~1 -> /, ~0 -> ~).
std::string unescape_pointer_token(std::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      out += token[i];
    }
  }
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

std::string SourceMap::json_pointer_to_key_path(std::string_view base, std::string_view pointer) const {
  std::string path(base);
  if (!pointer.empty() && pointer.front() == '#') pointer.remove_prefix(1);  // URI fragment form
  size_t pos = 0;
  while (pos < pointer.size()) {
    if (pointer[pos] != '/') break;  // malformed: stop at what we understood
    size_t next = pointer.find('/', pos + 1);
    std::string token = unescape_pointer_token(
        pointer.substr(pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1));
    std::string as_index = path + "[" + token + "]";
    if (all_digits(token) && find(as_index) != nullptr) {
      path = std::move(as_index);
    } else {
      path += (path.empty() ? "" : ".") + key_path_segment(token);
    }
    if (next == std::string_view::npos) break;
    pos = next;
  }
  return path;
}

const SourceRegion* SourceMap::find_json(std::string_view base, std::string_view pointer) const {
  std::string path = json_pointer_to_key_path(base, pointer);
  // Walk up to the nearest key that was written in the file.
  while (true) {
    if (const SourceRegion* r = find(path)) return r;
    if (path.size() <= base.size()) return nullptr;
    size_t cut = path.size();
    if (path.back() == ']') {
      cut = path.rfind('[');
    } else if (path.back() == '"') {  // quoted segment: find its opening quote preceded by '.'
      size_t open = path.rfind(".\"", path.size() - 2);
      cut = open == std::string::npos ? base.size() : open;
    } else {
      size_t dot = path.rfind('.');
      cut = dot == std::string::npos ? 0 : dot;
    }
    if (cut < base.size()) cut = base.size();
    path.resize(cut);
  }
}

std::string_view lane_name(Lane lane) {
  switch (lane) {
    case Lane::kAuto: return "auto";
    case Lane::kPaired: return "paired";
    case Lane::kCoach: return "coach";
  }
  return "paired";
}

std::optional<Lane> parse_lane(std::string_view text) {
  if (text == "auto") return Lane::kAuto;
  if (text == "paired") return Lane::kPaired;
  if (text == "coach") return Lane::kCoach;
  return std::nullopt;
}

ModelConfig default_learning_model() {
  ModelConfig m;
  m.provider = "gemini";
  m.model = "gemini-2.5-flash";
  m.api_key_env = "GEMINI_API_KEY";
  m.temperature = 0.1;
  m.max_output_tokens = 8192;
  m.timeout_seconds = 120.0;
  return m;
}

ModelConfig default_probe_model() {
  ModelConfig m;
  m.provider = "xai";
  m.model = "grok-4-fast";
  m.api_key_env = "XAI_API_KEY";
  m.temperature = 0.2;
  m.timeout_seconds = 20.0;
  return m;
}

bool StorageConfig::is_postgres() const {
  return database_url.rfind("postgresql://", 0) == 0 || database_url.rfind("postgres://", 0) == 0;
}

bool StorageConfig::is_sqlite() const { return database_url.rfind("sqlite://", 0) == 0; }

std::string merged_plugin_config(const Config& config, std::string_view plugin, std::string_view instance_json) {
  auto it = config.plugins.configs.find(std::string(plugin));
  std::string_view base_text = it == config.plugins.configs.end() ? std::string_view("{}") : it->second;
  if (instance_json.empty()) instance_json = "{}";
  auto base = json::parse(base_text, "plugin config");
  auto inst = json::parse(instance_json, "plugin instance config");
  // Both come from the loader and are objects; fall back defensively rather than fail.
  if (!base.is_ok() || !base->IsObject()) return std::string(instance_json);
  if (!inst.is_ok() || !inst->IsObject()) return json::dump(*base);
  json::Document& out = *base;
  for (auto& m : inst->GetObject()) {
    json::Value copy(m.value, out.GetAllocator());
    json::set(out, std::string_view(m.name.GetString(), m.name.GetStringLength()), std::move(copy),
              out.GetAllocator());
  }
  return json::dump(out);
}

std::string locate_plugin_config(const Config& config, std::string_view instance_key_path, std::string_view plugin,
                                 std::string_view json_pointer) {
  const SourceMap& m = config.sources;
  const std::string plugin_base = join_key_path("plugins", plugin);
  std::vector<std::string> bases;
  if (!instance_key_path.empty()) bases.emplace_back(instance_key_path);
  bases.push_back(plugin_base);
  auto cite = [](const SourceRegion& r, const std::string& path) { return r.to_string() + " (" + path + ")"; };
  // Exact member first (instance wins over the plugin table, as in merged_plugin_config).
  for (const auto& base : bases) {
    std::string path = m.json_pointer_to_key_path(base, json_pointer);
    if (const SourceRegion* r = m.find(path)) return cite(*r, path);
  }
  // Otherwise the nearest enclosing table that was written.
  for (const auto& base : bases) {
    if (const SourceRegion* r = m.find_json(base, json_pointer)) {
      std::string path = m.json_pointer_to_key_path(base, json_pointer);
      return cite(*r, path);
    }
  }
  return {};
}

}  // namespace atlas::config
