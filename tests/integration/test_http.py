"""MCP Streamable HTTP (issue 10): the transport, every error row, streams
and their resumption, one session over both fronts, restart on SQLite,
slow readers, and the figures operators see."""

import json
import os
import socket
import threading
import time
import unittest

from httptest import (ACCEPT_BOTH, Http, http_port, raw_post, raw_request, read_event,
                      start_http_class_server)
from mcpztest import ServerTestCase, control, init_params, sid_valid, tcp_endpoint, text_of


class HttpCase(ServerTestCase):

    def http_server(self, *args, **kw):
        port = http_port()
        server = self.start_server("--http", str(port), *args, **kw)
        server.http_port = port
        return server

    def http(self, server, **kw):
        client = Http(server.http_port, **kw)
        self.addCleanup(client.close)
        return client

    def opened(self, *args):
        """A server started with args, and a client with a session on it."""
        server = self.http_server(*args)
        h = self.http(server)
        h.open()
        return server, h

    def assertHttpError(self, answer, status, code=None, rid="any"):
        self.assertEqual(answer.status, status, answer)
        body = answer.json
        self.assertEqual(body.get("jsonrpc"), "2.0", answer)
        self.assertIn("error", body, answer)
        self.assertIsInstance(body["error"].get("message"), str, answer)
        if code is not None:
            self.assertEqual(body["error"]["code"], code, answer)
        if rid != "any":
            self.assertEqual(body.get("id"), rid, answer)
        if status in (429, 503):
            self.assertTrue(answer.header("Retry-After").isdigit(), answer)
        return body


class Transport(HttpCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_http_class_server(cls)

    def test_session_over_http(self):
        h = self.http(self.server)
        h.open()
        self.assertTrue(sid_valid(h.sid))
        listed = h.request("tools/list")
        self.assertEqual(listed.status, 200, listed)
        self.assertEqual(listed.header("Content-Type"), "application/json")
        names = [tool["name"] for tool in listed.json["result"]["tools"]]
        self.assertIn("echo", names)
        echo = h.tool("echo", {"text": "hi"})
        self.assertEqual(text_of(echo.json["result"]), "hi")
        self.assertEqual(h.request("ping").json["result"], {})

    def test_every_session_version(self):
        for version in ("2025-03-26", "2025-06-18", "2025-11-25"):
            h = self.http(self.server)
            h.open(version)
            answer = h.request("ping")
            self.assertEqual(answer.status, 200, answer)

    def test_progress_comes_on_a_stream_then_the_result(self):
        h = self.http(self.server)
        h.open()
        answer = h.tool("progress", {"steps": 3, "interval_ms": 5}, meta={"progressToken": "p"})
        self.assertEqual(answer.status, 200, answer)
        self.assertTrue(answer.header("Content-Type").startswith("text/event-stream"), answer)
        messages = answer.messages
        self.assertEqual([m.get("method") for m in messages[:3]], ["notifications/progress"] * 3)
        self.assertEqual(text_of(messages[3]["result"]), "done 3 steps")
        ids = [int(event_id) for event_id, _ in answer.events]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), len(ids))

    def test_logging_on_the_stream(self):
        h = self.http(self.server)
        h.open()
        self.assertEqual(h.request("logging/setLevel", {"level": "debug"}).status, 200)
        answer = h.tool("sleep", {"ms": 1})
        methods = [m.get("method") for m in answer.messages]
        self.assertIn("notifications/message", methods, answer)
        self.assertEqual(text_of(answer.messages[-1]["result"]), "slept 1 ms")

    def test_accept_decides_the_form(self):
        h = self.http(self.server)
        h.open()
        # JSON only: progress is left out, the answer is JSON
        only_json = h.tool("progress", {"steps": 2, "interval_ms": 1}, meta={"progressToken": 1},
                           headers=h.headers(accept="application/json"))
        self.assertEqual(only_json.header("Content-Type"), "application/json", only_json)
        self.assertEqual(text_of(only_json.json["result"]), "done 2 steps")
        # SSE only: even the lone answer is an event
        only_sse = h.tool("echo", {"text": "s"}, headers=h.headers(accept="text/event-stream"))
        self.assertTrue(only_sse.header("Content-Type").startswith("text/event-stream"), only_sse)
        self.assertEqual(text_of(only_sse.json["result"]), "s")
        # Neither: 406
        refused = h.tool("echo", {"text": "x"}, headers=h.headers(accept="text/html"))
        self.assertHttpError(refused, 406)
        # None at all is taken as */*
        plain = h.tool("echo", {"text": "p"}, headers=h.headers(accept=None))
        self.assertEqual(plain.status, 200, plain)

    def test_notifications_and_responses_get_202(self):
        h = self.http(self.server)
        h.open()
        for body in ({"jsonrpc": "2.0", "method": "notifications/whatever"},
                     {"jsonrpc": "2.0", "id": "s1", "result": {}},
                     {"jsonrpc": "2.0", "method": "notifications/cancelled",
                      "params": {"requestId": 42}}):
            answer = h.post(body)
            self.assertEqual((answer.status, answer.body), (202, b""), answer)

    def test_keep_alive_carries_many_requests(self):
        h = self.http(self.server)
        h.open()
        sock = h.conn.sock
        for index in range(50):
            self.assertEqual(h.tool("echo", {"text": str(index)}).status, 200)
        self.assertIs(h.conn.sock, sock)

    def test_cancellation_answers_nothing_and_frees_the_slot(self):
        h = self.http(self.server)
        h.open()
        result = {}

        def call():
            other = Http(self.server.http_port, timeout=3)
            other.sid = h.sid
            try:
                result["answer"] = other.request("tools/call", {"name": "sleep", "arguments": {"ms": 5000}})
            except Exception as error:           # no response at all would be a bug
                result["error"] = error
            other.close()
        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(0.3)
        cancelled = h.notify("notifications/cancelled", {"requestId": 101})     # other's first id
        self.assertEqual(cancelled.status, 202)
        thread.join(10)
        # Never answered: the response ends with no message in it
        self.assertNotIn("error", result, result)
        self.assertEqual(result["answer"].messages, [], result)
        info = control(self.server.control_ep, {"command": "session", "id": h.sid})
        self.assertEqual(info["inflight"], 0, info)

    def test_delete_ends_the_session(self):
        h = self.http(self.server)
        h.open()
        g = self.http(self.server)
        g.sid = h.sid
        _, stream = g.send("GET", headers=g.headers(accept="text/event-stream"), stream_events=1)
        deleted = h.send("DELETE", headers=h.headers())
        self.assertEqual(deleted.status, 200, deleted)
        after = h.request("ping")
        self.assertHttpError(after, 404, rid=h.next_id)
        again = h.send("DELETE", headers=h.headers())
        self.assertHttpError(again, 404)
        # The session's GET stream ended with it
        self.assertIsNone(read_event(stream, time.monotonic() + 5))


class Errors(HttpCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_http_class_server(cls, "--max-message-size", "4096",
                                             "--http-allowed-origins", "https://app.example.com",
                                             "--max-inflight", "2", "--http-max-streams", "2")

    def setUp(self):
        self.h = self.http(self.server)

    def test_other_methods_405(self):
        for method in ("PUT", "PATCH", "HEAD"):
            answer = self.h.send(method, headers=self.h.headers())
            self.assertEqual(answer.status, 405, answer)
            self.assertIn("POST", answer.header("Allow"))

    def test_other_paths_404(self):
        answer = self.h.send("POST", {"jsonrpc": "2.0", "id": 1, "method": "ping"}, path="/other")
        self.assertEqual(answer.status, 404, answer)

    def test_unknown_session_404_names_the_request(self):
        self.h.sid = "0" * 32
        self.assertHttpError(self.h.request("ping"), 404, rid=self.h.next_id)
        self.h.sid = "not-a-session-id"
        self.assertHttpError(self.h.request("ping"), 404)

    def test_missing_session_id_400_names_the_request(self):
        answer = self.h.request("tools/list")
        self.assertHttpError(answer, 400, rid=self.h.next_id)

    def test_protocol_version_header(self):
        self.h.open()
        bad = self.h.request("ping", headers=self.h.headers(extra={"MCP-Protocol-Version": "1999-01-01"}))
        self.assertHttpError(bad, 400)
        missing = self.h.request("ping", headers=self.h.headers(extra={"MCP-Protocol-Version": None}))
        self.assertEqual(missing.status, 200, missing)

    def test_body_over_the_limit_413(self):
        self.h.open()
        big = self.h.tool("echo", {"text": "x" * 5000})
        self.assertHttpError(big, 413)
        # The connection or a new one goes on
        h = self.http(self.server)
        h.sid = self.h.sid
        self.assertEqual(h.request("ping").status, 200)

    def test_malformed_json_400_parse_error(self):
        self.h.open()
        answer = self.h.post("{\"jsonrpc\": \"2.0\", \"id\": 1,")
        body = self.assertHttpError(answer, 400, code=-32700)
        self.assertIsNone(body["id"])
        nothing = self.h.post("[]")
        self.assertHttpError(nothing, 400, code=-32600)
        # Balanced but not JSON: the host finds it out, the answer is the same
        literal = self.h.post('{"jsonrpc": "2.0", "id": 5, "method": "ping", "x": tru}')
        self.assertHttpError(literal, 400, code=-32700)

    def test_origin(self):
        self.h.open()
        evil = self.h.request("ping", headers=self.h.headers(extra={"Origin": "http://evil.example"}))
        self.assertHttpError(evil, 403)
        for origin in ("http://localhost:6274", "http://127.0.0.1:3000", "https://app.example.com"):
            ok = self.h.request("ping", headers=self.h.headers(extra={"Origin": origin}))
            self.assertEqual(ok.status, 200, (origin, ok))

    def test_host_checked_on_loopback(self):
        s = raw_request(self.server.http_port,
                        "POST /mcp HTTP/1.1\r\nHost: rebind.evil.example:%d\r\n"
                        "Content-Type: application/json\r\nAccept: application/json\r\n"
                        "Content-Length: 2\r\n\r\n{}" % self.server.http_port)
        self.assertIn(b" 403 ", s.recv(4096).split(b"\r\n")[0] + b" ")
        s.close()

    def test_initialize_errors(self):
        bad = self.h.post({"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {}})
        self.assertHttpError(bad, 400, rid=9)

    def test_too_many_requests_in_flight_429(self):
        self.h.open()
        results = []

        def slow(first_id):
            other = Http(self.server.http_port)
            other.sid, other.next_id = self.h.sid, first_id
            results.append(other.tool("sleep", {"ms": 600}).status)
            other.close()
        threads = [threading.Thread(target=slow, args=(1000 * (n + 1),)) for n in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        refused = self.h.tool("sleep", {"ms": 1})
        self.assertHttpError(refused, 429, rid=self.h.next_id)
        for t in threads:
            t.join(5)
        self.assertEqual(results, [200, 200])

    def test_stream_cap_429(self):
        self.h.open()
        streams = []
        for _ in range(2):
            s = Http(self.server.http_port)
            s.sid = self.h.sid
            answer, response = s.send("GET", headers=s.headers(accept="text/event-stream"),
                                      stream_events=1)
            self.assertEqual(answer.status, 200, answer)
            streams.append(s)
        third = self.h.send("GET", headers=self.h.headers(accept="text/event-stream"))
        self.assertHttpError(third, 429)
        streams[0].close()
        # The slot comes back as soon as the server sees the client hang up
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            h = Http(self.server.http_port)
            h.sid = self.h.sid
            answer = h.send("GET", headers=h.headers(accept="text/event-stream"), stream_events=1)
            answer = answer[0] if isinstance(answer, tuple) else answer
            h.close()
            if answer.status == 200:
                break
            time.sleep(0.05)
        self.assertEqual(answer.status, 200, answer)
        streams[1].close()

    def test_get_needs_event_stream_and_a_session(self):
        self.h.open()
        self.assertHttpError(self.h.send("GET", headers=self.h.headers(accept="application/json")), 406)
        self.assertHttpError(self.h.send("GET", headers=self.h.headers(session=False,
                                                                        accept="text/event-stream")), 400)

    def test_bad_last_event_id_400(self):
        self.h.open()
        for bad in ("abc", "18446744073709551616", "-1"):
            answer = self.h.send("GET", headers=self.h.headers(accept="text/event-stream",
                                                               extra={"Last-Event-ID": bad}))
            self.assertHttpError(answer, 400)

    def test_host_and_origin_come_once(self):
        s = raw_request(self.server.http_port,
                        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n"
                        "Content-Type: application/json\r\nAccept: application/json\r\n"
                        "Content-Length: 2\r\n\r\n{}")
        self.assertIn(b" 400 ", s.recv(4096).split(b"\r\n")[0] + b" ")
        s.close()

    def test_a_declared_length_over_the_limit_is_refused_before_the_body(self):
        s = raw_request(self.server.http_port,
                        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "Accept: application/json\r\nContent-Length: 99999999\r\n\r\n")
        self.assertIn(b" 413 ", s.recv(4096).split(b"\r\n")[0] + b" ")
        s.close()


class Streams(HttpCase):

    def test_post_stream_resumed_on_get_replays_that_stream_only(self):
        server, h = self.opened()
        # Stream A: read its first event, then drop the connection
        a = Http(server.http_port)
        a.sid = h.sid
        first, response = a.send("POST", {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                          "params": {"name": "progress",
                                                     "arguments": {"steps": 4, "interval_ms": 150},
                                                     "_meta": {"progressToken": "a"}}},
                                 headers=a.headers(), stream_events=1)
        last_seen = first.events[0][0]
        a.close()
        # Stream B on another connection, read to its end
        b = h.tool("progress", {"steps": 2, "interval_ms": 1}, meta={"progressToken": "b"})
        b_ids = {event_id for event_id, _ in b.events}
        # Resume A from its first event: the rest of A, none of B
        resumed, response = h.send("GET", headers=h.headers(accept="text/event-stream",
                                                            extra={"Last-Event-ID": last_seen}),
                                   stream_events=5)
        messages = [json.loads(data) for _, data in resumed.events if data]
        self.assertTrue(all(m.get("params", {}).get("progressToken") in (None, "a") for m in messages),
                        messages)
        self.assertFalse(b_ids & {event_id for event_id, _ in resumed.events})
        tokens = [m["params"]["progress"] for m in messages if m.get("method")]
        self.assertEqual(tokens, [2, 3, 4], messages)
        self.assertEqual(text_of(messages[-1]["result"]), "done 4 steps")

    def test_get_stream_has_an_anchor_to_resume_from(self):
        server, h = self.opened()
        g = self.http(server)
        g.sid = h.sid
        answer, response = g.send("GET", headers=g.headers(accept="text/event-stream"), stream_events=1)
        self.assertEqual(answer.status, 200)
        anchor, data = answer.events[0]
        self.assertTrue(anchor.isdigit() and data == "", answer.events)
        g.close()
        again = self.http(server)
        again.sid = h.sid
        answer, _ = again.send("GET", headers=again.headers(accept="text/event-stream",
                                                           extra={"Last-Event-ID": anchor}),
                               stream_events=1)
        self.assertEqual(answer.status, 200)
        self.assertGreater(int(answer.events[0][0]), int(anchor))

    def test_slow_reader_is_dropped_and_nobody_waits(self):
        server, h = self.opened("--http-stream-bytes", "4096")
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "progress", "arguments": {"steps": 1000, "interval_ms": 0},
                           "_meta": {"progressToken": "slow"}}}
        readers = [raw_post(server.http_port, h.sid, dict(call, id=n), accept="text/event-stream",
                            rcvbuf=2048) for n in range(4)]
        start = time.monotonic()
        for index in range(20):
            self.assertEqual(h.tool("echo", {"text": str(index)}).status, 200)
        self.assertLess(time.monotonic() - start, 5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            http = control(server.control_ep, {"command": "stats"})["supervisor"]["http"]
            if http["streams_dropped"] >= 1:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(http["streams_dropped"], 1, http)
        for s in readers:
            s.close()


class HangUps(HttpCase):

    def test_a_client_that_hangs_up_while_waiting_leaves_nothing_behind(self):
        server, h = self.opened()
        waiting = [raw_post(server.http_port, h.sid,
                            {"jsonrpc": "2.0", "id": n, "method": "tools/call",
                             "params": {"name": "sleep", "arguments": {"ms": 800}}})
                   for n in range(3)]
        time.sleep(0.3)
        figures = control(server.control_ep, {"command": "stats"})["supervisor"]["http"]
        self.assertGreaterEqual(figures["requests"], 3, figures)
        for s in waiting:
            s.close()
        # Their answers come and find nobody; then nothing is left
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            figures = control(server.control_ep, {"command": "stats"})["supervisor"]["http"]
            if figures["requests"] == 0 and figures["connections"] == 1:
                break
            time.sleep(0.05)
        self.assertEqual((figures["requests"], figures["connections"]), (0, 1), figures)
        self.assertEqual(figures["held_bytes"], 0, figures)
        self.assertEqual(h.request("ping").status, 200)

    def test_a_cancelled_request_ends_its_response(self):
        server, h = self.opened()
        results = {}

        def call(accept):
            other = Http(server.http_port)
            other.sid, other.next_id = h.sid, 500 if accept == "application/json" else 600
            results[accept] = other.tool("sleep", {"ms": 5000}, headers=other.headers(accept=accept))
            other.close()
        threads = [threading.Thread(target=call, args=(accept,))
                   for accept in ("application/json", "text/event-stream")]
        for t in threads:
            t.start()
        time.sleep(0.4)
        for rid in (501, 601):
            self.assertEqual(h.notify("notifications/cancelled", {"requestId": rid}).status, 202)
        for t in threads:
            t.join(5)
        self.assertEqual(results["application/json"].status, 204, results)
        self.assertEqual(results["text/event-stream"].status, 200, results)
        self.assertEqual(results["text/event-stream"].events, [], results)

    def test_a_session_that_ends_ends_its_get_streams(self):
        server, h = self.opened()
        streams = []
        for _ in range(2):
            g = self.http(server)
            g.sid = h.sid
            streams.append(g.send("GET", headers=g.headers(accept="text/event-stream"),
                                  stream_events=1)[1])
        self.assertTrue(control(server.control_ep, {"command": "kill", "id": h.sid})["ok"])
        for stream in streams:
            self.assertIsNone(read_event(stream, time.monotonic() + 5))

    def test_ending_a_resumed_call_leaves_other_streams_alone(self):
        server, h = self.opened()
        plain = self.http(server)
        plain.sid = h.sid
        _, plain_stream = plain.send("GET", headers=plain.headers(accept="text/event-stream"),
                                     stream_events=1)
        a = self.http(server)
        a.sid = h.sid
        first, _ = a.send("POST", {"jsonrpc": "2.0", "id": 77, "method": "tools/call",
                                   "params": {"name": "progress",
                                              "arguments": {"steps": 20, "interval_ms": 100},
                                              "_meta": {"progressToken": "r"}}},
                          headers=a.headers(), stream_events=1)
        g = self.http(server)
        g.sid = h.sid
        _, resumed = g.send("GET", headers=g.headers(accept="text/event-stream",
                                                     extra={"Last-Event-ID": first.events[0][0]}),
                            stream_events=1)
        self.assertEqual(h.notify("notifications/cancelled", {"requestId": 77}).status, 202)
        # The resumed stream ends; the plain GET stream stays, and takes events
        deadline = time.monotonic() + 5
        while read_event(resumed, deadline) is not None:
            pass
        figures = control(server.control_ep, {"command": "stats"})["supervisor"]["http"]
        self.assertGreaterEqual(figures["streams"], 1, figures)
        plain_stream.fp.raw._sock.settimeout(0.3)
        with self.assertRaises((socket.timeout, TimeoutError)):
            plain_stream.readline()


class ManyConnections(HttpCase):

    def test_a_thousand_connections_at_once(self):
        server, h = self.opened()
        sockets = [raw_post(server.http_port, h.sid, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
                   for _ in range(1000)]
        for s in sockets:
            answer = b""
            while b'"result":{}' not in answer:
                chunk = s.recv(4096)
                self.assertTrue(chunk, answer)
                answer += chunk
            self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
        figures = control(server.control_ep, {"command": "stats"})["supervisor"]["http"]
        self.assertGreaterEqual(figures["connections"], 1000, figures)
        for s in sockets:
            s.close()


class BothFronts(HttpCase):

    def test_http_session_continues_over_zeromq_and_back(self):
        server, h = self.opened()
        c = self.client(server)
        self.assertEqual(text_of(c.tool(h.sid, "echo", {"text": "zmq"})), "zmq")
        sid = c.open()
        h.sid = sid
        self.assertEqual(text_of(h.tool("echo", {"text": "http"}).json["result"]), "http")
        c.close_session(sid)
        self.assertEqual(h.request("ping").status, 404)

    def test_http_session_survives_a_restart_on_sqlite(self):
        port = http_port()
        endpoint = tcp_endpoint()
        server = self.start_server("--http", str(port), "--store", "sqlite:{tmp}/s.db",
                                   listen=endpoint, store=None)
        server.http_port = port
        h = self.http(server)
        h.open()
        db = os.path.join(server.tmp, "s.db")
        server.stop()
        again = self.start_server("--http", str(port), "--store", "sqlite:" + db,
                                  listen=endpoint, store=None)
        again.http_port = port
        h2 = self.http(again)
        h2.sid = h.sid
        self.assertEqual(text_of(h2.tool("echo", {"text": "back"}).json["result"]), "back")

    def test_drain_refuses_new_sessions_503(self):
        server, h = self.opened()
        self.assertTrue(control(server.control_ep, {"command": "drain"})["ok"])
        fresh = self.http(server)
        refused = fresh.request("initialize", init_params())
        self.assertHttpError(refused, 503, rid=fresh.next_id)
        self.assertEqual(h.request("ping").status, 200)

    def test_figures(self):
        server, h = self.opened()
        h.request("ping")
        h.send("PUT", headers=h.headers())
        stats = control(server.control_ep, {"command": "stats"})
        http = stats["supervisor"]["http"]
        self.assertGreaterEqual(http["connections_total"], 1, http)
        self.assertGreaterEqual(http["responses"]["2xx"], 3, http)
        self.assertGreaterEqual(http["responses"]["4xx"], 1, http)
        text = control(server.control_ep, {"command": "metrics"})["text"]
        self.assertIn("mcpz_http_responses_total", text)
        self.assertIn("mcpz_http_connections", text)

    def test_bad_http_flag_exits_2(self):
        from mcpztest import run_mcpzd
        for value in ("0", "host:99999", "::1:80"):
            rc, out, err = run_mcpzd(["--store", "none", "--http", value])
            self.assertEqual(rc, 2, err)
            self.assertIn("--http", err)


if __name__ == "__main__":
    unittest.main()
