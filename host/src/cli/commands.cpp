// The table of subcommands. Register only commands that work.
#include "cli/cli.hpp"
#include "cli/commands.hpp"

namespace atlas::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      // name, one-line summary, entry point
      {"run", "Run tasks through the supervised loop (--task TEXT | --tasks FILE.jsonl)", &run_run},
      {"quickstart", "Three security-review tasks showing the learning loop (mock models without a key)", &run_quickstart},
      {"eval", "Evaluate the capability probe on a labelled dataset (eval probe)", &run_eval},
      {"plugins", "List, inspect and verify plugins (list|inspect|verify)", &run_plugins},
      {"enqueue", "Queue tasks in the database for workers (--tasks FILE.jsonl, --rollouts N, --priority P)", &run_enqueue},
      {"worker", "Run queued tasks: claim, heartbeat, run like `run`, drain on SIGTERM (--concurrency N, --metrics-listen)", &run_worker},
      {"queue", "The work queue: status, retry (dead/cancelled), cancel", &run_queue},
      {"serve", "Capture gateway: agents change one base URL; calls are supervised and stored as episodes", &run_serve},
      {"mock-llm", "Serve OpenAI/Anthropic/Gemini wire formats from a scenario file (provider test double)", &run_mock_llm},
      {"config", "Validate configuration files and print the effective config (check|show)", &run_config},
      {"db", "Database schema and state: migrate, status (incl. the write spool)", &run_db},
      {"review", "Review stored sessions (list|show|approve|quarantine|note)", &run_review},
      {"export", "Export sessions for training (atlas-jsonl, trl-sft, trl-grpo, trl-dpo, openai-ft)", &run_export},
      {"train", "Export with the [train] filters and run the configured trainer", &run_train},
      {"playbook", "Learning playbooks: show, history, diff, edit, reset, rejected candidates", &run_playbook},
      {"tokens", "Token-level capture: check stored prompt token ids against the server's tokenizer (check)", &run_tokens},
      {"report", "Learning report: reward trend, lanes, teacher interventions, tokens (text/JSON/SVG)", &run_report},
      {"scan", "Find tool schemas and generate an adapter plugin (DIR, --mcp, --openapi, --out)", &run_scan},
  };
  return table;
}

}  // namespace atlas::cli
