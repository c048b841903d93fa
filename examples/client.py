#!/usr/bin/python3
"""A minimal MCPZ/1 client: open an MCP session on an mcpz server, list its
tools, call `echo`, and close the session.

    python3 examples/client.py [ENDPOINT]        (default tcp://127.0.0.1:5555)

Needs pyzmq (Debian: python3-zmq). The wire format is in spec/mcpz-1.md:
the client sends [b"MCPZ/1", COMMAND, SESSION_ID, BODY] and the server
answers [b"MCPZ/1", KIND, SESSION_ID, EVENT_ID, BODY].
"""

import json
import sys

import zmq

TIMEOUT_MS = 5000


def send(sock, command, session_id, body):
    """Sends one MCPZ/1 message. body is a dict (JSON-RPC) or bytes."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    sock.send_multipart([b"MCPZ/1", command.encode(), session_id.encode(), body])


def receive(sock):
    """Waits for one server message; returns (kind, session_id, body)."""
    if not sock.poll(TIMEOUT_MS):
        sys.exit("no answer from the server within %d ms" % TIMEOUT_MS)
    signature, kind, session_id, event_id, body = sock.recv_multipart()
    return kind.decode(), session_id.decode(), json.loads(body)


def request(sock, session_id, request_id, method, params=None):
    """Sends a JSON-RPC request and returns (session_id, result)."""
    message = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    send(sock, "MSG", session_id, message)
    while True:
        kind, sid, body = receive(sock)
        if kind == "ERR":
            sys.exit("%s refused: %s %s" % (method, body["status"], body["message"]))
        if body.get("id") != request_id:
            continue            # a notification (e.g. progress): not ours to print
        if "error" in body:
            sys.exit("%s failed: %s" % (method, body["error"]["message"]))
        return sid, body["result"]


def main():
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555"
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)

    # 1. initialize: an empty session id asks for a new session; the answer
    #    carries the session id to send on every later message.
    session_id, result = request(sock, "", 1, "initialize", {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "example-client", "version": "1.0"},
    })
    print("session %s, protocol %s, server %s %s" % (
        session_id, result["protocolVersion"],
        result["serverInfo"]["name"], result["serverInfo"]["version"]))

    # 2. Tell the server we are ready (a notification: no answer).
    send(sock, "MSG", session_id,
         {"jsonrpc": "2.0", "method": "notifications/initialized"})

    # 3. List the tools.
    _, result = request(sock, session_id, 2, "tools/list")
    print("tools:", ", ".join(tool["name"] for tool in result["tools"]))

    # 4. Call one.
    _, result = request(sock, session_id, 3, "tools/call",
                        {"name": "echo", "arguments": {"text": "hello from example"}})
    for block in result["content"]:
        if block["type"] == "text":
            print("echo says:", block["text"])

    # 5. Close the session; the server answers OK.
    send(sock, "CLOSE", session_id, b"")
    kind, _, _ = receive(sock)
    print("closed:", kind)

    sock.close()
    context.term()
    return 0 if kind == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
