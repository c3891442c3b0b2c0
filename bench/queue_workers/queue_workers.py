#!/usr/bin/env python3
"""bench_queue_workers: sessions/s of the PostgreSQL work queue with 1, 2 and 4 worker processes
against mock-llm with a fixed model latency (docs/scaling.md). Prints, per worker count:
sessions/s, the scaling ratio against 1 worker, the claim round trip per task (mean of
atlas_queue_claim_duration_seconds from the workers' /metrics: client-side, so an upper bound of
the database time), PostgreSQL CPU per task (utime+stime of the cluster's processes, from
/proc) and the table sizes per million sessions.

    eval "$(bash tests/support/postgres.sh start)"     # or let the bench start a private cluster
    python3 bench/queue_workers/queue_workers.py --bin build/release/bin [--tasks 400] [--latency-ms 500]
        [--concurrency 4] [--workers 1,2,4]
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--tasks", type=int, default=400)
ap.add_argument("--latency-ms", type=int, default=500)
ap.add_argument("--concurrency", type=int, default=4)
ap.add_argument("--workers", default="1,2,4")
args = ap.parse_args()
host = os.path.join(args.bin, "atlas-host")
work = tempfile.mkdtemp(prefix="atlas-bench-queue-")
pg_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "support", "postgres.sh")
own_cluster = False
url = os.environ.get("ATLAS_TEST_PG_URL")
if not url:
    os.environ["ATLAS_TEST_PG_STATE"] = os.path.join(work, "pg.state")
    out = subprocess.run(["bash", pg_script, "start"], capture_output=True, text=True, check=True).stdout
    for m in re.finditer(r"export (\w+)='([^']*)'", out):
        os.environ[m.group(1)] = m.group(2)
    url = os.environ["ATLAS_TEST_PG_URL"]
    own_cluster = True


def psql(q):
    return subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", q],
                          capture_output=True, text=True, check=True).stdout.strip()


def pg_cpu_seconds():
    """CPU of every process of this cluster (postmaster and backends), from /proc."""
    sock = re.search(r"host=([^&]+)", url).group(1)
    port = re.search(r"port=(\d+)", url)
    pids = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
        except OSError:
            continue
        if "postgres" in cmd:
            pids.add(int(pid))
    # keep the processes whose postmaster listens on our socket dir (children of it)
    post = None
    for pid in pids:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace").replace("\0", " ")
        if "-D" in cmd and (sock in cmd or (port and port.group(1) in cmd)):
            post = pid
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid = int(st[1])
        if pid == post or ppid == post or post is None:
            total += (int(st[11]) + int(st[12])) / tick
    return total


scenario = os.path.join(work, "scenario.json")
with open(scenario, "w") as f:
    json.dump({"default": "echo", "models": ["mock-model"], "rules": [
        {"match": {"role": "judge"}, "response": {"json": {"score": 0.8, "rationale": "ok", "uncertainty": 0.1}}},
        {"response": {"text": "Final answer: done.", "latency_ms": args.latency_ms}}]}, f)
mock = subprocess.Popen([host, "mock-llm", "--scenario", scenario, "--port", "0", "--json"], stdout=subprocess.PIPE, text=True)
mock_url = json.loads(mock.stdout.readline())["url"]
os.environ["OPENAI_API_KEY"] = "sk-bench-not-a-real-key"
cfg = os.path.join(work, "atlas.toml")
with open(cfg, "w") as f:
    f.write(f"""[agent]
adapter = "openai"
name = "bench-queue"
system_prompt = "Answer briefly."
[student.llm]
provider = "openai"
model = "mock-model"
api_base = "{mock_url}/v1"
api_key_env = "OPENAI_API_KEY"
[teacher.llm]
provider = "openai"
model = "mock-model"
api_base = "{mock_url}/v1"
api_key_env = "OPENAI_API_KEY"

[orchestration]
forced_mode = "auto"

[rewards]
step_judges = []
samples = 1
temperatures = [0.2]
[rewards.small_model]
provider = "openai"
model = "mock-model"
api_base = "{mock_url}/v1"
api_key_env = "OPENAI_API_KEY"
[learning]
enabled = false
[storage]
database_url = "{url}"
spool_path = "{work}/spool.jsonl"
max_connections = 8
[review]
require_approval = false
""")


def scrape(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.decode().partition("\r\n\r\n")[2]


def metric(page, name):
    m = re.search(r"^" + name + r" ([0-9.e+-]+)$", page, re.M)
    return float(m.group(1)) if m else 0.0


TABLES = ("sessions", "trajectory_events", "queue_tasks", "step_results", "step_attempts", "plans", "review_events")
server_log = os.path.join(os.path.dirname(re.search(r"host=([^&]+)", url).group(1)), "server.log")
results = []
sizes = None
for n in [int(x) for x in args.workers.split(",")]:
    psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    subprocess.run([host, "db", "migrate", "-c", cfg], check=True, capture_output=True)
    tasks = os.path.join(work, f"tasks{n}.jsonl")
    with open(tasks, "w") as f:
        for i in range(args.tasks):
            f.write(json.dumps({"task": f"bench task {n}-{i}"}) + "\n")
    subprocess.run([host, "enqueue", "-c", cfg, "--tasks", tasks], check=True, capture_output=True)
    empty = {t: int(psql(f"SELECT pg_total_relation_size('{t}')")) for t in TABLES}
    log_from = os.path.getsize(server_log)
    psql("ALTER SYSTEM SET log_min_duration_statement = 0")
    psql("SELECT pg_reload_conf()")
    cpu0 = pg_cpu_seconds()
    t0 = time.monotonic()
    procs, ports = [], []
    for _ in range(n):
        p = subprocess.Popen([host, "worker", "-c", cfg, "--concurrency", str(args.concurrency), "--no-preflight",
                              "--poll-seconds", "0.1", "--metrics-listen", "127.0.0.1:0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = p.stderr.readline()
        ports.append(int(re.search(r":(\d+)/metrics", line).group(1)))
        procs.append(p)
    while True:  # the first worker's /metrics answers from its own pooled connection (no new backend)
        page = scrape(ports[0])
        done = sum(float(v) for v in re.findall(r'^atlas_queue_tasks\{state="(?:done|dead)"\} ([0-9.]+)$', page, re.M))
        if done >= args.tasks:
            break
        time.sleep(0.2)
    wall = time.monotonic() - t0
    cpu = pg_cpu_seconds() - cpu0
    psql("ALTER SYSTEM RESET log_min_duration_statement")
    psql("SELECT pg_reload_conf()")
    # server-side time of every claim statement (parse + plan + execute, as the server logged it)
    with open(server_log, errors="replace") as f:
        f.seek(log_from)
        claim_db = [float(m.group(1)) for m in re.finditer(r"duration: ([0-9.]+) ms\s+(?:execute [^:]*: |statement: )UPDATE queue_tasks SET state = 'leased'", f.read())]
    claim_sum = claim_n = 0.0
    for port in ports:
        page = scrape(port)
        claim_sum += metric(page, "atlas_queue_claim_duration_seconds_sum")
        claim_n += metric(page, "atlas_queue_claim_duration_seconds_count")
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=120)
    rate = args.tasks / wall
    db_ms = sum(claim_db) / max(len(claim_db), 1)
    results.append((n, rate, claim_sum / max(claim_n, 1) * 1000, cpu / args.tasks * 1000, claim_n / args.tasks, db_ms,
                    sum(claim_db) / args.tasks))
    sizes = {t: int(psql(f"SELECT pg_total_relation_size('{t}')")) - empty[t] for t in TABLES}
    events = int(psql("SELECT COUNT(*) FROM trajectory_events"))

print(f"bench_queue_workers: {args.tasks} tasks, model latency {args.latency_ms} ms, {args.concurrency} sessions per worker")
print("| workers | total concurrency | sessions/s | scaling vs 1 | ideal | claim DB time ms/claim | claim DB time ms/task | claim round trip ms (worker side) | claims/task | PostgreSQL CPU ms/task (all statements) |")
print("|---|---|---|---|---|---|---|---|---|---|")
base = results[0][1]
for n, rate, claim_ms, pg_ms, claims_per_task, db_ms, db_per_task in results:
    print(f"| {n} | {n * args.concurrency} | {rate:.1f} | {rate / base:.2f}x | {n / results[0][0]:.0f}x | {db_ms:.3f} | {db_per_task:.3f} | {claim_ms:.2f} | {claims_per_task:.2f} | {pg_ms:.2f} |")
if results[-1][3] > 0:
    print(f"PostgreSQL CPU per task at {results[-1][0]} workers: {results[-1][3]:.2f} ms -> about {1000 / results[-1][3]:.0f} tasks/s per core")
total = sum(sizes.values())
print(f"table growth per million sessions (from {args.tasks} sessions, {events / args.tasks:.0f} events each): " +
      ", ".join(f"{k} {v / args.tasks * 1e6 / 2**30:.2f} GiB" for k, v in sizes.items()) + f"; total {total / args.tasks * 1e6 / 2**30:.2f} GiB")
mock.terminate()
if own_cluster:
    subprocess.run(["bash", pg_script, "stop"], capture_output=True)
