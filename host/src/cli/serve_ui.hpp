// The review UI's part of `atlas-host serve` (docs/review-ui.md): [serve] ui = true mounts it on
// the gateway's server; --ui-only serves it alone (no gateway routes, no upstream, no models).
#pragma once

#include <memory>

#include "cli/options.hpp"
#include "common/status.hpp"
#include "config/config.hpp"
#include "data/store.hpp"
#include "review_ui/review_ui.hpp"

namespace atlas::cli {

// The UI over `store` for a server listening on `listen_host`, configured by `config`.
Result<std::unique_ptr<review_ui::ReviewUi>> make_review_ui(const config::Config& config, data::Store& store,
                                                            const std::string& listen_host);

// `atlas-host serve --ui-only`: opens the storage (read-write: reviews are writes), serves the UI
// until SIGINT/SIGTERM. Returns the exit code.
int run_serve_ui_only(const po::variables_map& vm);

}  // namespace atlas::cli
