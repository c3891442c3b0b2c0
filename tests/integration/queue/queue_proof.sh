#!/usr/bin/env bash
# The work queue's proof (docs/scaling.md, "Proof"): one private PostgreSQL cluster, N worker
# processes of the real atlas-host against `atlas-host mock-llm`, T tasks of which every 50th
# is a scripted failure (the student's model answers HTTP 400 for it, every time). Two workers
# are SIGKILLed at random moments while sessions run and replacements are started. At the end:
#   - every task is `done` or `dead`, none pending or leased (none lost);
#   - every done task has exactly one stored session linked to it (sessions.queue_task_id), and
#     no task has a second succeeded session anywhere (none duplicated);
#   - the dead-lettered tasks are exactly the scripted failures, each with its last error.
#
#   tests/integration/queue/queue_proof.sh --bin build/asan/bin                      # CI: 500 tasks
#   tests/integration/queue/queue_proof.sh --bin build/release/bin --tasks 5000 --kills 6 --seed 42 --keep
set -uo pipefail

bin="" tasks=500 workers=4 concurrency=4 kills=2 seed="" keep=0
while (($#)); do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --tasks) tasks="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --kills) kills="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "queue_proof: unknown argument $1 (--bin DIR [--tasks N] [--workers N] [--concurrency N] [--kills N] [--seed N] [--keep])" >&2; exit 2 ;;
  esac
done
[[ -x "$bin/atlas-host" ]] || { echo "queue_proof: no atlas-host in '$bin' (--bin build/asan/bin)" >&2; exit 2; }
host="$bin/atlas-host"
[[ -n "$seed" ]] || seed=$((RANDOM * 32768 + RANDOM))
RANDOM=$seed
echo "queue_proof: seed $seed, $tasks tasks, $workers workers x $concurrency, $kills SIGKILL(s) (rerun: --seed $seed)"

work=$(mktemp -d /tmp/atlas-queue-proof.XXXXXX)
chmod 755 "$work"
pg_script="$(cd "$(dirname "$0")/../../support" && pwd)/postgres.sh"
mock_pid="" pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  [[ -n "$mock_pid" ]] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
  bash "$pg_script" stop >/dev/null 2>&1
  if ((keep)); then echo "queue_proof: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "queue_proof: FAIL: $*" >&2; failed=1; }
failed=0

# ---------------------------------------------------------------- PostgreSQL (private cluster)
export ATLAS_TEST_PG_STATE="$work/pg.state"
eval "$(bash "$pg_script" start 2>"$work/pg.log")" || { echo "queue_proof: postgres did not start: $(tail -3 "$work/pg.log")" >&2; exit 1; }
url="$ATLAS_TEST_PG_URL"
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$url" -c "$1"; }

# ---------------------------------------------------------------- mock-llm
cat >"$work/scenario.json" <<'EOF2'
{"default": "echo", "models": ["mock-model"], "rules": [
  {"match": {"role": "student", "any_contains": "SCRIPTED-FAIL"}, "response": {"fault": "http_error", "status": 400}},
  {"match": {"role": "teacher"}, "response": {"json": {"valid": true, "guidance": "ok", "rationale": "fine"}}},
  {"match": {"role": "judge"}, "response": {"json": {"score": 0.8, "rationale": "good", "uncertainty": 0.1}}},
  {"match": {"role": "probe"}, "response": {"json": {"mode": "auto", "confidence": 0.9}}},
  {"response": {"text": "Final answer: done.", "latency_ms": 150}}]}
EOF2
fifo="$work/mock.ready"
mkfifo "$fifo"
"$host" mock-llm --scenario "$work/scenario.json" --port 0 --json >"$fifo" 2>"$work/mock.err" &
mock_pid=$!
read -r line <"$fifo" || { echo "queue_proof: mock-llm did not start: $(cat "$work/mock.err")" >&2; exit 1; }
mock_url=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["url"])' "$line")

cat >"$work/atlas.toml" <<EOF2
[agent]
adapter = "openai"
name = "queue-proof"
system_prompt = "You answer briefly."

[student.llm]
provider = "openai"
model = "mock-model"
api_base = "$mock_url/v1"
api_key_env = "OPENAI_API_KEY"
timeout_seconds = 5
[student.llm.retry]
attempts = 1

[teacher.llm]
provider = "openai"
model = "mock-model"
api_base = "$mock_url/v1"
api_key_env = "OPENAI_API_KEY"

[orchestration]
forced_mode = "auto"

[rewards]
session_judges = []
step_judges = []
samples = 1
temperatures = [0.2]

[rewards.small_model]
provider = "openai"
model = "mock-model"
api_base = "$mock_url/v1"
api_key_env = "OPENAI_API_KEY"

[learning]
enabled = false

[routing]
probe = "history"

[storage]
database_url = "$url"
spool_path = "$work/spool.jsonl"

[review]
require_approval = false
EOF2
export OPENAI_API_KEY="sk-queue-proof-not-a-real-key"

# ---------------------------------------------------------------- tasks: every 50th fails by script
python3 - "$work/tasks.jsonl" "$tasks" <<'EOF2'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(n):
        text = f"task {i}: SCRIPTED-FAIL" if i % 50 == 7 else f"task {i}: say done"
        f.write(json.dumps({"id": f"q{i}", "task": text}) + "\n")
EOF2
expected_dead=$(python3 -c "import sys; n=int(sys.argv[1]); print(' '.join(f'q{i}' for i in range(n) if i % 50 == 7))" "$tasks" | tr ' ' '\n' | sort)
"$host" db migrate -c "$work/atlas.toml" >/dev/null 2>"$work/migrate.err" || { cat "$work/migrate.err" >&2; exit 1; }
"$host" enqueue -c "$work/atlas.toml" --tasks "$work/tasks.jsonl" --max-attempts 3 --json >"$work/enqueue.out" 2>"$work/enqueue.err" \
  || { echo "queue_proof: enqueue failed: $(cat "$work/enqueue.err")" >&2; exit 1; }
# Enqueuing the same file again queues nothing twice.
"$host" enqueue -c "$work/atlas.toml" --tasks "$work/tasks.jsonl" --max-attempts 3 --json >"$work/enqueue2.out" 2>>"$work/enqueue.err"
grep -q "\"queued\":0" "$work/enqueue2.out" || fail "a second enqueue of the same file queued tasks: $(cat "$work/enqueue2.out")"

# ---------------------------------------------------------------- workers, kills, replacements
n_started=0
start_worker() {
  n_started=$((n_started + 1))
  "$host" worker -c "$work/atlas.toml" --concurrency "$concurrency" --lease-seconds 5 --retry-delay-seconds 0 \
    --poll-seconds 0.2 --exit-when-empty --no-preflight >"$work/worker$n_started.out" 2>"$work/worker$n_started.err" &
  pids+=($!)
}
for ((i = 0; i < workers; i++)); do start_worker; done

done_count() { sql "SELECT COUNT(*) FROM queue_tasks WHERE state IN ('done', 'dead')"; }
deadline=$((SECONDS + 600))
killed=0
live=("${pids[@]}")
# random moments: once random shares (10-50%) of the tasks are finished, while sessions run. This
# loop sees the queue's progress late (a psql call every 0.2 s; on a loaded machine ~1 s late, and
# the queue does ~100 tasks a second with the student's 150-ms replies): the rest of the run must
# outlast that, or a kill finds every worker gone and the proof fails without a fault in the queue.
targets=$(for ((k = 0; k < kills; k++)); do echo $(( tasks * (10 + RANDOM % 40) / 100 )); done | sort -n)
for target in $targets; do
  while (( $(done_count) < target && SECONDS < deadline )); do sleep 0.2; done
  victim_index=$((RANDOM % ${#live[@]}))
  victim=${live[$victim_index]}
  if kill -0 "$victim" 2>/dev/null; then
    unset "live[$victim_index]"
    live=("${live[@]}")
    leased=$(sql "SELECT COUNT(*) FROM queue_tasks WHERE state = 'leased' AND leased_by LIKE '%:$victim'")
    kill -9 "$victim"
    wait "$victim" 2>/dev/null
    killed=$((killed + 1))
    echo "queue_proof: SIGKILL worker pid $victim at $(done_count)/$tasks finished ($leased task(s) leased by it)"
    start_worker
    live+=("${pids[-1]}")
  fi
done
((killed == kills)) || fail "only $killed of $kills kills landed on a live worker"

# every worker exits by itself once the queue is empty
for p in "${pids[@]}"; do
  while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then fail "worker $p did not exit"; kill -9 "$p"; fi
  wait "$p" 2>/dev/null
  code=$?
  [[ $code == 0 || $code == 137 ]] || fail "worker $p exited $code: $(tail -3 "$work"/worker*.err)"
done

# ---------------------------------------------------------------- checks
read -r done_n dead_n other_n <<<"$(sql "SELECT COUNT(*) FILTER (WHERE state = 'done'), COUNT(*) FILTER (WHERE state = 'dead'), COUNT(*) FILTER (WHERE state NOT IN ('done', 'dead')) FROM queue_tasks" | tr '|' ' ')"
n_dead_expected=$(echo "$expected_dead" | grep -c .)
echo "queue_proof: done $done_n, dead $dead_n, other $other_n (expected done $((tasks - n_dead_expected)), dead $n_dead_expected)"
((other_n == 0)) || fail "$other_n task(s) neither done nor dead (lost)"
((done_n == tasks - n_dead_expected)) || fail "done $done_n, expected $((tasks - n_dead_expected))"
actual_dead=$(sql "SELECT task_id FROM queue_tasks WHERE state = 'dead' ORDER BY task_id" | sort)
[[ "$actual_dead" == "$expected_dead" ]] || fail "dead-lettered tasks differ from the scripted failures: $(diff <(echo "$expected_dead") <(echo "$actual_dead") | head -5 | tr '\n' ' ')"
no_error=$(sql "SELECT COUNT(*) FROM queue_tasks WHERE state = 'dead' AND (last_error IS NULL OR last_error = '')")
((no_error == 0)) || fail "$no_error dead task(s) without a last error"
linked=$(sql "SELECT COUNT(*) FROM queue_tasks q JOIN sessions s ON s.id = q.session_id AND s.queue_task_id = q.task_id AND s.status = 'succeeded' WHERE q.state = 'done'")
((linked == done_n)) || fail "only $linked of $done_n done tasks have their stored session linked"
dups=$(sql "SELECT COUNT(*) FROM (SELECT metadata->'atlas_queue'->>'task_id' AS t FROM sessions WHERE status = 'succeeded' GROUP BY 1 HAVING COUNT(*) > 1) d")
((dups == 0)) || fail "$dups task(s) have more than one succeeded session"
succeeded=$(sql "SELECT COUNT(*) FROM sessions WHERE status = 'succeeded'")
((succeeded == done_n)) || fail "$succeeded succeeded sessions for $done_n done tasks"
lost_lease=$(sql "SELECT COUNT(*) FROM sessions WHERE metadata->'atlas_queue'->>'outcome' = 'lease_lost'")
running=$(sql "SELECT COUNT(*) FROM sessions WHERE status = 'running'")
echo "queue_proof: sessions: $succeeded succeeded (one per done task), $running left running by killed workers, $lost_lease stored interrupted after a lost lease"
if ((failed)); then keep=1; echo "queue_proof: FAILED (seed $seed)"; exit 1; fi
echo "queue_proof: passed"
