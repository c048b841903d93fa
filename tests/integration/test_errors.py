"""Errors: every row of the ERR table (400, 404, 413, 429, 503 from a full
session-host queue and from a full tool queue) and every JSON-RPC error a
live session answers with (-32700, -32600, -32601, -32602), plus bodies a
session must ignore. After each bad input the session must still work."""

import json
import time
import unittest

from mcpztest import (SIGNATURE, ServerTestCase, SessionTestCase, dumps, init_params, next_id,
                      text_of)

UNKNOWN_SID = "0123456789abcdef0123456789abcdef"


def req(rid, method="ping", params=None, **extra):
    body = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        body["params"] = params
    body.update(extra)
    return body


class Envelope(SessionTestCase):
    """ERR 400 and 404: problems with the envelope or the session. The
    session survives every bad envelope (SessionTestCase checks)."""

    def test_wrong_frame_count(self):
        c, sid = self.c, self.sid
        ping = dumps(req(next_id()))
        cases = [
            [SIGNATURE],
            [SIGNATURE, b"MSG"],
            [SIGNATURE, b"MSG", sid.encode()],
            [SIGNATURE, b"MSG", sid.encode(), ping, b""],
            [SIGNATURE, b"MSG", sid.encode(), ping, b"x", b"y"],
            [SIGNATURE, b"MSG", b"", dumps(req(next_id(), "initialize", init_params())), b""],
        ]
        for frames in cases:
            with self.subTest(frames=len(frames)):
                c.send_frames(frames)
                self.assertErr(c.expect_err(), 400)
                c.expect_silence(0.05)

    def test_bad_signature(self):
        c, sid = self.c, self.sid
        for sig in (b"MCPZ/2", b"mcpz/1", b"", b"MCPZ/1\x00", b"MCPZ/10", b"MCPZ"):
            with self.subTest(sig=sig):
                c.send_frames([sig, b"MSG", sid.encode(), dumps(req(next_id()))])
                m = c.expect_err()
                self.assertErr(m, 400)
                self.assertIn(m.sid, ("", sid))
                c.expect_silence(0.05)

    def test_unknown_command(self):
        c, sid = self.c, self.sid
        for cmd in (b"FOO", b"msg", b"", b"MSG ", b"LISTENX", b"close"):
            with self.subTest(cmd=cmd):
                c.send_frames([SIGNATURE, cmd, sid.encode(), b""])
                self.assertErr(c.expect_err(), 400, sid=sid)
                c.expect_silence(0.05)

    def test_listen_and_close_need_a_session_id(self):
        c = self.c
        for cmd in ("LISTEN", "CLOSE"):
            with self.subTest(cmd=cmd):
                c.send(cmd, "", b"")
                self.assertErr(c.expect_err(), 400, rid=None, sid="")
                c.send(cmd, "", b"1")
                self.assertErr(c.expect_err(), 400, rid=None, sid="")

    def test_empty_sid_request_that_is_not_initialize(self):
        c = self.c
        for method in ("ping", "tools/list", "tools/call", "notifications/initialized"):
            with self.subTest(method=method):
                rid = next_id()
                c.send_body("", req(rid, method), expect_id=rid)
                self.assertErr(c.wait(rid), 400, rid=rid, sid="")
        # String ids are named too.
        c.send_body("", req("str-id-1"), expect_id="str-id-1")
        self.assertErr(c.wait("str-id-1"), 400, rid="str-id-1", sid="")

    def test_empty_sid_notification_or_response(self):
        c = self.c
        bodies = [
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "method": "initialize", "params": init_params()},
            {"jsonrpc": "2.0", "id": next_id(), "result": {}},
        ]
        for body in bodies:
            with self.subTest(body=body):
                c.send_body("", body)
                self.assertErr(c.expect_err(), 400, sid="")

    def test_empty_sid_body_not_json(self):
        c = self.c
        for body in (b"", b"not json", b"{", b'{"jsonrpc":"2.0","id":1,"method":"initialize"',
                     b"\xff\xfe", b'{"jsonrpc":"2.0","id":1e999999,"method":"initialize"}'):
            with self.subTest(body=body):
                c.send_body("", body)
                self.assertErr(c.expect_err(), 400, rid=None, sid="")

    def test_bad_initialize_params(self):
        c = self.c
        good = init_params()
        def without(key):
            return {k: v for k, v in good.items() if k != key}
        cases = {
            "no params": None,
            "params array": [good],
            "params empty": {},
            "no protocolVersion": without("protocolVersion"),
            "protocolVersion number": dict(good, protocolVersion=20250618),
            "protocolVersion null": dict(good, protocolVersion=None),
            "no clientInfo": without("clientInfo"),
            "clientInfo string": dict(good, clientInfo="me"),
            "clientInfo without name": dict(good, clientInfo={"version": "1"}),
            "clientInfo name number": dict(good, clientInfo={"name": 5, "version": "1"}),
            "capabilities string": dict(good, capabilities="all"),
            "capabilities array": dict(good, capabilities=[]),
        }
        before = self.server.stats()["sessions"]
        for what, params in cases.items():
            with self.subTest(what):
                rid = next_id()
                body = {"jsonrpc": "2.0", "id": rid, "method": "initialize"}
                if params is not None:
                    body["params"] = params
                c.send_body("", body, expect_id=rid)
                self.assertErr(c.wait(rid), 400, rid=rid, sid="")
        # Not a valid JSON-RPC request either, though the method is initialize.
        rid = next_id()
        c.send_body("", req(rid, "initialize", init_params(), jsonrpc="1.0"), expect_id=rid)
        self.assertErr(c.wait(rid), 400, rid=rid, sid="")
        self.assertEqual(self.server.stats()["sessions"], before,
                         "a refused initialize must not create a session")

    def test_malformed_session_ids(self):
        c = self.c
        bad = [
            self.sid.upper(),
            self.sid[:31],
            self.sid + "0",
            "g" * 32,
            " " + self.sid[1:],
            self.sid[:16],
            "x",
        ]
        for s in bad:
            with self.subTest(sid=s):
                rid = next_id()
                c.send_body(s, req(rid), expect_id=rid)
                self.assertErr(c.wait(rid), 404, rid=rid, sid="")
                for cmd in ("LISTEN", "CLOSE"):
                    c.send(cmd, s, b"")
                    self.assertErr(c.expect_err(), 404, rid=None, sid="")
                c.notify(s, "notifications/initialized")
                self.assertErr(c.expect_err(), 404, rid=None, sid="")

    def test_unknown_session_id(self):
        c = self.c
        for s in (UNKNOWN_SID, "f" * 32, "0" * 32):
            with self.subTest(sid=s):
                rid = next_id()
                c.send_body(s, req(rid), expect_id=rid)
                self.assertErr(c.wait(rid), 404, rid=rid, sid=s)
                rid = next_id()
                c.send_body(s, req(rid, "tools/call", {"name": "echo", "arguments": {"text": "x"}}),
                            expect_id=rid)
                self.assertErr(c.wait(rid), 404, rid=rid, sid=s)
                self.assertErr(c.listen(s, b""), 404, rid=None, sid=s)
                self.assertErr(c.listen(s, b"7"), 404, rid=None, sid=s)
                self.assertErr(c.close_session(s), 404, rid=None, sid=s)

    def test_closed_session(self):
        c = self.c
        other = c.open()
        self.assertEqual(c.close_session(other).kind, "OK")
        rid = c.request(other, "ping")
        self.assertErr(c.wait(rid), 404, rid=rid, sid=other)
        self.assertErr(c.close_session(other), 404, rid=None, sid=other)
        self.assertErr(c.listen(other), 404, rid=None, sid=other)
        # A new initialize is the way back.
        fresh = c.open()
        self.assertNotEqual(fresh, other)
        self.assertEqual(c.result(fresh, "ping"), {})

    def test_bad_body_with_unknown_session(self):
        # The session check comes first: 404, not a JSON-RPC error.
        c = self.c
        c.send_body(UNKNOWN_SID, b"not json")
        self.assertErr(c.expect_err(), 404, rid=None, sid=UNKNOWN_SID)


class MessageSize(ServerTestCase):
    LIMIT = 1000

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server("--max-message-size", cls.LIMIT)

    def echo_body(self, rid, size):
        """An echo request body of exactly size bytes."""
        base = dumps(req(rid, "tools/call", {"name": "echo", "arguments": {"text": ""}}))
        pad = size - len(base)
        self.assertGreaterEqual(pad, 0)
        body = dumps(req(rid, "tools/call", {"name": "echo", "arguments": {"text": "a" * pad}}))
        self.assertEqual(len(body), size)
        return body, "a" * pad

    def test_413(self):
        c = self.client(self.server)
        sid = c.open()
        # At the limit: served.
        rid = next_id()
        body, text = self.echo_body(rid, self.LIMIT)
        c.send_body(sid, body, expect_id=rid)
        self.assertEqual(text_of(self.assertResult(c.wait(rid))), text)
        # One byte over, twice over: 413 with id null, session echoed.
        for size in (self.LIMIT + 1, 2 * self.LIMIT, 4 * self.LIMIT - 100):
            with self.subTest(size=size):
                body, _ = self.echo_body(next_id(), size)
                c.send_body(sid, body)
                self.assertErr(c.expect_err(), 413, rid=None, sid=sid)
        # Also before a session exists.
        params = init_params()
        params["clientInfo"]["name"] = "n" * (2 * self.LIMIT)
        c.send_body("", req(next_id(), "initialize", params))
        self.assertErr(c.expect_err(), 413, rid=None, sid="")
        # The session is untouched.
        self.assertEqual(c.result(sid, "ping"), {})

    def test_far_too_large_does_not_hurt_others(self):
        bystander = self.client(self.server, "bystander")
        sid = bystander.open()
        hostile = self.client(self.server, "hostile")
        hostile.checked = False     # its connection may be dropped unanswered
        hsid = hostile.open()
        hostile.send_body(hsid, b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'
                          + b"z" * (100 * self.LIMIT) + b'"}}')
        hostile.send_body(hsid, b"y" * (1000 * self.LIMIT))
        for _ in range(5):
            self.assertEqual(bystander.result(sid, "ping"), {})
        hostile.pump(0.2)
        for m in hostile.inbox:
            if m.kind == "ERR":
                self.assertEqual(m.status, 413, repr(m))
        self.assertTrue(self.server.running())


class InSession(SessionTestCase):
    """A problem with the JSON-RPC body inside a live session is a MSG with a
    JSON-RPC error, and the session carries on."""

    def error_answer(self):
        """The next JSON-RPC error response in the inbox (untracked ids)."""
        return self.c.expect(lambda m: m.is_response() and m.sid == self.sid,
                             what="JSON-RPC error response")

    def send_expect(self, body, code, rid=None, accept_ids=None):
        """Sends body; expects error code. rid: the id the answer must name
        (tracked). accept_ids: ids the answer may name when it is untracked
        (None: it must be null)."""
        c = self.c
        if rid is not None:
            c.send_body(self.sid, body, expect_id=rid)
            m = c.wait(rid)
            self.assertRpcError(m, code, rid)
        else:
            c.send_body(self.sid, body)
            m = self.error_answer()
            self.assertRpcError(m, code)
            self.assertIn(m.json["id"], [None] + list(accept_ids or []), repr(m))
        self.assertEqual(m.sid, self.sid)
        return m

    def test_parse_errors(self):
        rid = next_id()
        bodies = [
            b"not json",
            b"",
            b" ",
            b"{",
            b'{"jsonrpc":"2.0","id":%d,"method":"ping"' % rid,
            b'{"jsonrpc":"2.0","id":%d,"method":"ping"}}' % rid,
            b'{"jsonrpc":"2.0","id":%d,"method":"ping"} {}' % rid,
            b"{'jsonrpc':'2.0'}",
            b'{"jsonrpc":"2.0","id":%d,"method":"ping",}' % rid,
        ]
        for body in bodies:
            with self.subTest(body=body):
                self.send_expect(body, -32700)

    def test_invalid_utf8(self):
        for raw in (b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf"):
            with self.subTest(raw=raw):
                rid = next_id()
                body = (b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":'
                        b'{"name":"echo","arguments":{"text":"' % rid + raw + b'"}}}')
                self.send_expect(body, -32700, accept_ids=[rid])

    def test_not_a_request_object(self):
        for body in (b"[]", b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', b'"ping"',
                     b"42", b"null", b"true", b"{}"):
            with self.subTest(body=body):
                self.send_expect(body, -32600)

    def test_bad_jsonrpc_member(self):
        for value in ("1.0", 2.0, None, "2.0 "):
            with self.subTest(jsonrpc=value):
                rid = next_id()
                self.send_expect(dumps(req(rid, jsonrpc=value)), -32600, rid=rid)
        rid = next_id()
        self.send_expect(dumps({"id": rid, "method": "ping"}), -32600, rid=rid)

    def test_bad_id_types(self):
        for value in (1.5, True, False, None, {}, {"a": 1}, [1]):
            with self.subTest(id=value):
                self.send_expect(dumps(req(value)), -32600, accept_ids=[value])

    def test_huge_numbers_as_id(self):
        for literal in (b"123456789012345678901234567890", b"1e999999", b"-1e999999",
                        b"99999999999999999999"):
            with self.subTest(id=literal):
                body = b'{"jsonrpc":"2.0","id":' + literal + b',"method":"ping"}'
                self.c.send_body(self.sid, body)
                m = self.error_answer()
                self.assertIn(m.error.get("code"), (-32700, -32600), repr(m))
                self.assertIsNone(m.json["id"], repr(m))

    def test_bad_method(self):
        for value in (5, None, [], {"a": 1}, True):
            with self.subTest(method=value):
                rid = next_id()
                self.send_expect(dumps(req(rid, value)), -32600, rid=rid)

    def test_neither_request_nor_response(self):
        rid = next_id()
        self.send_expect(dumps({"jsonrpc": "2.0", "id": rid}), -32600, accept_ids=[rid])

    def test_bad_params(self):
        for value in ("x", 5, True, None):
            with self.subTest(params=value):
                rid = next_id()
                body = {"jsonrpc": "2.0", "id": rid, "method": "ping", "params": value}
                self.send_expect(dumps(body), -32600, rid=rid)

    def test_unknown_method(self):
        for method in ("no/such", "tools/lists", "", "PING", "resources/list/x"):
            with self.subTest(method=method):
                rid = next_id()
                self.send_expect(dumps(req(rid, method)), -32601, rid=rid)
        self.send_expect(dumps(req("sid-x", "nope")), -32601, rid="sid-x")

    def test_unknown_tool(self):
        for name in ("nope", "ECHO", "", "echo "):
            with self.subTest(name=name):
                rid = next_id()
                self.send_expect(dumps(req(rid, "tools/call", {"name": name, "arguments": {}})),
                                 -32602, rid=rid)

    def test_tools_call_without_name_is_an_error(self):
        for params in ({}, {"arguments": {"text": "x"}}, {"name": 5}):
            with self.subTest(params=params):
                m = self.c.rpc(self.sid, "tools/call", params)
                self.assertEqual(m.kind, "MSG", repr(m))
                self.assertIn("error", m.json, repr(m))

    def test_initialize_again(self):
        rid = next_id()
        self.send_expect(dumps(req(rid, "initialize", init_params())), -32600, rid=rid)

    def test_deep_nesting(self):
        for depth in (65, 100, 1000, 100000):
            with self.subTest(depth=depth):
                rid = next_id()
                nest = b"[" * depth + b"]" * depth
                body = b'{"jsonrpc":"2.0","id":%d,"method":"ping","params":{"x":' % rid + nest + b"}}"
                self.send_expect(body, -32700, accept_ids=[rid])
        # Unclosed: still a parse error, never a crash.
        self.send_expect(b"[" * 50000, -32700)
        self.send_expect(b'{"a":' * 50000, -32700)

    def test_a_body_too_costly_to_parse_is_refused_before_parsing(self):
        #  250,000 small values (750 KB) stalled every session of the host
        #  while it was parsed; past 16,384 values nothing is parsed
        for values in (16385, 250000):
            with self.subTest(values=values):
                rid = next_id()
                body = (b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo",'
                        b'"arguments":{"text":"x","pad":[' % rid + b"0," * (values - 6) + b"0]}}}")
                m = self.send_expect(body, -32700, accept_ids=[rid])
                self.assertIn("too costly", m.json["error"]["message"])
        #  Up to it, served; commas inside strings are text, not values
        m = self.c.rpc(self.sid, "tools/call", {"name": "echo", "arguments": {
            "text": "," * 100000, "pad": [0] * 16000}})
        self.assertEqual(text_of(self.assertResult(m)), "," * 100000)

    def test_moderate_nesting_is_fine(self):
        nest = 40 * "[" + 40 * "]"
        m = self.c.rpc(self.sid, "ping", {"x": json.loads(nest)})
        self.assertEqual(self.assertResult(m), {})

    def test_ignored_bodies(self):
        """Unknown notifications and client responses get no answer."""
        c = self.c
        c.notify(self.sid, "notifications/unknown")
        c.notify(self.sid, "notifications/cancelled", {"requestId": 999999, "reason": "x"})
        c.notify(self.sid, "notifications/initialized")
        c.send_body(self.sid, {"jsonrpc": "2.0", "id": 424242, "result": {}})
        c.send_body(self.sid, {"jsonrpc": "2.0", "id": "s-1", "result": {"x": 1}})
        c.send_body(self.sid, {"jsonrpc": "2.0", "id": 424243,
                               "error": {"code": -1, "message": "no"}})
        c.expect_silence(0.3)

    def test_errors_take_event_ids(self):
        c = self.c
        last = c.last_eid[self.sid]
        c.send_body(self.sid, b"not json")
        m = self.error_answer()
        self.assertEqual(int(m.eid), last + 1)
        m = c.rpc(self.sid, "no/such")
        self.assertEqual(int(m.eid), last + 2)


class HostQueue(ServerTestCase):
    """A full session-host queue turns into an immediate 503 naming the id."""

    def test_503_when_host_queue_full(self):
        server = self.start_server("--session-threads", 1, "--host-queue", 1)
        c = self.client(server)
        # One at a time: with a queue of one, concurrent initializes may be
        # refused too.
        sids = [c.open() for _ in range(4)]
        seen_503 = 0
        answered_ok = 0
        bursts = 0
        t0 = time.monotonic()
        while seen_503 == 0 and bursts < 6 and time.monotonic() - t0 < 20:
            bursts += 1
            rids = []
            for i in range(3000):
                sid = sids[i % len(sids)]
                if i % 2:
                    rids.append(c.request(sid, "ping"))
                else:
                    rids.append(c.call_tool(sid, "echo", {"text": "burst %d" % i}))
            c.wait_all(timeout=30)
            for rid in rids:
                m = c.wait(rid, 0)
                if m.kind == "ERR":
                    self.assertErr(m, 503, rid=rid)
                    seen_503 += 1
                else:
                    self.assertResult(m)
                    answered_ok += 1
        print("\nhost queue: %d bursts, %d answered, %d refused with 503"
              % (bursts, answered_ok, seen_503))
        self.assertGreater(seen_503, 0, "no 503 although --host-queue 1")
        stats = server.stats()
        self.assertGreater(stats.get("overloads", 0), 0, stats)
        # Every session still works.
        for sid in sids:
            self.assertEqual(c.result(sid, "ping"), {})


class MaxInflight(ServerTestCase):
    """spec/mcpz-1.md 5: 429 when the session already has its maximum of
    requests in flight; other sessions are not affected."""

    def test_429(self):
        server = self.start_server("--max-inflight", 2)
        c = self.client(server)
        a, b = c.open(), c.open()
        rids = [c.call_tool(a, "sleep", {"ms": 300}) for _ in range(4)]
        other = c.call_tool(b, "sleep", {"ms": 10})
        c.wait_all()
        kinds = []
        for rid in rids:
            m = c.wait(rid, 0)
            if m.kind == "ERR":
                self.assertErr(m, 429, rid=rid, sid=a)
            else:
                self.assertEqual(text_of(self.assertResult(m)), "slept 300 ms")
            kinds.append(m.kind)
        self.assertEqual(kinds, ["MSG", "MSG", "ERR", "ERR"])
        self.assertEqual(text_of(self.assertResult(c.wait(other))), "slept 10 ms")
        # Once they are done the session takes requests again.
        self.assertEqual(text_of(c.tool(a, "sleep", {"ms": 1})), "slept 1 ms")


class ToolQueue(ServerTestCase):
    """A full tool queue refuses the call with 503 naming its id; inline
    tools and other requests are not affected."""

    def test_503_when_tool_queue_full(self):
        server = self.start_server("--tool-threads", 1, "--tool-queue", 1)
        c = self.client(server)
        a, b = c.open(), c.open()
        rids = [c.call_tool(a if i % 2 else b, "sleep", {"ms": 300}) for i in range(8)]
        # Inline work is unaffected while the worker is busy.
        self.assertEqual(text_of(c.tool(a, "echo", {"text": "still here"})), "still here")
        c.wait_all(timeout=15)
        ok = refused = 0
        for rid in rids:
            m = c.wait(rid, 0)
            if m.kind == "ERR":
                self.assertErr(m, 503, rid=rid)
                refused += 1
            else:
                self.assertEqual(text_of(self.assertResult(m)), "slept 300 ms")
                ok += 1
        print("\ntool queue: %d slept, %d refused with 503" % (ok, refused))
        self.assertGreaterEqual(ok, 1)
        self.assertGreaterEqual(refused, 1)
        self.assertLessEqual(ok, 4, "more calls ran than 1 worker + 1 queue slot allow")
        # Once the queue drains, sleeps are accepted again.
        self.assertEqual(text_of(c.tool(a, "sleep", {"ms": 10})), "slept 10 ms")


if __name__ == "__main__":
    unittest.main()
