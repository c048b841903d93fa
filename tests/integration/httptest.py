"""A small MCP Streamable HTTP client for the black-box tests.

Plain http.client over loopback, one keep-alive connection per Http
object; SSE streams are read event by event with a deadline. Every wait
is bounded.
"""

import http.client
import json
import socket
import time

from mcpztest import LATEST, free_port, init_params

ACCEPT_BOTH = "application/json, text/event-stream"


class Answer:
    """One HTTP response: status, headers, and its body or SSE events."""

    def __init__(self, response, events=None, body=b""):
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        self.events = events            # list of (id, data) for SSE
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def json(self):
        if self.events is not None:
            messages = [json.loads(data) for _, data in self.events if data]
            return messages[-1] if messages else None
        return json.loads(self.body) if self.body else None

    @property
    def messages(self):
        """Every JSON message, in order (SSE events, or the one body)."""
        if self.events is not None:
            return [json.loads(data) for _, data in self.events if data]
        return [self.json] if self.body else []

    def __repr__(self):
        return "<Answer %d %r %r>" % (self.status, self.headers, self.events or self.body)


def read_event(response, deadline):
    """Next SSE event (id, data) from a streaming response; None at its end.
    Comments (heartbeats) are skipped."""
    event_id, data, seen = None, [], False
    while time.monotonic() < deadline:
        line = response.readline()
        if not line:
            return None
        line = line.decode().rstrip("\r\n")
        if line == "":
            if seen:
                return event_id, "\n".join(data)
            continue
        if line.startswith(":"):
            continue
        seen = True
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "id":
            event_id = value
        elif field == "data":
            data.append(value)
    raise TimeoutError("no SSE event in time")


class Http:
    """A client of one mcpzd HTTP endpoint, with a session once opened."""

    def __init__(self, port, path="/mcp", timeout=10.0, version=LATEST):
        self.port, self.path, self.timeout = port, path, timeout
        self.version = version
        self.sid = None
        self.next_id = 100
        self.bearer = None          # a token sent as Authorization: Bearer
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def close(self):
        self.conn.close()

    def headers(self, accept=ACCEPT_BOTH, extra=None, session=True):
        h = {"Content-Type": "application/json"}
        if accept is not None:
            h["Accept"] = accept
        if session and self.sid:
            h["Mcp-Session-Id"] = self.sid
            h["MCP-Protocol-Version"] = self.version
        if self.bearer:
            h["Authorization"] = "Bearer " + self.bearer
        h.update(extra or {})
        return {k: v for k, v in h.items() if v is not None}

    def send(self, method, body=None, headers=None, path=None, stream_events=None):
        """One request; SSE responses are read to their end (or to
        stream_events events, leaving the response open: returns it too)."""
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        self.conn.request(method, path or self.path, body=data,
                          headers=headers if headers is not None else self.headers())
        response = self.conn.getresponse()
        if (response.getheader("Content-Type") or "").startswith("text/event-stream"):
            events, deadline = [], time.monotonic() + self.timeout
            while stream_events is None or len(events) < stream_events:
                event = read_event(response, deadline)
                if event is None:
                    break
                events.append(event)
            answer = Answer(response, events=events)
            if stream_events is not None:
                return answer, response
            return answer
        return Answer(response, body=response.read())

    def post(self, message, **kw):
        return self.send("POST", message, **kw)

    def request(self, method, params=None, **kw):
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        return self.post(message, **kw)

    def notify(self, method, params=None, **kw):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        return self.post(message, **kw)

    def tool(self, name, arguments=None, meta=None, **kw):
        params = {"name": name, "arguments": arguments or {}}
        if meta:
            params["_meta"] = meta
        return self.request("tools/call", params, **kw)

    def open(self, version=LATEST):
        """initialize + notifications/initialized; returns the session id."""
        self.sid = None
        self.version = version
        answer = self.request("initialize", init_params(version))
        assert answer.status == 200, answer
        self.sid = answer.header("Mcp-Session-Id")
        assert self.sid and len(self.sid) == 32, answer
        ack = self.notify("notifications/initialized")
        assert ack.status == 202 and ack.body == b"", ack
        return self.sid


def raw_request(port, text, timeout=5.0, rcvbuf=None):
    """Sends raw bytes on a fresh connection; returns the socket (caller
    reads or closes)."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    s.sendall(text.encode() if isinstance(text, str) else text)
    return s


def raw_post(port, sid, body, accept="application/json", rcvbuf=None):
    """A POST of body (a JSON value) on a fresh connection, left unread."""
    text = json.dumps(body)
    return raw_request(port, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Content-Type: application/json\r\nAccept: %s\r\n"
                             "Mcp-Session-Id: %s\r\nContent-Length: %d\r\n\r\n%s"
                       % (accept, sid, len(text), text), rcvbuf=rcvbuf)


def http_port():
    return free_port()


def start_http_class_server(case, *args):
    """A server for a whole TestCase class, with --http ADDR:PORT on a free
    port (its http_port attribute)."""
    port = http_port()
    server = case.start_class_server("--http", "127.0.0.1:%d" % port, *args)
    server.http_port = port
    return server
