#!/usr/bin/env python3
"""Two `atlas-host serve` replicas on one PostgreSQL database with [serve] shared_episodes = true
(docs/serve.md, "Several gateway replicas"): real processes, real sockets, `atlas-host mock-llm`
as the only model provider, the paired lane (the teacher checks answers on whichever replica
serves them).

  - one episode alternating replicas (X-Atlas-Session, a tool call, its result), feedback on one
    replica, ended on the other: exactly one stored session, every call a step in order, one
    llm_call event per call, the tool result attached, judged; GET works on both; a repeated
    /end answers 409 with the stored report; a call after the end is refused;
  - /end sent to both replicas at once: one wins, one stored session;
  - kill -9 of a replica mid-episode: the other continues and ends it, nothing lost;
  - kill -9 of a replica while it ends an episode (its judge is slow): once its lease expires
    ([serve] episode_lease_seconds) another replica's reaper takes the end over and stores the
    session with the outcome the client's /end gave, exactly once.

Needs ATLAS_TEST_PG_URL (tests/support/postgres.sh start); exits 77 (skipped) without it.

    replicas_test.py --bin build/asan/bin
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PG_SCRIPT = os.path.join(HERE, "..", "..", "support", "postgres.sh")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import FAILS, PASSES, check, wait_until  # noqa: E402


LEASE_SECONDS = 5
SCENARIO = {"default": "echo", "models": ["mock-model"], "rules": [
    {"name": "teacher", "match": {"role": "teacher"}, "response": {"json": {"valid": True, "guidance": "ok", "rationale": "fine"}}},
    # Ends of the SLOWEND episode take a while, so a replica can be killed in the middle of one.
    {"name": "slow-judge", "match": {"system_contains": "impartial evaluator", "any_contains": "SLOWEND"},
     "response": {"json": {"score": 0.8, "uncertainty": 0.1, "rationale": "ok", "principles": []}, "latency_ms": 2 * LEASE_SECONDS * 1000}},
    {"name": "judge", "match": {"system_contains": "impartial evaluator"},
     "response": {"json": {"score": 0.9, "uncertainty": 0.1, "rationale": "ok", "principles": []}}},
    {"name": "arbiter", "match": {"system_contains": "senior arbiter"},
     "response": {"json": {"score": 0.9, "uncertainty": 0.1, "rationale": "ok", "principles": []}}},
    {"name": "answer", "match": {"has_tools": True, "last_message_contains": "18C"},
     "response": {"text": "It is 18C in Paris.", "usage": {"prompt_tokens": 30, "completion_tokens": 8}}},
    {"name": "call", "match": {"has_tools": True},
     "response": {"tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}],
                  "usage": {"prompt_tokens": 20, "completion_tokens": 5}}},
]}

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


def config(work, mock_url, db_url):
    model = lambda section: (f'[{section}]\nprovider = "openai"\nmodel = "mock-model"\napi_base = "{mock_url}/v1"\n'
                             'api_key_env = "ATLAS_MOCK_LLM_UNSET_KEY"\ntimeout_seconds = 30\n\n')
    text = ('[agent]\nadapter = "openai"\nname = "replicas"\n\n' + model("student.llm") + model("teacher.llm") +
            model("rewards.small_model") + model("rewards.large_model") +
            '[orchestration]\nforced_mode = "paired"\n\n[learning]\nenabled = false\n\n'
            f'[storage]\ndatabase_url = "{db_url}"\nspool_path = "{work}/spool.jsonl"\n\n'
            f'[serve]\nshared_episodes = true\nidle_timeout_seconds = 600\nepisode_lease_seconds = {LEASE_SECONDS}\n')
    path = os.path.join(work, "atlas.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


class Replica:
    def __init__(self, bin_dir, cfg, name, work):
        self.name = name
        self.err = open(os.path.join(work, name + ".err"), "w")
        self.proc = subprocess.Popen([os.path.join(bin_dir, "atlas-host"), "serve", "-c", cfg, "--listen", "127.0.0.1:0",
                                      "--json", "--no-preflight"], stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.proc.stdout.readline()
        self.port = json.loads(line)["port"] if line else 0

    def request(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.loads(r.read() or b"null"), dict(r.headers)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = raw.decode(errors="replace")
            return e.code, doc, dict(e.headers)

    def chat(self, episode, messages, tools=True):
        body = {"model": "mock-model", "messages": messages}
        if tools:
            body["tools"] = TOOLS
        return self.request("POST", "/v1/chat/completions", body, {"X-Atlas-Session": episode})

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=120)
        self.err.close()


def sql(url, query):
    out = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", query],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        check(False, f"psql failed: {out.stderr}")
        return []
    return [l for l in out.stdout.split("\n") if l != ""]


def stored(url, episode):
    """(session id, status, reward present, [step ids], llm_call events) of the episode's sessions."""
    ids = sql(url, f"SELECT id FROM sessions WHERE metadata->>'episode_id' = '{episode}'")
    return ids


def weather_episode(a, b, url, episode):
    user = {"role": "user", "content": "What is the weather in Paris?"}
    s, doc, h = a.chat(episode, [user])
    check(s == 200, f"call 1 on A: {s} {doc}")
    tool_calls = (doc or {}).get("choices", [{}])[0].get("message", {}).get("tool_calls") if s == 200 else None
    check(bool(tool_calls) and tool_calls[0]["function"]["name"] == "get_weather", f"call 1 asks for the tool: {doc}")
    session_id = h.get("X-Atlas-Session-Id", "")
    check(session_id != "", "call 1 names its session (X-Atlas-Session-Id)")
    assistant = {"role": "assistant", "content": None, "tool_calls": tool_calls or []}
    result = {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"}
    s, doc, h = b.chat(episode, [user, assistant, result])
    check(s == 200, f"call 2 on B: {s} {doc}")
    check(s == 200 and "18C" in doc["choices"][0]["message"]["content"], f"call 2 answers with the tool result: {doc}")
    check(h.get("X-Atlas-Session-Id", "") == session_id, "call 2 on B belongs to the same session as call 1 on A")
    answer = {"role": "assistant", "content": "It is 18C in Paris."}
    s, doc, _ = a.chat(episode, [user, assistant, result, answer, {"role": "user", "content": "Thanks, bye"}], tools=False)
    check(s == 200, f"call 3 on A: {s} {doc}")
    return session_id


def check_one_session(url, episode, calls, what):
    ids = stored(url, episode)
    check(len(ids) == 1, f"{what}: {len(ids)} stored sessions for the episode, expected exactly 1")
    if len(ids) != 1:
        return None
    sid = ids[0]
    steps = sql(url, f"SELECT step_id FROM step_results WHERE session_id = {sid} ORDER BY step_id")
    check(steps == [str(i) for i in range(1, calls + 1)], f"{what}: steps {steps}, expected 1..{calls}")
    llm = sql(url, f"SELECT COUNT(*) FROM trajectory_events WHERE session_id = {sid} AND event->>'type' = 'llm_call' "
                   "AND event->>'role' = 'student'")
    check(llm == [str(calls)], f"{what}: {llm} student llm_call events, expected {calls} (none duplicated)")
    starts = sql(url, f"SELECT COUNT(*) FROM trajectory_events WHERE session_id = {sid} AND event->>'type' = 'session' "
                      "AND event->>'name' = 'start'")
    check(starts == ["1"], f"{what}: {starts} session start events, expected 1")
    left = sql(url, f"SELECT COUNT(*) FROM gateway_calls WHERE episode_id = '{episode}'")
    check(left == ["0"], f"{what}: the episode's stored calls are deleted once its session is stored ({left})")
    return sid


def main():
    bin_dir = sys.argv[sys.argv.index("--bin") + 1] if "--bin" in sys.argv else "build/asan/bin"
    if not os.environ.get("ATLAS_TEST_PG_URL"):
        print("SKIP: ATLAS_TEST_PG_URL is not set (eval \"$(bash tests/support/postgres.sh start)\")")
        return 77
    db = subprocess.run(["bash", PG_SCRIPT, "createdb", f"replicas_{os.getpid()}"], capture_output=True, text=True)
    if db.returncode != 0:
        print("FAIL: createdb:", db.stderr, file=sys.stderr)
        return 1
    url = db.stdout.strip()
    work = tempfile.mkdtemp(prefix="atlas-replicas-")
    with open(os.path.join(work, "scenario.json"), "w") as f:
        json.dump(SCENARIO, f)
    mock = subprocess.Popen([os.path.join(bin_dir, "atlas-host"), "mock-llm", "--scenario", os.path.join(work, "scenario.json"),
                             "--port", "0", "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    replicas = []
    try:
        mock_url = json.loads(mock.stdout.readline())["url"]
        cfg = config(work, mock_url, url)

        # ---- shared episodes without storage: refused at start, with the reason
        with open(cfg) as f:
            text = f.read()
        nostore = os.path.join(work, "nostore.toml")
        with open(nostore, "w") as f:
            f.write(text.replace(f'database_url = "{url}"', "enabled = false"))
        r = subprocess.run([os.path.join(bin_dir, "atlas-host"), "serve", "-c", nostore, "--listen", "127.0.0.1:0",
                            "--no-preflight"], capture_output=True, text=True, timeout=120)
        check(r.returncode != 0 and "shared_episodes = true" in r.stderr and "storage is off" in r.stderr,
              f"shared_episodes without storage must refuse to start: {r.returncode} {r.stderr[-500:]}")
        a, b = Replica(bin_dir, cfg, "a", work), Replica(bin_dir, cfg, "b", work)
        replicas += [a, b]
        check(a.port and b.port, "both replicas listen")
        if not (a.port and b.port):
            return 1

        # ---- one episode across both replicas, feedback on A, ended on B
        ep = f"ep-alt-{os.getpid()}"
        session_id = weather_episode(a, b, url, ep)
        s, doc, _ = b.request("GET", f"/atlas/v1/sessions/{ep}")
        check(s == 200 and doc["state"] == "open" and doc["calls"] == 3 and doc["lane"] == "paired",
              f"GET on B of an open episode: {s} {doc}")
        s, doc, _ = a.request("POST", f"/atlas/v1/sessions/{ep}/feedback", {"metrics": {"passed": True}, "comment": "via A"})
        check(s == 202, f"feedback on A: {s} {doc}")
        s, doc, _ = b.request("POST", f"/atlas/v1/sessions/{ep}/end?wait=true", {"success": True})
        check(s == 200 and doc["state"] == "ended", f"/end on B: {s} {doc}")
        report = doc.get("report", {}) if isinstance(doc, dict) else {}
        check(report.get("status") == "succeeded" and len(report.get("steps", [])) == 3,
              f"the report: succeeded with 3 steps: {json.dumps(report)[:600]}")
        check(report.get("session_id") == session_id, "the stored session is the one call 1 opened")
        sid = check_one_session(url, ep, 3, "alternating replicas")
        if sid:
            reward = sql(url, f"SELECT reward_stats->>'score' FROM sessions WHERE id = {sid}")
            check(reward and reward[0] not in ("", None), f"the session was judged (reward_stats.score = {reward})")
            fb = sql(url, f"SELECT metadata->'episode'->'feedback'->0->>'comment' FROM sessions WHERE id = {sid}")
            check(fb == ["via A"], f"feedback posted on A is stored with the session: {fb}")
            tool = sql(url, f"SELECT COUNT(*) FROM trajectory_events WHERE session_id = {sid} AND "
                            "event->>'type' = 'tool_call' AND event->'data'->>'result' = '18C, sunny'")
            check(tool == ["1"], f"the tool result sent on B completes call 1's tool call: {tool}")
            validations = sql(url, f"SELECT COUNT(*) FROM trajectory_events WHERE session_id = {sid} AND "
                                   "event->>'type' = 'validation'")
            check(validations and int(validations[0]) >= 1, f"the teacher checked answers (paired lane): {validations}")
        for r in (a, b):
            s, doc, _ = r.request("GET", f"/atlas/v1/sessions/{ep}")
            check(s == 200 and doc["state"] == "ended" and doc.get("report", {}).get("status") == "succeeded",
                  f"GET on {r.name} of the ended episode: {s} {doc}")
        s, doc, _ = a.request("POST", f"/atlas/v1/sessions/{ep}/end", {})
        check(s == 409 and doc.get("state") == "ended" and doc.get("report", {}).get("session_id") == session_id,
              f"a repeated /end answers 409 with the stored report: {s} {doc}")
        s, doc, _ = a.chat(ep, [{"role": "user", "content": "again"}])
        check(s == 409, f"a call of an ended episode is refused: {s} {doc}")

        # ---- /end on both replicas at once
        ep2 = f"ep-race-{os.getpid()}"
        weather_episode(b, a, url, ep2)
        answers = {}

        def end_on(r):
            answers[r.name] = r.request("POST", f"/atlas/v1/sessions/{ep2}/end?wait=true", {})

        threads = [threading.Thread(target=end_on, args=(r,)) for r in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(v[0] for v in answers.values())
        check(codes == [200, 409], f"concurrent /end: one ends it, the other is told it ended: {answers}")
        wait_until(lambda: a.request("GET", f"/atlas/v1/sessions/{ep2}")[1].get("state") == "ended", 60, "ep2 to be ended")
        check_one_session(url, ep2, 3, "concurrent /end")

        # ---- kill -9 of a replica mid-episode
        ep3 = f"ep-kill-{os.getpid()}"
        user = {"role": "user", "content": "What is the weather in Paris?"}
        s, doc, _ = a.chat(ep3, [user])
        check(s == 200, f"ep3 call 1 on A: {s}")
        tool_calls = doc["choices"][0]["message"]["tool_calls"] if s == 200 else []
        assistant = {"role": "assistant", "content": None, "tool_calls": tool_calls}
        result = {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"}
        s, _, _ = a.chat(ep3, [user, assistant, result])
        check(s == 200, f"ep3 call 2 on A: {s}")
        a.stop(signal.SIGKILL)
        answer = {"role": "assistant", "content": "It is 18C in Paris."}
        s, doc, _ = b.chat(ep3, [user, assistant, result, answer, {"role": "user", "content": "Thanks"}], tools=False)
        check(s == 200, f"ep3 call 3 on B after A was killed: {s} {doc}")
        s, doc, _ = b.request("POST", f"/atlas/v1/sessions/{ep3}/end?wait=true", {})
        check(s == 200 and len(doc.get("report", {}).get("steps", [])) == 3, f"ep3 ended on B with 3 steps: {s} {doc}")
        check_one_session(url, ep3, 3, "kill -9 mid-episode")

        # ---- kill -9 of the replica ending an episode
        c = Replica(bin_dir, cfg, "c", work)
        replicas.append(c)
        ep4 = f"ep-slowend-{os.getpid()}"
        s, _, _ = c.chat(ep4, [{"role": "user", "content": "SLOWEND: say hello"}], tools=False)
        check(s == 200, f"ep4 call 1 on C: {s}")
        s, doc, _ = c.request("POST", f"/atlas/v1/sessions/{ep4}/end", {"final_answer": "hello from the client", "success": True})
        check(s == 202 and doc.get("state") == "ending", f"/end on C is accepted: {s} {doc}")
        row = sql(url, f"SELECT state, owner IS NOT NULL FROM gateway_episodes WHERE episode_id = '{ep4}'")
        check(row == ["ending|t"], f"the end is claimed and leased by C: {row}")
        c.stop(signal.SIGKILL)  # its judge takes 2 leases: C dies before it stores anything
        left = sql(url, f"SELECT COUNT(*) FROM gateway_calls WHERE episode_id = '{ep4}'")
        check(left == ["1"], f"the episode's call is kept for the takeover when C dies: {left}")
        ended = wait_until(lambda: b.request("GET", f"/atlas/v1/sessions/{ep4}")[1].get("state") == "ended",
                           120, "B to take the end of ep4 over after C's lease expired")
        if ended:
            sid = check_one_session(url, ep4, 1, "kill -9 while ending")
            if sid:
                got = sql(url, f"SELECT final_answer, metadata->'episode'->>'ended_by', metadata->'episode'->>'success', status "
                               f"FROM sessions WHERE id = {sid}")
                check(got == ["hello from the client|client|true|succeeded"],
                      f"the taken-over end stores the outcome the client's /end gave: {got}")
            with open(os.path.join(work, "b.err")) as f:
                check("took over its end" in f.read(), "B logs that it took the end over")
    finally:
        for r in replicas:
            r.stop()
        mock.send_signal(signal.SIGTERM)
        mock.wait(timeout=60)
        for name in ("a", "b", "c"):
            p = os.path.join(work, name + ".err")
            if FAILS and os.path.exists(p):
                print(f"--- replica {name} stderr (tail)", file=sys.stderr)
                print(open(p).read()[-3000:], file=sys.stderr)
    print(f"{PASSES[0]} passed, {len(FAILS)} failed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
