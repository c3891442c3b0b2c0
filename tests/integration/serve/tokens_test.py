#!/usr/bin/env python3
"""Token-level capture through `atlas-host serve` (docs/serve.md, "Token-level capture"), end to end
with real processes: `atlas-host mock-llm` as the upstream whose model block sets capture_tokens,
`atlas-host serve` on SQLite, an HTTP client, then `atlas-host export --format tokens-jsonl` and
`atlas-host tokens check` over the stored session.

  - a plain call, a streamed call and a call that asked for logprobs itself: each step is stored
    token-exact with the prompt and completion ids of mock-llm's documented tokenizer
    (docs/mock-llm.md, "Token ids"), computed here by hand; the client gets no field it did not
    ask for (the streamed chunks included) and keeps the logprobs it asked for;
  - an upstream reply without token fields: the call succeeds, its step is text-only with the reason;
  - a Responses API call: text-only, its wire has no token ids;
  - tokens-jsonl has one row per token-exact call with those ids; `tokens check` finds no drift;
  - all of it again with [serve] shared_episodes = true (the captures go through the database).

    tokens_test.py --bin build/asan/bin
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import FAILS, MODE, PASSES, check  # noqa: E402


SCENARIO = {"default": "echo", "models": ["mock-model"], "rules": [
    {"name": "judge", "match": {"system_contains": "impartial evaluator"},
     "response": {"json": {"score": 0.9, "uncertainty": 0.1, "rationale": "ok", "principles": []}}},
    {"name": "arbiter", "match": {"system_contains": "senior arbiter"},
     "response": {"json": {"score": 0.9, "uncertainty": 0.1, "rationale": "ok", "principles": []}}},
    {"name": "no ids", "match": {"last_user_contains": "without ids"}, "response": {"text": "fine", "token_ids": False}},
    {"name": "six", "match": {"last_user_contains": "3+3"}, "response": {"text": "It is 6."}},
    {"name": "four", "match": {"last_user_contains": "2+2"}, "response": {"text": "4."}},
    {"name": "ok", "match": {"last_user_contains": "Say ok"}, "response": {"text": "ok"}},
]}

# mock-llm's tokenizer (docs/mock-llm.md, "Token ids"): a byte is its own id; role and end tokens.
ROLE = {"system": 256, "user": 257, "assistant": 258, "tool": 259}
END, GENERATE = 260, 258


def prompt_ids(messages):
    ids = []
    for m in messages:
        ids += [ROLE[m["role"]]] + list(m["content"].encode()) + [END]
    return ids + [GENERATE]


def completion(text):
    ids = list(text.encode())
    return ids, [-(1 + i % 16) / 64 for i in ids]


def config(work, mock_url, shared):
    model = lambda section, extra="": (f'[{section}]\nprovider = "openai"\nmodel = "mock-model"\n'
                                       f'api_base = "{mock_url}/v1"\napi_key_env = ""\ntimeout_seconds = 30\n{extra}\n')
    text = ('[agent]\nadapter = "openai"\nname = "gateway-tokens"\n\n' +
            model("student.llm", "capture_tokens = true\n") + model("teacher.llm") +
            model("rewards.small_model") + model("rewards.large_model") +
            '[orchestration]\nforced_mode = "auto"\n\n[learning]\nenabled = false\n\n'
            '[review]\nrequire_approval = false\n\n'
            f'[serve]\nshared_episodes = {"true" if shared else "false"}\n\n'
            f'[storage]\ndatabase_url = "sqlite://{work}/atlas.db"\nspool_path = "{work}/spool.jsonl"\n')
    path = os.path.join(work, "atlas.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def post(port, path, body, episode, raw=False):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "X-Atlas-Session": episode})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            data = r.read()
            return r.status, (data.decode() if raw else json.loads(data or b"null"))
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def stream_chunks(text):
    return [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: {")]


def run(bin_dir, work, shared):
    atlas = os.path.join(bin_dir, "atlas-host")
    scenario = os.path.join(work, "scenario.json")
    with open(scenario, "w") as f:
        json.dump(SCENARIO, f)
    procs = []
    try:
        mock = subprocess.Popen([atlas, "mock-llm", "--scenario", scenario, "--port", "0", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(mock)
        mock_url = json.loads(mock.stdout.readline())["url"]
        cfg = config(work, mock_url, shared)
        err = open(os.path.join(work, "serve.err"), "w")
        serve = subprocess.Popen([atlas, "serve", "-c", cfg, "--listen", "127.0.0.1:0", "--json", "--no-preflight"],
                                 stdout=subprocess.PIPE, stderr=err, text=True)
        procs.append(serve)
        line = serve.stdout.readline()
        check(line != "", "serve started")
        if not line:
            return
        port = json.loads(line)["port"]
        ep = f"ep-tokens-{os.getpid()}-{'shared' if shared else 'local'}"
        chat = "/v1/chat/completions"

        # 1. A plain call: the client's reply has no token field it did not ask for.
        turn1 = [{"role": "user", "content": "What is 2+2?"}]
        s, doc = post(port, chat, {"model": "mock-model", "messages": turn1}, ep)
        check(s == 200 and doc["choices"][0]["message"]["content"] == "4.", f"call 1: {s} {doc}")
        if s == 200:
            choice = doc["choices"][0]
            check("prompt_token_ids" not in doc and "token_ids" not in choice and choice.get("logprobs") is None,
                  f"call 1: the reply carries no token field the client did not ask for: {doc}")

        # 2. Streamed: no chunk carries a token field; the text arrives whole.
        turn2 = turn1 + [{"role": "assistant", "content": "4."}, {"role": "user", "content": "And 3+3?"}]
        s, text = post(port, chat, {"model": "mock-model", "messages": turn2, "stream": True}, ep, raw=True)
        chunks = stream_chunks(text) if s == 200 else []
        check(s == 200 and text.rstrip().endswith("data: [DONE]"), f"call 2 streamed: {s} {text[-300:]}")
        content = "".join((c.get("choices") or [{}])[0].get("delta", {}).get("content") or "" for c in chunks)
        check(content == "It is 6.", f"call 2: the streamed text is whole: {content!r}")
        leaked = [c for c in chunks if "prompt_token_ids" in c or any(
            "token_ids" in ch or ch.get("logprobs") is not None for ch in c.get("choices") or [])]
        check(chunks and not leaked, f"call 2: no chunk carries a token field the client did not ask for: {leaked}")

        # 3. The client asked for logprobs itself: it keeps them (one per completion byte).
        turn3 = [{"role": "user", "content": "Say ok"}]
        s, doc = post(port, chat, {"model": "mock-model", "messages": turn3, "logprobs": True}, ep)
        check(s == 200, f"call 3: {s} {doc}")
        if s == 200:
            lp = (doc["choices"][0].get("logprobs") or {}).get("content") or []
            check([e["logprob"] for e in lp] == completion("ok")[1], f"call 3: the client keeps its logprobs: {doc}")
            check("prompt_token_ids" not in doc, f"call 3: ids it did not ask for are gone: {doc}")

        # 4. The upstream answers without token fields: the call succeeds, the step is text-only.
        s, doc = post(port, chat, {"model": "mock-model", "messages": [{"role": "user", "content": "Reply without ids"}]},
                      ep)
        check(s == 200 and doc["choices"][0]["message"]["content"] == "fine", f"call 4 succeeds: {s} {doc}")

        # 5. The Responses API: its wire has no token ids.
        s, doc = post(port, "/v1/responses", {"model": "mock-model", "input": "Say ok"}, ep)
        check(s == 200, f"call 5 (Responses): {s} {doc}")

        s, doc = post(port, f"/atlas/v1/sessions/{ep}/end?wait=true", {"success": True}, ep)
        check(s == 200 and doc["report"]["status"] == "succeeded", f"/end: {s} {doc}")
        session_id = str(doc["report"]["session_id"]) if s == 200 else ""

        # The stored llm_call events: the flag per step, and the reason when text-only.
        db = sqlite3.connect(os.path.join(work, "atlas.db"))
        rows = db.execute("SELECT json_extract(event, '$.step_id'), json_extract(event, '$.data.tokens') FROM "
                          "trajectory_events WHERE session_id = ? AND json_extract(event, '$.type') = 'llm_call' AND "
                          "json_extract(event, '$.role') = 'student' ORDER BY id", (session_id,)).fetchall()
        db.close()
        tokens = {step: json.loads(t) if t else None for step, t in rows}
        check(sorted(tokens) == ["1", "2", "3", "4", "5"], f"five steps stored: {sorted(tokens)}")
        for step in ("1", "2", "3"):
            check((tokens.get(step) or {}).get("capture") == "token_exact", f"step {step} token-exact: {tokens.get(step)}")
        t2 = tokens.get("2") or {}
        check(t2.get("request", {}).get("messages") == turn2, f"step 2 keeps the request as sent: {t2.get('request')}")
        t4 = tokens.get("4") or {}
        check(t4.get("capture") == "text_only" and "carried no prompt_token_ids" in t4.get("reason", ""),
              f"step 4 is text-only with the reason: {t4}")
        t5 = tokens.get("5") or {}
        check(t5.get("capture") == "text_only" and "openai.responses wire carries no token ids" in t5.get("reason", ""),
              f"step 5 (Responses) is text-only with the reason: {t5}")

        # export --format tokens-jsonl: one row per token-exact call, the ids of the prompts as sent.
        out = os.path.join(work, "tokens.jsonl")
        db_url = f"sqlite://{work}/atlas.db"
        r = subprocess.run([atlas, "export", "--format", "tokens-jsonl", "--include-all-statuses", "--output", out,
                            "--database-url", db_url], capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, f"export tokens-jsonl: {r.returncode} {r.stderr}")
        exported = [json.loads(l) for l in open(out)] if r.returncode == 0 else []
        by_step = {row["step_id"]: row for row in exported}
        check(sorted(by_step) == [1, 2, 3], f"rows for steps 1, 2, 3 only: {sorted(by_step)}")
        for step, messages, reply in ((1, turn1, "4."), (2, turn2, "It is 6."), (3, turn3, "ok")):
            row = by_step.get(step, {})
            ids, logprobs = completion(reply)
            check(row.get("prompt_ids") == prompt_ids(messages), f"step {step} prompt ids: {row.get('prompt_ids')}")
            check(row.get("completion_ids") == ids, f"step {step} completion ids: {row.get('completion_ids')}")
            check(row.get("logprobs") == logprobs, f"step {step} logprobs: {row.get('logprobs')}")
            check(row.get("step_capture") == "token_exact", f"step {step} flag: {row}")

        # tokens check: the stored prompts re-tokenise to the stored ids.
        r = subprocess.run([atlas, "tokens", "check", "--json", "--tokenize-url", f"{mock_url}/tokenize",
                            "--database-url", db_url], capture_output=True, text=True, timeout=300)
        report = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else {}
        check(r.returncode == 0 and report.get("calls_checked") == 3 and report.get("steps_drifted") == 0,
              f"tokens check: {r.returncode} {r.stdout} {r.stderr}")
        check(report.get("calls_text_only") == 2, f"tokens check counts the two text-only calls: {report}")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=120)
        if FAILS and os.path.exists(os.path.join(work, "serve.err")):
            print("--- serve stderr (tail)", file=sys.stderr)
            print(open(os.path.join(work, "serve.err")).read()[-3000:], file=sys.stderr)


def main():
    bin_dir = sys.argv[sys.argv.index("--bin") + 1] if "--bin" in sys.argv else "build/asan/bin"
    for shared in (False, True):
        with tempfile.TemporaryDirectory(prefix="atlas-gateway-tokens-") as work:
            before = len(FAILS)
            MODE[0] = f"[shared_episodes = {str(shared).lower()}] "
            run(bin_dir, work, shared)
            print(f"shared_episodes = {shared}: {len(FAILS) - before} failed")
    print(f"{PASSES[0]} passed, {len(FAILS)} failed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
