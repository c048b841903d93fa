"""A tiny stdio MCP server whose tool list grows: tools/call "grow" adds a
tool named "grown-N" and announces notifications/tools/list_changed. For
the upstream tests of list changes (no server from npm does this on
demand). With the argument "endless", tools/list never ends: every page
has 1,000 tools and a next cursor."""

import json
import sys

tools = ["grow"]


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def tool(name):
    return {"name": name, "description": "a tool", "inputSchema": {"type": "object", "properties": {}}}


for line in sys.stdin:
    message = json.loads(line)
    method, rid = message.get("method"), message.get("id")
    if rid is None:
        continue
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": rid, "result": {
            "protocolVersion": "2025-11-25", "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "growing", "version": "1"}}})
    elif method == "tools/list" and sys.argv[1:] == ["endless"]:
        page = int(message.get("params", {}).get("cursor") or 0)
        send({"jsonrpc": "2.0", "id": rid, "result": {
            "tools": [tool("t%d-%d" % (page, n)) for n in range(1000)], "nextCursor": str(page + 1)}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": rid, "result": {"tools": [tool(name) for name in tools]}})
    elif method == "tools/call":
        tools.append("grown-%d" % len(tools))
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        send({"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": tools[-1]}]}})
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": rid, "result": {}})
    else:
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "method not found"}})
