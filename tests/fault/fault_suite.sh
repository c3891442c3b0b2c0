#!/usr/bin/env bash
# The fault suite: scripted end-to-end runs of the real atlas-host binary under faults nobody chose
# by hand, counting what happened to every session tried. See docs/fault-suite.md.
#
#   tests/fault/fault_suite.sh --bin DIR --fixtures DIR [--rounds N] [--seed S] [--postgres] [--keep]
#
# Each round picks a fault kind at random (seeded: the seed is printed, rerun with --seed to repeat):
#   model    a scenario whose rules inject random provider faults (429, 500, 529, timeouts, cut JSON,
#            dropped connections, mid-stream errors) and hostile replies (200k-deep JSON, invalid UTF-8,
#            NUL) into random roles, on tasks that carry a secret, NUL, invalid UTF-8 and deep metadata
#   sigkill  one `run` per task; one of them is SIGKILLed at a random moment
#   sigint   a batch interrupted with SIGINT or SIGTERM at a random moment
#   outage   (with --postgres: a private throw-away cluster) PostgreSQL stopped mid-run while `db status` and `review list` run; then
#            restarted and the spool replayed
#   plugins  hostile plugins (manifests that segfault, hang or exit(0)) in the plugin path while
#            `run`, `export` and `review approve` do their jobs
# After every round: every task a command reported stored is in the database exactly once (lost),
# the database passes its integrity check, no session is left `running` by a process that ended
# normally or by signal, every exported line is valid JSON in valid UTF-8 (corrupt), and the secret
# appears in no byte written: database, WAL, spool, exports, stdout, stderr (leaked).
# The last line is "N passed, N failed" (rounds); the exit code is non-zero on any loss, corruption,
# leak or unexpected exit code.
set -uo pipefail

bin="" fixtures="" rounds=4 seed="" use_pg=0 pg_url="" keep=0
while (($#)); do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --fixtures) fixtures="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --postgres) use_pg=1; shift ;;
    --keep) keep=1; shift ;;
    *) echo "fault_suite: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x "$bin/atlas-host" ]] || { echo "fault_suite: --bin DIR must hold atlas-host" >&2; exit 2; }
host="$bin/atlas-host"
[[ -n "$seed" ]] || seed=$(( $(date +%s%N) % 1000000 ))
RANDOM=$seed
echo "fault_suite: seed $seed, $rounds round(s) (rerun: --seed $seed --rounds $rounds)"

work=$(mktemp -d /tmp/atlas-fault.XXXXXX)
chmod 700 "$work"
mock_pid=""
pg_script="$(cd "$(dirname "$0")/../support" && pwd)/postgres.sh"
cleanup() {
  [[ -n "$mock_pid" ]] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
  [[ -n "$pg_url" ]] && bash "$pg_script" stop >/dev/null 2>&1
  if ((keep)); then echo "fault_suite: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The secret every provider key is set to: it must never be written anywhere.
secret="sk-faultsuite-$(printf '%06d' "$seed")-9f3b2c7d1e"
export OPENAI_API_KEY="$secret"
export ATLAS_FAULT_DB_PASSWORD="$secret"

tried=0 stored=0 lost=0 corrupt=0 leaked=0 bad_exit=0 passed=0 failed=0

rand() { echo $((RANDOM % $1)); }
py() { python3 - "$@"; }

# ---------------------------------------------------------------- mock-llm with a random scenario
start_mock() {  # $1 = scenario file
  [[ -n "$mock_pid" ]] && { kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; }
  local fifo="$work/mock.ready"
  rm -f "$fifo"; mkfifo "$fifo"
  "$host" mock-llm --scenario "$1" --port 0 --json >"$fifo" 2>"$work/mock.err" &
  mock_pid=$!
  local line
  read -r line <"$fifo" || { echo "fault_suite: mock-llm did not start: $(cat "$work/mock.err")" >&2; exit 1; }
  mock_url=$(py "$line" <<'EOF'
import json, sys
print(json.loads(sys.argv[1])["url"])
EOF
)
}

# A scenario: the student answers, the teacher approves, judges score; before those, random rules
# inject faults and hostile replies into random roles, each a random number of times.
write_scenario() {  # $1 = file, $2 = seed
  py "$1" "$2" <<'EOF'
import json, random, sys
path, seed = sys.argv[1], int(sys.argv[2])
r = random.Random(seed)
roles = ["student", "teacher", "judge", "learning", "probe"]
faults = [{"fault": "rate_limit", "retry_after_ms": 20}, {"fault": "server_error"}, {"fault": "overloaded"},
          {"fault": "malformed_json"}, {"fault": "drop_connection"}, {"fault": "mid_stream_error"},
          {"fault": "timeout", "hang_ms": 3000}, {"fault": "http_error", "status": 400}]
deep = "[" * 200000 + "]" * 200000
hostile = [{"text": deep}, {"text": "a NUL \u0000 in a reply"}, {"json": {"score": "NaN", "rationale": 7}},
           {"text": "{\"steps\": " + deep + "}"}, {"text": ""}]
rules = []
for _ in range(r.randint(2, 6)):
    rule = {"match": {"role": r.choice(roles)}, "times": r.randint(1, 3)}
    rule["response"] = dict(r.choice(faults + hostile))
    rules.append(rule)
rules += [
    {"match": {"role": "teacher"}, "response": {"json": {"valid": True, "guidance": "ok", "rationale": "fine"}}},
    {"match": {"role": "judge"}, "response": {"json": {"score": 0.8, "rationale": "good", "uncertainty": 0.1}}},
    {"match": {"role": "arbiter"}, "response": {"json": {"score": 0.8, "rationale": "good", "uncertainty": 0.1}}},
    {"match": {"role": "learning"}, "response": {"json": {"student_learning": "Check inputs.", "teacher_learning": "Be brief."}}},
    {"match": {"role": "probe"}, "response": {"json": {"mode": "paired", "confidence": 0.7}}},
    {"match": {"system_contains": "must plan"}, "response": {"json": {"steps": [{"id": 1, "description": "do it", "depends_on": []}]}}},
    {"response": {"text": "Final answer: done.", "latency_ms": 5}},
]
json.dump({"default": "echo", "models": ["mock-model"], "rules": rules}, open(path, "w"))
EOF
}

write_config() {  # $1 = file, $2 = database url
  cat >"$1" <<EOF
[agent]
adapter = "openai"
name = "fault-suite"
system_prompt = "You answer briefly."

[student.llm]
provider = "openai"
model = "mock-model"
api_base = "$mock_url/v1"
api_key_env = "OPENAI_API_KEY"
timeout_seconds = 2
[student.llm.retry]
attempts = 2
backoff_seconds = 0.01
max_backoff_seconds = 0.05

[teacher.llm]
provider = "openai"
model = "mock-model"
api_base = "$mock_url/v1"
api_key_env = "OPENAI_API_KEY"
timeout_seconds = 2

[rewards]
samples = 2
temperatures = [0.2, 0.8]

[rewards.small_model]
provider = "openai"
model = "mock-model"
api_base = "$mock_url/v1"
api_key_env = "OPENAI_API_KEY"
timeout_seconds = 2

[learning.llm]
provider = "openai"
model = "mock-model"
api_base = "$mock_url/v1"
api_key_env = "OPENAI_API_KEY"
timeout_seconds = 2

[routing]
probe = "history"

[storage]
database_url = "$2"
spool_path = "$work/spool"
write_retry_seconds = 1

[review]
require_approval = false
EOF
}

# Tasks: each carries a unique marker; some carry the secret, a NUL, invalid UTF-8 or deep metadata.
write_tasks() {  # $1 = file, $2 = count, $3 = round
  py "$1" "$2" "$3" "$secret" <<'EOF'
import json, sys
path, n, rnd, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(path, "wb") as f:
    for i in range(n):
        marker = f"fault-task-{rnd}-{i}"
        kind = i % 5
        if kind == 0:
            line = json.dumps({"task": f"{marker}: review this (key {secret})"}).encode()
        elif kind == 1:
            line = json.dumps({"task": f"{marker}: text with a \u0000 NUL"}).encode()
        elif kind == 2:
            line = b'{"task": "' + marker.encode() + b': bytes \xff\xfe not UTF-8"}'
        elif kind == 3:
            line = json.dumps({"task": f"{marker}: deep metadata"}).encode()[:-1] + b', "metadata": {"d": ' + b"[" * 100000 + b"]" * 100000 + b"}}"
        else:
            line = json.dumps({"task": f"{marker}: plain", "metadata": {"note": secret}}).encode()
        f.write(line + b"\n")
EOF
}

# ---------------------------------------------------------------- the checks
db_query() {  # $1 = url, $2 = sql  -> rows, '|' separated
  case "$1" in
    sqlite://*) sqlite3 -batch -noheader "${1#sqlite://}" "$2" ;;
    *) psql -X -q -t -A -v ON_ERROR_STOP=1 "$1" -c "$2" ;;
  esac
}

# Markers the command reported stored: `run --json` prints reports with the task text and `stored`.
reported_stored() {  # $1 = json output file -> markers, one a line
  py "$1" <<'EOF'
import json, re, sys
try:
    data = json.load(open(sys.argv[1], encoding="utf-8", errors="replace"))
except Exception:
    sys.exit(0)
for r in data if isinstance(data, list) else [data]:
    if r.get("stored") and r.get("session_id"):
        m = re.search(r"fault-task-[0-9]+-[0-9]+", r.get("task", ""))
        if m: print(m.group(0))
EOF
}

check_round() {  # $1 = name, $2 = db url, $3 = file of markers reported stored, $4 = allow running rows (0/1)
  local name="$1" url="$2" reported="$3" allow_running="$4"
  local n_reported n_missing n_dup n_running
  n_reported=$(sort -u "$reported" | grep -c . || true)
  stored=$((stored + n_reported))
  # lost: reported stored, not in the database exactly once
  while read -r marker; do
    [[ -n "$marker" ]] || continue
    local count
    count=$(db_query "$url" "SELECT COUNT(*) FROM sessions WHERE task LIKE '$marker:%'")
    if [[ "$count" != "1" ]]; then
      echo "  LOST/DUP: $marker reported stored, found $count time(s)"
      lost=$((lost + 1))
    fi
  done < <(sort -u "$reported")
  # corrupt: integrity, rows left running, exports not JSON/UTF-8
  if [[ "$url" == sqlite://* ]]; then
    local ic
    ic=$(db_query "$url" "PRAGMA integrity_check")
    [[ "$ic" == "ok" ]] || { echo "  CORRUPT: integrity_check: $ic"; corrupt=$((corrupt + 1)); }
  fi
  if ((!allow_running)); then
    n_running=$(db_query "$url" "SELECT COUNT(*) FROM sessions WHERE status = 'running'")
    if [[ "$n_running" != "0" ]]; then
      echo "  CORRUPT: $n_running session(s) left 'running'"; corrupt=$((corrupt + n_running))
    fi
  fi
  local fmt
  for fmt in atlas-jsonl trl-sft openai-ft; do
    local out="$work/export-$name-$fmt.jsonl"
    "$host" export -c "$work/$name.toml" --format "$fmt" --output "$out" --include-all-statuses --include-failed -q \
      >>"$work/$name.stdout" 2>>"$work/$name.stderr"
    local rc=$?
    # an export that matched nothing exits 1 by design (interrupted and unstarted tasks never export)
    if ((rc == 1)) && tail -1 "$work/$name.stderr" | grep -q "no session matched"; then continue; fi
    if ((rc != 0)); then
      echo "  export $fmt exited $rc: $(tail -2 "$work/$name.stderr")"; bad_exit=$((bad_exit + 1))
      continue
    fi
    local bad
    bad=$(py "$out" <<'EOF'
import json, sys
bad = 0
for raw in open(sys.argv[1], "rb"):
    try:
        json.loads(raw.decode("utf-8"))
    except Exception:
        bad += 1
print(bad)
EOF
)
    [[ "$bad" == "0" ]] || { echo "  CORRUPT: $bad line(s) of the $fmt export are not JSON in UTF-8"; corrupt=$((corrupt + bad)); }
  done
  # leaked: the secret in any byte written by this round (the mock-llm's own log is the provider's side)
  local hits
  hits=$(grep -r -a -l -F -- "$secret" "$work" 2>/dev/null | grep -v -e '/mock\.' -e '\.toml$' -e 'tasks-' || true)
  if [[ -n "$hits" ]]; then
    echo "  LEAKED into: $(echo "$hits" | tr '\n' ' ')"; leaked=$((leaked + $(echo "$hits" | grep -c .)))
  fi
}

expect_exit() {  # $1 = what, $2 = got, $3.. = accepted codes
  local what="$1" got="$2"; shift 2
  local c
  for c in "$@"; do [[ "$got" == "$c" ]] && return 0; done
  echo "  EXIT: $what exited $got, expected one of: $*"; bad_exit=$((bad_exit + 1)); return 1
}

# ---------------------------------------------------------------- the rounds
round_model() {  # $1 = round number
  local name="model$1" url="sqlite://$work/model$1.db" n=$((5 + $(rand 6)))
  write_scenario "$work/mock.scenario.json" "$((seed + $1))"; start_mock "$work/mock.scenario.json"
  write_config "$work/$name.toml" "$url"
  write_tasks "$work/tasks-$name.jsonl" "$n" "$1"
  tried=$((tried + n))
  "$host" run -c "$work/$name.toml" --tasks "$work/tasks-$name.jsonl" --concurrency 3 --json --no-preflight \
    >"$work/$name.stdout" 2>"$work/$name.stderr"
  local rc=$? ok=1
  expect_exit "run (model faults)" "$rc" 0 1 || ok=0
  reported_stored "$work/$name.stdout" >"$work/$name.reported"
  # every task has a report; one not stored must say why (a task line refused as input, e.g. metadata
  # nested past the depth limit, is reported failed with its reason and never silently dropped)
  local silent
  silent=$(py "$work/$name.stdout" "$n" <<'EOF'
import json, sys
try:
    data = json.load(open(sys.argv[1], encoding="utf-8", errors="replace"))
except Exception:
    print(sys.argv[2]); sys.exit(0)
data = data if isinstance(data, list) else [data]
silent = int(sys.argv[2]) - len(data)
silent += sum(1 for r in data if not r.get("stored") and not r.get("error"))
print(silent)
EOF
)
  if [[ "$silent" != "0" ]]; then echo "  LOST: $silent task(s) neither stored nor reported failed with a reason"; lost=$((lost + silent)); fi
  check_round "$name" "$url" "$work/$name.reported" 0
}

round_sigkill() {
  local name="sigkill$1" url="sqlite://$work/sigkill$1.db" n=$((3 + $(rand 3))) victim
  victim=$(rand "$n")
  write_scenario "$work/mock.scenario.json" "$((seed + $1))"; start_mock "$work/mock.scenario.json"
  write_config "$work/$name.toml" "$url"
  write_tasks "$work/tasks-$name.jsonl" "$n" "$1"
  : >"$work/$name.reported"
  local i
  for ((i = 0; i < n; i++)); do
    tried=$((tried + 1))
    sed -n "$((i + 1))p" "$work/tasks-$name.jsonl" >"$work/tasks-$name-one.jsonl"
    "$host" run -c "$work/$name.toml" --tasks "$work/tasks-$name-one.jsonl" --json --no-preflight \
      >"$work/$name.out$i" 2>>"$work/$name.stderr" &
    local pid=$!
    if ((i == victim)); then
      # the fault's moment is random by design: 0-400 ms into the run
      sleep "0.$(printf '%03d' $(rand 400))"
      kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    else
      wait "$pid"; expect_exit "run (sigkill round, task $i)" "$?" 0 1 3
    fi
    reported_stored "$work/$name.out$i" >>"$work/$name.reported"
    cat "$work/$name.out$i" >>"$work/$name.stdout"
  done
  # whatever the killed run spooled is replayed by the next writer
  "$host" db replay -c "$work/$name.toml" >>"$work/$name.stdout" 2>>"$work/$name.stderr"
  expect_exit "db replay" "$?" 0
  check_round "$name" "$url" "$work/$name.reported" 1
}

round_sigint() {
  local name="sigint$1" url="sqlite://$work/sigint$1.db" n=12 sig code
  if (($(rand 2))); then sig=INT code=130; else sig=TERM code=143; fi
  # slow replies so the signal lands while calls are in flight
  py "$work/mock.scenario.json" <<'EOF'
import json, sys
json.dump({"default": "echo", "latency_ms": 400, "rules": [
  {"match": {"role": "teacher"}, "response": {"json": {"valid": True, "guidance": "ok"}}},
  {"match": {"role": "judge"}, "response": {"json": {"score": 0.7, "rationale": "ok"}}},
  {"response": {"text": "Final answer: slow."}}]}, open(sys.argv[1], "w"))
EOF
  start_mock "$work/mock.scenario.json"
  write_config "$work/$name.toml" "$url"
  write_tasks "$work/tasks-$name.jsonl" "$n" "$1"
  tried=$((tried + n))
  "$host" run -c "$work/$name.toml" --tasks "$work/tasks-$name.jsonl" --concurrency 2 --json --no-preflight \
    >"$work/$name.stdout" 2>"$work/$name.stderr" &
  local pid=$!
  # The signal must land while sessions run, not during start-up: a background job of a
  # non-interactive shell starts with SIGINT ignored until `run` installs its handler, which is
  # before the first session row is written. So wait (bounded) for that row, then a random delay.
  local waited
  for ((waited = 0; waited < 600; waited++)); do
    [[ "$(db_query "$url" "SELECT COUNT(*) FROM sessions" 2>/dev/null)" =~ ^[1-9] ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  sleep "0.$(printf '%03d' $((50 + $(rand 500))))"
  local t0 t1
  t0=$(date +%s%N)
  kill -s "$sig" "$pid"
  wait "$pid"; local rc=$?
  t1=$(date +%s%N)
  local ms=$(((t1 - t0) / 1000000))
  echo "  SIG$sig: exit $rc after $ms ms"
  expect_exit "run after SIG$sig" "$rc" "$code"
  # 5 s bound: the target is 2 s on a Release build; this suite runs under ASan on a loaded machine
  if ((ms > 5000)); then echo "  SLOW: run took $ms ms to end after SIG$sig"; bad_exit=$((bad_exit + 1)); fi
  local not_started
  not_started=$(db_query "$url" "SELECT COUNT(*) FROM sessions WHERE status = 'failed' AND final_answer IS NULL AND task LIKE '%fault-task-%' AND id NOT IN (SELECT session_id FROM trajectory_events)")
  [[ "$not_started" == "0" ]] || { echo "  POLLUTED: $not_started unstarted task(s) stored as failed"; corrupt=$((corrupt + not_started)); }
  : >"$work/$name.reported"
  check_round "$name" "$url" "$work/$name.reported" 0
}

round_outage() {
  if [[ -z "$pg_url" ]]; then
    # a private cluster: stopping it cannot disturb any other test
    export ATLAS_TEST_PG_STATE="$work/pg.state"
    eval "$(bash "$pg_script" start 2>>"$work/pg.log")" || { echo "  postgres did not start: $(tail -3 "$work/pg.log")"; bad_exit=$((bad_exit + 1)); return; }
    pg_url="$ATLAS_TEST_PG_URL"
  fi
  db_query "$pg_url" "DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null 2>&1
  local name="outage$1" n=6
  write_scenario "$work/mock.scenario.json" "$((seed + $1))"; start_mock "$work/mock.scenario.json"
  write_config "$work/$name.toml" "$pg_url"
  "$host" db migrate -c "$work/$name.toml" >/dev/null 2>>"$work/$name.stderr"
  write_tasks "$work/tasks-$name.jsonl" "$n" "$1"
  tried=$((tried + n))
  "$host" run -c "$work/$name.toml" --tasks "$work/tasks-$name.jsonl" --concurrency 2 --json --no-preflight \
    >"$work/$name.stdout" 2>"$work/$name.stderr" &
  local pid=$!
  # the outage starts once the run has begun writing (bounded wait on the first session row)
  local waited
  for ((waited = 0; waited < 600; waited++)); do
    [[ "$(db_query "$pg_url" "SELECT COUNT(*) FROM sessions" 2>/dev/null)" =~ ^[1-9] ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  bash "$pg_script" pause >/dev/null 2>>"$work/pg.log"
  local k
  for k in 1 2 3; do
    "$host" db status -c "$work/$name.toml" >>"$work/$name.cli" 2>&1
    "$host" review list -c "$work/$name.toml" >>"$work/$name.cli" 2>&1
  done
  bash "$pg_script" resume >/dev/null 2>>"$work/pg.log"
  wait "$pid"; expect_exit "run during outage" "$?" 0 1 3
  "$host" db replay -c "$work/$name.toml" >>"$work/$name.cli" 2>&1
  expect_exit "db replay after outage" "$?" 0
  reported_stored "$work/$name.stdout" >"$work/$name.reported"
  check_round "$name" "$pg_url" "$work/$name.reported" 0
}

round_plugins() {
  local name="plugins$1" url="sqlite://$work/plugins$1.db" n=2
  write_scenario "$work/mock.scenario.json" "$((seed + $1))"; start_mock "$work/mock.scenario.json"
  write_config "$work/$name.toml" "$url"
  write_tasks "$work/tasks-$name.jsonl" "$n" "$1"
  local dir="$work/hostile-plugins"
  mkdir -p "$dir"; chmod 700 "$dir"
  local f
  for f in "$fixtures"/*manifest*.so; do [[ -e "$f" ]] && cp "$f" "$dir/" && chmod 600 "$dir/$(basename "$f")"; done
  tried=$((tried + n))
  ATLAS_PLUGIN_PATH="$dir" timeout 300 "$host" run -c "$work/$name.toml" --tasks "$work/tasks-$name.jsonl" --json --no-preflight \
    >"$work/$name.stdout" 2>"$work/$name.stderr"
  expect_exit "run with hostile plugins present" "$?" 0 1
  reported_stored "$work/$name.stdout" >"$work/$name.reported"
  if [[ ! -s "$work/$name.reported" ]]; then echo "  LOST: run with hostile plugins in the path stored nothing"; lost=$((lost + n)); fi
  ATLAS_PLUGIN_PATH="$dir" timeout 120 "$host" review approve -c "$work/$name.toml" 1 >>"$work/$name.cli" 2>&1
  expect_exit "review approve with hostile plugins present" "$?" 0
  local approved
  approved=$(db_query "$url" "SELECT review_status FROM sessions WHERE id = 1")
  [[ "$approved" == "approved" ]] || { echo "  review approve said it approved, session 1 is '$approved'"; bad_exit=$((bad_exit + 1)); }
  check_round "$name" "$url" "$work/$name.reported" 0
}

kinds=(model sigkill sigint plugins)
((use_pg)) && kinds+=(outage)
for ((r = 1; r <= rounds; r++)); do
  # the first rounds cover every kind once; later ones pick at random
  if ((r <= ${#kinds[@]})); then kind=${kinds[$((r - 1))]}; else kind=${kinds[$(rand ${#kinds[@]})]}; fi
  echo "round $r: $kind"
  before="$lost $corrupt $leaked $bad_exit"
  "round_$kind" "$r"
  if [[ "$before" == "$lost $corrupt $leaked $bad_exit" ]]; then
    passed=$((passed + 1)); echo "round $r ($kind): ok"
  else
    failed=$((failed + 1)); echo "round $r ($kind): FAILED (files: $work, kept)"; keep=1
  fi
done

echo "fault_suite: tried $tried, reported stored $stored, lost $lost, corrupt $corrupt, leaked $leaked, unexpected exits $bad_exit"
echo "$passed passed, $failed failed"
((lost == 0 && corrupt == 0 && leaked == 0 && bad_exit == 0)) || exit 1
exit 0
