#include "plugin/info_json.hpp"

#include <charconv>
#include <string_view>

namespace atlas::plugin {

std::vector<std::string> capability_names(uint64_t bits) {
  static const char* const names[] = {"thread_safe", "cancel", "tools", "uses_llm", "needs_network"};
  std::vector<std::string> out;
  for (unsigned i = 0; i < 64; ++i) {
    if (!(bits & (uint64_t{1} << i))) continue;
    out.push_back(i < std::size(names) ? names[i] : "bit" + std::to_string(i));
  }
  return out;
}

json::Value to_json(const PluginInfo& info, json::Allocator& a) {
  json::Value v(rapidjson::kObjectType);
  json::set(v, "kind", kind_name(info.kind), a);
  json::set(v, "name", info.name, a);
  json::set(v, "version", info.version, a);
  json::set(v, "vendor", info.vendor, a);
  json::set(v, "license", info.license, a);
  json::set(v, "description", info.description, a);
  json::Value caps(rapidjson::kArrayType);
  for (const auto& c : capability_names(info.capabilities)) caps.PushBack(json::str(c, a), a);
  json::set(v, "capabilities", std::move(caps), a);
  json::set(v, "capability_bits", json::Value(static_cast<uint64_t>(info.capabilities)), a);
  json::Value schema;  // null = takes no config
  if (!info.config_schema.empty()) {
    json::Document d;
    sdk::parse_json(d, info.config_schema, json::kMaxInputDepth);
    if (!d.HasParseError()) schema.CopyFrom(d, a);
  }
  json::set(v, "config_schema", std::move(schema), a);
  json::set(v, "file", info.file.string(), a);
  json::set(v, "abi", std::to_string(info.abi_major) + "." + std::to_string(info.abi_minor), a);
  json::set(v, "build_tag", info.build_tag, a);
  json::set(v, "has_cancel", info.has_cancel, a);
  return v;
}

PluginInfo plugin_info_from_json(const json::Value& v) {
  PluginInfo p;
  std::string kind = json::get_string(v, "kind");
  p.kind = kind == "judge" ? Kind::kJudge : kind == "probe" ? Kind::kProbe : kind == "storage" ? Kind::kStorage : Kind::kAdapter;
  p.name = json::get_string(v, "name");
  p.version = json::get_string(v, "version");
  p.vendor = json::get_string(v, "vendor");
  p.license = json::get_string(v, "license");
  p.description = json::get_string(v, "description");
  if (const auto* bits = json::find(v, "capability_bits"); bits && bits->IsUint64()) p.capabilities = bits->GetUint64();
  if (const auto* s = json::find(v, "config_schema"); s && s->IsObject()) p.config_schema = json::dump(*s);
  p.file = json::get_string(v, "file");
  // "MAJOR.MINOR"; anything else reads as 0.0, which no host accepts (the load is refused with
  // the ABI mismatch message) rather than throwing out of the probe's reader.
  std::string abi = json::get_string(v, "abi", "0.0");
  size_t dot = abi.find('.');
  std::string_view major_text = std::string_view(abi).substr(0, dot);
  std::string_view minor_text = dot == std::string::npos ? std::string_view("0") : std::string_view(abi).substr(dot + 1);
  uint16_t major = 0, minor = 0;
  auto [major_end, major_err] = std::from_chars(major_text.data(), major_text.data() + major_text.size(), major);
  auto [minor_end, minor_err] = std::from_chars(minor_text.data(), minor_text.data() + minor_text.size(), minor);
  const bool well_formed = major_err == std::errc() && minor_err == std::errc() &&
                           major_end == major_text.data() + major_text.size() &&
                           minor_end == minor_text.data() + minor_text.size();
  p.abi_major = well_formed ? major : 0;
  p.abi_minor = well_formed ? minor : 0;
  p.build_tag = json::get_string(v, "build_tag");
  p.has_cancel = json::get_bool(v, "has_cancel");
  return p;
}

json::Value to_json(const Diagnostic& d, json::Allocator& a) {
  json::Value v(rapidjson::kObjectType);
  json::set(v, "path", d.path.string(), a);
  json::set(v, "severity", severity_name(d.severity), a);
  json::set(v, "message", d.message, a);
  return v;
}

Diagnostic diagnostic_from_json(const json::Value& v) {
  Diagnostic d;
  d.path = json::get_string(v, "path");
  std::string s = json::get_string(v, "severity");
  d.severity = s == "info" ? Severity::kInfo : s == "warning" ? Severity::kWarning : Severity::kError;
  d.message = json::get_string(v, "message");
  return d;
}

}  // namespace atlas::plugin
