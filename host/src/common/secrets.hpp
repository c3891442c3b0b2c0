// Process-wide registry of secret values (API keys resolved from the environment, the
// database password). Anything the host writes to a log, an error message, an event, the
// storage spool, the database or an export passes through redact(), which replaces every
// registered value with "[REDACTED:<ENV_NAME>]".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace atlas::secrets {

// Reads environment variable `env_name`, registers its value as a secret and returns it.
// nullopt when the variable is unset or empty.
std::optional<std::string> read_env_secret(std::string_view env_name);

// Registers a value obtained another way. Values shorter than 6 bytes are ignored (too
// likely to match ordinary text).
void register_secret(std::string_view env_name, std::string_view value);

// Registers the password of a database URL (postgresql://user:PASSWORD@host/db, or a
// `password=` query parameter) under the name "DATABASE_PASSWORD".
void register_database_url(std::string_view url);

// The URL with its password (user:PASSWORD@ or password=...) replaced by "****"; other URLs
// unchanged. For anything that prints or stores a database URL.
std::string url_without_password(std::string_view url);

std::string redact(std::string_view text);

// True when `value` looks like a literal credential (sk-..., sk-ant-..., AIza..., a long
// bearer-looking token); used by the config checker to refuse keys pasted into files.
bool looks_like_api_key(std::string_view value);

}  // namespace atlas::secrets
