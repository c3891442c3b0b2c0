#!/usr/bin/env python3
"""The worker, the queue commands and GET /metrics through the real atlas-host binary, on SQLite
(docs/scaling.md, docs/metrics.md):

  - enqueue: idempotent, all-or-nothing on a bad line, --rollouts;
  - worker --exit-when-empty runs every task once; queue status/retry/cancel;
  - GET /metrics of a worker and of `serve`, scraped over a socket and parsed strictly;
  - SIGTERM drains: a session under way finishes within --drain-seconds (task done), or past the
    deadline is stopped, stored interrupted, and its task released (pending, attempt not counted).

    worker_test.py --bin build/asan/bin
"""
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

BIN = None
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import FAILS, check, wait_until  # noqa: E402


def host(*args, **kw):
    return subprocess.run([os.path.join(BIN, "atlas-host"), *args], capture_output=True, text=True, timeout=120, **kw)


# ---------------------------------------------------------------- the exposition format, strictly
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? '
                    r'(-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_exposition(text):
    """Returns {family: {"type": t, "samples": [(name, labels, value)]}}; raises on any deviation."""
    fams, current = {}, None
    if not text.endswith("\n"):
        raise ValueError("the page does not end with a line feed")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            if name in fams:
                raise ValueError(f"line {n}: family {name} declared twice")
            fams[name] = {"type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, t = line.split(" ")
            if name != current or t not in ("counter", "gauge", "histogram", "summary", "untyped"):
                raise ValueError(f"line {n}: TYPE {name} {t} out of place")
            fams[name]["type"] = t
        elif line.startswith("#"):
            continue
        else:
            m = SAMPLE.match(line)
            if not m:
                raise ValueError(f"line {n}: not a sample: {line!r}")
            name, labels, value = m.group(1), dict(LABEL.findall(m.group(3) or "")), float(m.group(4).replace("+Inf", "inf").replace("-Inf", "-inf"))
            fam = fams.get(current)
            t = fam["type"] if fam else None
            base = name
            if t == "histogram":
                for suffix in ("_bucket", "_sum", "_count"):
                    if name.endswith(suffix):
                        base = name[: -len(suffix)]
            if base != current:
                raise ValueError(f"line {n}: sample {name} outside its family ({current})")
            if t == "counter" and not name.endswith("_total"):
                raise ValueError(f"line {n}: counter {name} does not end in _total")
            fam["samples"].append((name, labels, value))
    for name, fam in fams.items():
        if fam["type"] == "histogram":
            series = {}
            for s, labels, v in fam["samples"]:
                key = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
                series.setdefault(key, {"buckets": [], "count": None})
                if s.endswith("_bucket"):
                    series[key]["buckets"].append((float(labels["le"].replace("+Inf", "inf")), v))
                elif s.endswith("_count"):
                    series[key]["count"] = v
            for key, sr in series.items():
                b = sr["buckets"]
                if not b or b[-1][0] != float("inf") or b[-1][1] != sr["count"]:
                    raise ValueError(f"{name}{key}: the last bucket must be le=+Inf and equal _count")
                if any(b[i][1] > b[i + 1][1] or b[i][0] >= b[i + 1][0] for i in range(len(b) - 1)):
                    raise ValueError(f"{name}{key}: buckets are not cumulative in increasing le order")
    return fams


def scrape(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    head = head.decode()
    if " 200 " not in head.split("\r\n")[0]:
        raise ValueError("GET /metrics answered " + head.split("\r\n")[0])
    if "text/plain; version=0.0.4" not in head:
        raise ValueError("wrong Content-Type: " + head)
    if "Transfer-Encoding: chunked" in head:
        raise ValueError("unexpected chunked body")
    return parse_exposition(body.decode())


def value(fams, family, name=None, **labels):
    for s, l, v in fams.get(family, {}).get("samples", []):
        if (name is None or s == name) and all(l.get(k) == x for k, x in labels.items()):
            return v
    return None


# ---------------------------------------------------------------- setup
def start_mock(work, latency_ms):
    scen = os.path.join(work, f"scenario-{latency_ms}.json")
    with open(scen, "w") as f:
        json.dump({"default": "echo", "models": ["mock-model"], "rules": [
            {"match": {"role": "student", "any_contains": "ALWAYS-FAILS"}, "response": {"fault": "http_error", "status": 400}},
            {"match": {"role": "teacher"}, "response": {"json": {"valid": True, "guidance": "ok"}}},
            {"match": {"role": "judge"}, "response": {"json": {"score": 0.8, "rationale": "ok", "uncertainty": 0.1}}},
            {"response": {"text": "Final answer: done.", "latency_ms": latency_ms}}]}, f)
    p = subprocess.Popen([os.path.join(BIN, "atlas-host"), "mock-llm", "--scenario", scen, "--port", "0", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p, json.loads(p.stdout.readline())["url"]


def write_config(work, name, mock_url, db):
    path = os.path.join(work, name + ".toml")
    with open(path, "w") as f:
        f.write(f"""[agent]
adapter = "openai"
name = "queue-test"
system_prompt = "Answer briefly."

[student.llm]
provider = "openai"
model = "mock-model"
api_base = "{mock_url}/v1"
api_key_env = "OPENAI_API_KEY"
timeout_seconds = 20
[student.llm.retry]
attempts = 1

[teacher.llm]
provider = "openai"
model = "mock-model"
api_base = "{mock_url}/v1"
api_key_env = "OPENAI_API_KEY"

[rewards]
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
database_url = "sqlite://{db}"
spool_path = "{work}/spool.jsonl"

[review]
require_approval = false
""")
    return path


def states(db):
    with sqlite3.connect(db) as c:
        return dict(c.execute("SELECT state, COUNT(*) FROM queue_tasks GROUP BY state").fetchall())


def start_worker(cfg, *extra):
    p = subprocess.Popen([os.path.join(BIN, "atlas-host"), "worker", "-c", cfg, "--no-preflight", "--poll-seconds", "0.1",
                          "--retry-delay-seconds", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p


def metrics_port(p):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
        if m:
            return int(m.group(1))
    raise RuntimeError("the worker did not say where its metrics are")


def main():
    global BIN
    BIN = sys.argv[sys.argv.index("--bin") + 1]
    os.environ["OPENAI_API_KEY"] = "sk-queue-test-not-real-000"
    work = tempfile.mkdtemp(prefix="atlas-queue-test-")
    mock, url = start_mock(work, 5)
    slow, slow_url = start_mock(work, 4000)
    try:
        # ---- enqueue
        db = os.path.join(work, "a.db")
        cfg = write_config(work, "a", url, db)
        tasks = os.path.join(work, "tasks.jsonl")
        with open(tasks, "w") as f:
            f.write('{"task": "one"}\n"two"\n{"id": "third", "task": "three"}\n{"id": "bad", "task": "ALWAYS-FAILS"}\n')
        r = host("enqueue", "-c", cfg, "--tasks", tasks, "--max-attempts", "2", "--json")
        check(r.returncode == 0 and json.loads(r.stdout) == {"tasks": 4, "queued": 4, "already_queued": 0}, f"enqueue: {r.stdout} {r.stderr}")
        r = host("enqueue", "-c", cfg, "--tasks", tasks, "--max-attempts", "2", "--json")
        check(r.returncode == 0 and json.loads(r.stdout)["queued"] == 0, f"a second enqueue queued again: {r.stdout}")
        badfile = os.path.join(work, "bad.jsonl")
        with open(badfile, "w") as f:
            f.write('{"task": "fine"}\n{"task": ""}\n{"id": {"x": 1}, "task": "t"}\n')
        r = host("enqueue", "-c", cfg, "--tasks", badfile)
        check(r.returncode == 1 and "bad.jsonl:2" in r.stderr and "bad.jsonl:3" in r.stderr and "nothing was queued" in r.stderr,
              f"a bad file must queue nothing and name its lines: {r.stderr}")
        check(sum(states(db).values()) == 4, "the bad file queued something")
        r = host("enqueue", "-c", cfg, "--tasks", tasks, "--rollouts", "0")
        check(r.returncode == 2, "--rollouts 0 must be a usage error")

        # ---- worker with metrics, until empty
        w = start_worker(cfg, "--concurrency", "2", "--exit-when-empty", "--metrics-listen", "127.0.0.1:0")
        port = metrics_port(w)
        first = scrape(port)  # while it works: the page parses at any moment
        check("atlas_queue_tasks" in first, "no atlas_queue_tasks in the worker's page")
        out, err = w.communicate(timeout=120)
        check(w.returncode == 0, f"worker exit {w.returncode}: {err[-2000:]}")
        st = states(db)
        check(st == {"done": 3, "dead": 1}, f"states after the worker: {st}")
        with sqlite3.connect(db) as c:
            linked = c.execute("SELECT COUNT(*) FROM queue_tasks q JOIN sessions s ON s.id = q.session_id "
                               "AND s.queue_task_id = q.task_id WHERE q.state = 'done'").fetchone()[0]
            err_text = c.execute("SELECT last_error FROM queue_tasks WHERE task_id = 'bad'").fetchone()[0]
        check(linked == 3, f"{linked} done tasks linked to their session")
        check(err_text and "400" in err_text, f"dead task's last error: {err_text!r}")

        # queue status / retry / cancel
        r = host("queue", "status", "-c", cfg, "--json", "--list", "dead")
        doc = json.loads(r.stdout) if r.returncode == 0 else {}
        check(doc.get("counts", {}).get("dead") == 1 and doc.get("tasks", [{}])[0].get("task_id") == "bad", f"queue status: {r.stdout} {r.stderr}")
        r = host("queue", "retry", "-c", cfg, "--dead")
        check(r.returncode == 0 and "Retried 1" in r.stdout, f"queue retry --dead: {r.stdout} {r.stderr}")
        r = host("queue", "cancel", "-c", cfg, "bad", "third")
        check(r.returncode == 1 and "Cancelled 1" in r.stdout and "not changed" in r.stderr, f"queue cancel (one done): {r.stdout} {r.stderr}")
        check(states(db).get("cancelled") == 1, f"after cancel: {states(db)}")
        r = host("queue", "retry", "-c", cfg)
        check(r.returncode == 2, "queue retry without a selection must be a usage error")

        # ---- serve's /metrics
        s = subprocess.Popen([os.path.join(BIN, "atlas-host"), "serve", "-c", cfg, "--listen", "127.0.0.1:0", "--json", "--no-preflight"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = s.stdout.readline()
            sport = json.loads(line)["port"]
            fams = scrape(sport)
            check(value(fams, "atlas_queue_tasks", state="cancelled") == 1.0, "serve's page lacks the queue depth")
            check(fams.get("atlas_spool_records", {}).get("type") == "gauge", "serve's page lacks the spool depth")
        finally:
            s.send_signal(signal.SIGTERM)
            s.wait(timeout=60)

        # worker page after work: sessions by lane/outcome, model latency histogram, tokens
        db2 = os.path.join(work, "b.db")
        cfg2 = write_config(work, "b", url, db2)
        host("enqueue", "-c", cfg2, "--tasks", tasks, "--max-attempts", "1")
        w = start_worker(cfg2, "--metrics-listen", "127.0.0.1:0")
        port = metrics_port(w)
        wait_until(lambda: states(db2).get("pending", 0) + states(db2).get("leased", 0) == 0, 90, "the second queue to drain")
        fams = scrape(port)
        check(value(fams, "atlas_queue_tasks", state="done") == 3.0, "atlas_queue_tasks{state=done} != 3")
        check(value(fams, "atlas_queue_tasks", state="dead") == 1.0, "atlas_queue_tasks{state=dead} != 1")
        ok_sessions = sum(v for _, l, v in fams.get("atlas_sessions_total", {}).get("samples", []) if l.get("outcome") == "succeeded")
        check(ok_sessions == 3, f"atlas_sessions_total succeeded = {ok_sessions}")
        check(all("lane" in l for _, l, _ in fams.get("atlas_sessions_total", {}).get("samples", [])), "sessions without a lane label")
        check(value(fams, "atlas_model_call_duration_seconds", "atlas_model_call_duration_seconds_count", provider="openai", role="student") is not None,
              "no model-call latency histogram for the student")
        check((value(fams, "atlas_tokens_total", role="student", kind="prompt") or 0) > 0, "no student prompt tokens")
        check(value(fams, "atlas_queue_claim_duration_seconds", "atlas_queue_claim_duration_seconds_count") >= 4, "claims not timed")
        w.send_signal(signal.SIGTERM)
        w.communicate(timeout=60)
        check(w.returncode == 0, f"an idle worker on SIGTERM exits 0, got {w.returncode}")

        # ---- SIGTERM drains: in-flight session finishes within the deadline
        for name, drain, expect in (("drain-ok", "30", "done"), ("drain-late", "0.3", "pending")):
            dbd = os.path.join(work, name + ".db")
            cfgd = write_config(work, name, slow_url, dbd)
            one = os.path.join(work, name + ".jsonl")
            with open(one, "w") as f:
                f.write('{"id": "slow", "task": "take your time"}\n{"id": "next", "task": "never claimed"}\n')
            host("enqueue", "-c", cfgd, "--tasks", one)
            w = start_worker(cfgd, "--drain-seconds", drain)
            wait_until(lambda: states(dbd).get("leased", 0) == 1, 60, f"{name}: a task to be leased")
            t0 = time.monotonic()
            w.send_signal(signal.SIGTERM)
            out, err = w.communicate(timeout=60)
            took = time.monotonic() - t0
            check(w.returncode == 0, f"{name}: a drained worker exits 0, got {w.returncode}: {err[-1500:]}")
            with sqlite3.connect(dbd) as c:
                rows = dict(c.execute("SELECT task_id, state FROM queue_tasks").fetchall())
                attempts = c.execute("SELECT attempts FROM queue_tasks WHERE task_id = 'slow'").fetchone()[0]
                sess = c.execute("SELECT status FROM sessions").fetchall()
            check(rows.get("slow") == expect, f"{name}: the task in flight is {rows.get('slow')}, expected {expect}")
            check(rows.get("next") == "pending", f"{name}: a drain must not claim more tasks ({rows})")
            if expect == "pending":
                check(attempts == 0, f"{name}: a released attempt must not count ({attempts})")
                check(sess == [("interrupted",)], f"{name}: the stopped session must be stored interrupted: {sess}")
                check(took < 20, f"{name}: the drain deadline was not kept ({took:.1f} s)")
            else:
                check(sess == [("succeeded",)], f"{name}: {sess}")
    finally:
        for p in (mock, slow):
            p.terminate()
            p.wait()
    if FAILS:
        print(f"worker_test: {len(FAILS)} failure(s); kept {work}", file=sys.stderr)
        return 1
    subprocess.run(["rm", "-rf", work])
    print("worker_test: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
