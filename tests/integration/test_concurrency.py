"""Many sessions, many concurrent calls: 100 sessions x 50 calls in flight
at once over several DEALER sockets; every answer has the right id, the
right session and the right content, and each request gets exactly one."""

import time
import unittest

from mcpztest import ServerTestCase, check_clients, text_of, wait_clients

SOCKETS = 4


class Concurrency(ServerTestCase):

    def setUp(self):
        self.server = self.start_server()
        self.clients = [self.client(self.server, "dealer%d" % i) for i in range(SOCKETS)]

    def open_sessions(self, total):
        """Opens total sessions spread over the clients, all at once."""
        per = total // SOCKETS
        opened = []
        for c in self.clients:
            rids = []
            for _ in range(per):
                rids.append(c.request("", "initialize", {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": c.name, "version": "1"}}))
            opened.append((c, rids))
        wait_clients(self.clients, 30)
        sessions = []
        for c, rids in opened:
            for rid in rids:
                m = c.wait(rid, 0)
                self.assertResult(m)
                c.notify(m.sid, "notifications/initialized")
                sessions.append((c, m.sid))
        self.assertEqual(len({sid for _, sid in sessions}), total)
        return sessions

    def verify(self, expected):
        for c, rid, sid, kind, want in expected:
            m = c.wait(rid, 0)
            self.assertEqual(m.sid, sid, repr(m))
            result = self.assertResult(m)
            if kind == "ping":
                self.assertEqual(result, {}, repr(m))
            elif kind == "add":
                self.assertEqual(result.get("structuredContent"), {"sum": want}, repr(m))
                self.assertFalse(result.get("isError", False), repr(m))
            else:
                self.assertEqual(text_of(result), want, repr(m))
                self.assertFalse(result.get("isError", False), repr(m))

    def test_100_sessions_x_50_calls(self):
        sessions = self.open_sessions(100)
        expected = []
        t0 = time.monotonic()
        # Round-robin over sessions so every session has up to 50 in flight.
        for j in range(50):
            for si, (c, sid) in enumerate(sessions):
                if j % 10 == 0:
                    rid = c.request(sid, "ping")
                    expected.append((c, rid, sid, "ping", None))
                elif j % 2:
                    text = "s%d-c%d-%s" % (si, j, sid[:6])
                    rid = c.call_tool(sid, "echo", {"text": text})
                    expected.append((c, rid, sid, "echo", text))
                else:
                    a, b = si * 1000 + j, j + 0.5
                    rid = c.call_tool(sid, "add", {"a": a, "b": b})
                    expected.append((c, rid, sid, "add", a + b))
        sent = time.monotonic()
        wait_clients(self.clients, 40)
        done = time.monotonic()
        print("\n%d calls over %d sessions / %d sockets: sent in %.2f s, all answered after %.2f s (%.0f/s)"
              % (len(expected), len(sessions), SOCKETS, sent - t0, done - t0,
                 len(expected) / (done - t0)))
        self.verify(expected)
        check_clients(self.clients)
        for c in self.clients:
            self.assertFalse([m for m in c.log if m.kind == "ERR"], "ERR under default limits")

    def test_mix_with_sleeps(self):
        sessions = self.open_sessions(20)
        expected = []
        t0 = time.monotonic()
        for j in range(20):
            for si, (c, sid) in enumerate(sessions):
                if j % 4 == 0:
                    rid = c.call_tool(sid, "sleep", {"ms": 50})
                    expected.append((c, rid, sid, "sleep", "slept 50 ms"))
                elif j % 4 == 1:
                    rid = c.request(sid, "ping")
                    expected.append((c, rid, sid, "ping", None))
                elif j % 4 == 2:
                    rid = c.call_tool(sid, "add", {"a": si, "b": j})
                    expected.append((c, rid, sid, "add", si + j))
                else:
                    text = "m%d-%d" % (si, j)
                    rid = c.call_tool(sid, "echo", {"text": text})
                    expected.append((c, rid, sid, "echo", text))
        wait_clients(self.clients, 30)
        took = time.monotonic() - t0
        sleeps = sum(1 for e in expected if e[3] == "sleep")
        print("\n%d calls (%d sleeps of 50 ms on 4 workers) answered in %.2f s"
              % (len(expected), sleeps, took))
        self.verify(expected)
        check_clients(self.clients)
        # 100 sleeps of 50 ms on 4 workers take at least 1.25 s.
        self.assertGreaterEqual(took, sleeps * 0.05 / 4 - 0.05)

    def test_sessions_opened_and_closed_under_load(self):
        sessions = self.open_sessions(40)
        expected = []
        for j in range(10):
            for si, (c, sid) in enumerate(sessions):
                text = "o%d-%d" % (si, j)
                expected.append((c, c.call_tool(sid, "echo", {"text": text}), sid, "echo", text))
        wait_clients(self.clients, 30)
        self.verify(expected)
        for c, sid in sessions[::2]:
            self.assertEqual(c.close_session(sid).kind, "OK")
        for c, sid in sessions:
            c.request(sid, "ping")
        wait_clients(self.clients, 30)
        closed = {sid for _, sid in sessions[::2]}
        for c in self.clients:
            for s in c.sent.values():
                if s.method != "ping":
                    continue
                m = c.wait(s.rid, 0)
                if s.sid in closed:
                    self.assertErr(m, 404, rid=s.rid, sid=s.sid)
                else:
                    self.assertEqual(self.assertResult(m), {})


if __name__ == "__main__":
    unittest.main()
