// Option handling every subcommand shares: parsing into a variables_map with usage errors,
// and the options that say where the stored sessions are (config, database URL, plugins).
#pragma once

#include <boost/program_options.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.hpp"
#include "config/config.hpp"
#include "config/statuses.hpp"
#include "data/open.hpp"

namespace atlas::cli {

namespace po = boost::program_options;

// Parses `args` against `desc` (and `positional`, when given); a bad command line becomes
// UsageError with Boost's message, which main prints with a hint.
po::variables_map parse_options(const Args& args, const po::options_description& desc,
                                const po::positional_options_description* positional = nullptr);

// -c/--config FILE, --database-url URL and --plugin-dir DIR (repeatable).
void add_store_options(po::options_description& desc);

// The config file of a command that needs one: -c/--config FILE, else ./atlas.toml when it
// exists (as every command defaults); otherwise UsageError saying so and what `purpose` is.
std::string required_config_path(const po::variables_map& vm, const std::string& purpose);

// The storage the store options name (defaults as data::OpenRequest).
data::OpenRequest store_request(const po::variables_map& vm);

// Every --name value given (empty when none); for repeatable options.
std::vector<std::string> values(const po::variables_map& vm, const char* name);

// Every --name value as a status (empty when none); a name that is no status is a UsageError
// that lists the valid ones and the nearest.
std::vector<SessionStatus> session_status_values(const po::variables_map& vm, const char* name);
std::vector<ReviewStatus> review_status_values(const po::variables_map& vm, const char* name);

// The model check before a command calls any model (skipped with --no-preflight): false after
// printing what is wrong with each model block, as `command` ("atlas-host run").
bool models_pass_preflight(const po::variables_map& vm, const config::Config& config, std::string_view command);

}  // namespace atlas::cli
