#!/usr/bin/env python3
"""Minimal agent for atlas-host's command adapter: one JSON request per stdin line,
one JSON response per stdout line. Logs go to stderr (they end up in the trace)."""
import json
import sys

for line in sys.stdin:
    request = json.loads(line)
    messages = request.get("messages", [])
    last_user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"),
                     request.get("task", ""))
    print(f"echo_agent: role={request.get('role')} step={request.get('step_id')}", file=sys.stderr, flush=True)
    answer = {
        "content": f"echo: {last_user}",
        "usage": {"prompt_tokens": len(last_user.split()), "completion_tokens": 2,
                  "total_tokens": len(last_user.split()) + 2},
        "finish_reason": "stop",
    }
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
