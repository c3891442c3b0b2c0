// Plain-text rendering of session results for the CLI (tables, token usage, progress bar).
#pragma once

#include <string>
#include <vector>

#include "runtime/runtime.hpp"

namespace atlas::data {
class Store;
}

namespace atlas::runtime::console {

// Column-aligned table; the first row is the header, separated by a rule.
std::string table(const std::vector<std::vector<std::string>>& rows);
// "role  calls  prompt  completion  total" for one session.
std::string token_table(const SessionReport& report);
// The result table of a batch (`run --tasks`): one row per task with its session id, then a
// summary line (succeeded/failed counts, mean reward, total tokens).
std::string batch_table(const std::vector<TaskSpec>& tasks, const std::vector<SessionReport>& reports);
// "[#########.........] 3/10" (width cells).
std::string progress_bar(size_t done, size_t total, size_t width = 30);
// Fixed decimals, "-" for nullopt.
std::string fixed(std::optional<double> v, int decimals = 2);
// First `n` characters on one line ("..." when cut).
std::string one_line(std::string_view s, size_t n);
bool color_enabled(int fd);
// Where `store` really is, as its storage plugin reports it ("sqlite /abs/path/atlas.db",
// "postgresql postgresql://user@host/db"), for "stored in ..." messages: the store that was
// opened, whatever the flags and config said. "" when the plugin does not tell.
std::string store_location(data::Store& store);  // isatty(fd) and NO_COLOR unset

}  // namespace atlas::runtime::console
