// Registers the secrets a configuration names before anything is written (see secrets.hpp).
#include "common/json.hpp"
#include "common/secrets.hpp"
#include "config/loader.hpp"

namespace atlas::config {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void register_in(const json::Value& v) {
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (m.value.IsString() && ends_with(name, "_env") && m.value.GetStringLength() > 0)
        (void)secrets::read_env_secret(m.value.GetString());
      else if (m.value.IsString() && name == "database_url")
        secrets::register_database_url(m.value.GetString());
      else
        register_in(m.value);
    }
  } else if (v.IsArray()) {
    for (const auto& el : v.GetArray()) register_in(el);
  }
}

}  // namespace

void register_config_secrets(const Config& config) {
  register_in(config_to_json(config));
  // Well-known credentials, in case a task or a note quotes one the config does not name.
  for (const char* name : {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "XAI_API_KEY",
                           "AZURE_OPENAI_API_KEY", "PGPASSWORD"})
    (void)secrets::read_env_secret(name);
}

}  // namespace atlas::config
