// Entry points of the subcommands, one per cmd_<name>.cpp.
#pragma once

#include "cli/cli.hpp"

namespace atlas::cli {

int run_plugins(const Args& args);
int run_run(const Args& args);
int run_quickstart(const Args& args);
int run_eval(const Args& args);
int run_config(const Args& args);
int run_db(const Args& args);
int run_review(const Args& args);
int run_export(const Args& args);
int run_train(const Args& args);
int run_report(const Args& args);
int run_playbook(const Args& args);
int run_tokens(const Args& args);
int run_scan(const Args& args);
int run_mock_llm(const Args& args);
int run_serve(const Args& args);
int run_enqueue(const Args& args);
int run_worker(const Args& args);
int run_queue(const Args& args);
// Internal (not listed in help): the process that runs a process-isolated plugin.
int run_plugin_worker(const Args& args);

}  // namespace atlas::cli
