#!/usr/bin/env python3
"""A small MCP server speaking the stateless 2026-07-28 revision (server/discover, _meta on
every request, no initialize), with paginated tools/list, Content-Length framed output for
one message when asked (old-server quirk the client must accept), and a tool that kills
the server mid-call. Used by atlas-host's MCP client tests."""
import json
import os
import sys

VERSION = "2026-07-28"
MODE = sys.argv[1] if len(sys.argv) > 1 else "modern"   # modern | silent-discover | legacy-lsp
TOOLS = [
    {"name": "echo", "description": "Echo the text", "inputSchema": {"type": "object",
     "properties": {"text": {"type": "string"}}, "required": ["text"]}},
    {"name": "add", "description": "Add two numbers", "inputSchema": {"type": "object",
     "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}},
    {"name": "weather.now", "description": "Structured result", "inputSchema": {"type": "object"}},
    {"name": "fail", "description": "A tool that reports an error", "inputSchema": {"type": "object"}},
    {"name": "die", "description": "Kills the server", "inputSchema": {"type": "object"}},
]


def send(msg, lsp=False):
    data = json.dumps(msg)
    if lsp:
        sys.stdout.write(f"Content-Length: {len(data.encode())}\r\n\r\n{data}")
    else:
        sys.stdout.write(data + "\n")
    sys.stdout.flush()


def error(mid, code, message):
    send({"jsonrpc": "2.0", "id": mid, "error": {"code": code, "message": message}})


initialized = False
print(f"modern_server mode={MODE} pid={os.getpid()}", file=sys.stderr, flush=True)
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    msg = json.loads(line)
    method, mid, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
    if method is None:
        continue  # a response to our roots/list request
    if mid is None:
        if method == "notifications/initialized":
            initialized = True
        continue
    if method == "server/discover":
        if MODE == "silent-discover":
            continue  # an old server that ignores unknown methods
        if MODE == "legacy-lsp":
            error(mid, -32601, "Method not found")
            continue
        send({"jsonrpc": "2.0", "id": mid, "result": {"resultType": "complete", "supportedVersions": [VERSION],
              "capabilities": {"tools": {}}, "serverInfo": {"name": "modern-test", "version": "1"}, "ttlMs": 60000,
              "cacheScope": "process"}})
        continue
    if method == "initialize":
        if MODE == "modern":
            error(mid, -32601, "initialize was removed in 2026-07-28")
            continue
        send({"jsonrpc": "2.0", "id": mid, "result": {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
              "serverInfo": {"name": "legacy-test", "version": "1"}}}, lsp=(MODE == "legacy-lsp"))
        continue
    if MODE == "modern":
        meta = params.get("_meta") or {}
        if meta.get("io.modelcontextprotocol/protocolVersion") != VERSION:
            error(mid, -32020, "missing io.modelcontextprotocol/protocolVersion in _meta")
            continue
    elif not initialized:
        error(mid, -32002, "not initialized")
        continue
    if method == "tools/list":
        page = int(params.get("cursor") or 0)
        chunk = TOOLS[page * 2:page * 2 + 2]
        result = {"tools": chunk, "resultType": "complete"}
        if page * 2 + 2 < len(TOOLS):
            result["nextCursor"] = str(page + 1)
        # A server-to-client request in between: the client must answer it and carry on.
        send({"jsonrpc": "2.0", "id": "srv-1", "method": "roots/list"})
        send({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "listing"}})
        send({"jsonrpc": "2.0", "id": mid, "result": result})
    elif method == "tools/call":
        name, args = params.get("name"), params.get("arguments") or {}
        if name == "echo":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": args.get("text", "")}],
                  "resultType": "complete"}})
        elif name == "add":
            s = args.get("a", 0) + args.get("b", 0)
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": str(s)}]}})
        elif name == "weather.now":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [], "structuredContent": {"temp_c": 18}}})
        elif name == "fail":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": "disk full"}],
                  "isError": True}})
        elif name == "die":
            print("modern_server: dying as asked", file=sys.stderr, flush=True)
            os._exit(9)
        else:
            error(mid, -32602, f"Unknown tool: {name}")
    elif method == "roots/list":
        pass
    else:
        error(mid, -32601, "Method not found")
