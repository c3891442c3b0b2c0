#!/usr/bin/env python3
"""Test agent for the command adapter. The task text picks a behaviour:
hang -> never answers; crash -> writes to stderr and exits 3 mid-call;
noise -> prints a non-JSON line before the answer; error -> protocol error object;
anything else -> answers with its pid and a call counter (so tests can see restarts)."""
import json
import os
import sys
import time

calls = 0
print(f"agent {os.getpid()} ready", file=sys.stderr, flush=True)
for line in sys.stdin:
    calls += 1
    req = json.loads(line)
    task = req.get("task", "")
    print(f"agent {os.getpid()} got task {task!r}", file=sys.stderr, flush=True)
    if task == "hang":
        while True:
            time.sleep(3600)
    if task == "crash":
        print("fatal: simulated crash in the agent", file=sys.stderr, flush=True)
        sys.exit(3)
    if task == "noise":
        print("debug print that is not JSON", flush=True)
    if task == "error":
        print(json.dumps({"error": {"message": "model quota exhausted", "retryable": True}}), flush=True)
        continue
    out = {"content": f"pid={os.getpid()} calls={calls} task={task}",
           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
           "trace": "agent-side trace"}
    if task == "tool":
        out["tool_calls"] = [{"id": "t1", "name": "lookup", "arguments": {"q": "x"}}]
    print(json.dumps(out), flush=True)
