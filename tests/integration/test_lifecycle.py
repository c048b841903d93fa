"""Session lifecycle over MCPZ/1: initialize (every version), initialized,
ping, tools/list, tools/call, CLOSE, 404 afterwards; event ids; many
sessions on one DEALER; one session used from two DEALERs; ipc:// and
several --listen endpoints; LISTEN."""

import time
import unittest

from mcpztest import (DEMO_TOOLS, LATEST, VERSIONS, ServerTestCase,
                      init_params, sid_valid, tcp_endpoint, text_of)


class Lifecycle(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def initialize_ok(self, c, version, expect_version):
        m = c.initialize(version)
        result = self.assertResult(m)
        self.assertTrue(sid_valid(m.sid), "session id %r is not 32 lowercase hex" % m.sid)
        self.assertEqual(m.eid, "1", repr(m))
        self.assertEqual(result.get("protocolVersion"), expect_version, repr(m))
        caps = result.get("capabilities")
        self.assertIsInstance(caps, dict, repr(m))
        self.assertEqual(caps.get("tools"), {"listChanged": True}, repr(m))
        self.assertEqual(caps.get("logging"), {}, repr(m))
        info = result.get("serverInfo")
        self.assertIsInstance(info, dict, repr(m))
        self.assertEqual(info.get("name"), "mcpz", repr(m))
        self.assertIsInstance(info.get("version"), str, repr(m))
        return m.sid

    def full_lifecycle(self, version, expect_version):
        c = self.client(self.server)
        sid = self.initialize_ok(c, version, expect_version)
        c.notify(sid, "notifications/initialized")

        m = c.rpc(sid, "ping")
        self.assertEqual(self.assertResult(m), {})
        self.assertEqual(m.eid, "2")

        m = c.rpc(sid, "tools/list")
        tools = self.assertResult(m).get("tools")
        self.assertEqual(m.eid, "3")
        self.assertIsInstance(tools, list, repr(m))
        self.assertEqual(sorted(t.get("name") for t in tools), sorted(DEMO_TOOLS))
        for t in tools:
            self.assertIsInstance(t.get("description"), str, repr(t))
            self.assertIsInstance(t.get("inputSchema"), dict, repr(t))
            self.assertEqual(t["inputSchema"].get("type"), "object", repr(t))

        rid = c.call_tool(sid, "echo", {"text": "hello " + version})
        m = c.wait(rid)
        result = self.assertResult(m)
        self.assertEqual(m.eid, "4")
        self.assertEqual(result.get("content"), [{"type": "text", "text": "hello " + version}])
        self.assertIn(result.get("isError", False), (False,))

        ok = c.close_session(sid)
        self.assertEqual(ok.kind, "OK", repr(ok))
        self.assertEqual(ok.sid, sid)
        self.assertEqual(ok.eid, "")
        self.assertEqual(ok.json, {})

        # Everything naming the closed session is refused with 404.
        rid = c.request(sid, "ping")
        self.assertErr(c.wait(rid), 404, rid=rid, sid=sid)
        rid = c.call_tool(sid, "echo", {"text": "x"})
        self.assertErr(c.wait(rid), 404, rid=rid, sid=sid)
        self.assertErr(c.listen(sid, b""), 404, rid=None, sid=sid)
        self.assertErr(c.close_session(sid), 404, rid=None, sid=sid)
        c.notify(sid, "notifications/initialized")
        self.assertErr(c.expect_err(), 404, rid=None, sid=sid)

    def test_lifecycle_each_version(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                self.full_lifecycle(v, v)

    def test_unknown_version_gets_latest(self):
        for v in ("1999-01-01", "2026-01-01", "latest"):
            with self.subTest(version=v):
                c = self.client(self.server)
                sid = self.initialize_ok(c, v, LATEST)
                self.assertEqual(c.result(sid, "ping"), {})
                self.assertEqual(c.close_session(sid).kind, "OK")

    def test_capabilities_may_be_absent(self):
        c = self.client(self.server)
        m = c.initialize(params=init_params("2025-06-18", capabilities=False))
        self.assertEqual(self.assertResult(m)["protocolVersion"], "2025-06-18")
        self.assertEqual(c.result(m.sid, "ping"), {})

    def test_string_request_ids(self):
        c = self.client(self.server)
        m = c.initialize(rid="init-a")
        self.assertResult(m)
        self.assertEqual(m.id, "init-a")
        sid = m.sid
        m = c.wait(c.request(sid, "ping", rid="ping-b"))
        self.assertEqual(self.assertResult(m), {})
        self.assertEqual(m.id, "ping-b")
        # An integer id and a string id that look alike are different ids.
        m1 = c.wait(c.request(sid, "ping", rid=777001))
        m2 = c.wait(c.request(sid, "ping", rid="777001"))
        self.assertEqual(m1.json["id"], 777001)
        self.assertEqual(m2.json["id"], "777001")

    def test_session_ids_unique(self):
        c = self.client(self.server)
        sids = c.open_many(50)
        self.assertEqual(len(set(sids)), 50)
        for sid in sids:
            self.assertTrue(sid_valid(sid), sid)

    def test_event_ids_increase_by_one(self):
        c = self.client(self.server)
        sid = c.open()
        eids = []
        for i in range(20):
            m = c.rpc(sid, "ping") if i % 2 else c.wait(c.call_tool(sid, "echo", {"text": str(i)}))
            self.assertResult(m)
            eids.append(int(m.eid))
        self.assertEqual(eids, list(range(2, 22)))
        # Pipelined requests: the answers still count up one by one.
        rids = [c.request(sid, "ping") for _ in range(30)]
        c.wait_all()
        got = sorted(int(c.wait(r).eid) for r in rids)
        self.assertEqual(got, list(range(22, 52)))
        # Errors in a live session are MSGs too and take event ids.
        m = c.rpc(sid, "no/such/method")
        self.assertRpcError(m, -32601)
        self.assertEqual(m.eid, "52")
        ok = c.listen(sid, b"52")
        self.assertEqual(ok.kind, "OK", repr(ok))
        self.assertEqual(ok.json.get("last_event_id"), 52, repr(ok))

    def test_event_ids_are_per_session(self):
        c = self.client(self.server)
        a, b = c.open(), c.open()
        for _ in range(3):
            c.rpc(a, "ping")
        m = c.rpc(b, "ping")
        self.assertEqual(m.eid, "2")
        m = c.rpc(a, "ping")
        self.assertEqual(m.eid, "5")

    def test_many_sessions_one_dealer(self):
        c = self.client(self.server)
        sids = c.open_many(40)
        rids = {}
        for round_ in range(5):
            for i, sid in enumerate(sids):
                text = "s%d-r%d" % (i, round_)
                rids[c.call_tool(sid, "echo", {"text": text})] = (sid, text)
        c.wait_all()
        for rid, (sid, text) in rids.items():
            m = c.wait(rid)
            self.assertEqual(m.sid, sid)
            self.assertEqual(text_of(self.assertResult(m)), text)
        for sid in sids:
            self.assertEqual(c.close_session(sid).kind, "OK")

    def test_one_session_two_dealers(self):
        # The answer goes to the peer that sent the request.
        a = self.client(self.server, "A")
        b = self.client(self.server, "B")
        sid = a.open()
        rb = b.call_tool(sid, "echo", {"text": "from b"})
        ra = a.call_tool(sid, "echo", {"text": "from a"})
        self.assertEqual(text_of(self.assertResult(b.wait(rb))), "from b")
        self.assertEqual(text_of(self.assertResult(a.wait(ra))), "from a")
        a.expect_silence()
        b.expect_silence()
        # Either peer may close it; then both get 404.
        self.assertEqual(b.close_session(sid).kind, "OK")
        self.assertErr(a.wait(a.request(sid, "ping")), 404, sid=sid)

    def test_close_does_not_touch_other_sessions(self):
        c = self.client(self.server)
        a, b = c.open(), c.open()
        self.assertEqual(c.close_session(a).kind, "OK")
        self.assertEqual(c.result(b, "ping"), {})

    def test_listen(self):
        c = self.client(self.server)
        sid = c.open()
        ok, replayed = c.listen_replay(sid, b"")
        self.assertEqual(ok.kind, "OK", repr(ok))
        self.assertEqual(ok.eid, "")
        self.assertEqual(ok.json.get("last_event_id"), 1, repr(ok))
        # An empty body means no event seen: everything buffered comes again.
        self.assertEqual([m.eid for m in replayed], ["1"], replayed)
        c.rpc(sid, "ping")
        c.rpc(sid, "ping")
        ok, replayed = c.listen_replay(sid, b"3")
        self.assertEqual(ok.kind, "OK", repr(ok))
        self.assertEqual(ok.json.get("last_event_id"), 3, repr(ok))
        self.assertEqual(replayed, [])
        ok, replayed = c.listen_replay(sid, 2)
        self.assertEqual(ok.json.get("last_event_id"), 3, repr(ok))
        self.assertEqual([m.eid for m in replayed], ["3"], replayed)
        # LISTEN changes nothing for requests: answers still go to their sender.
        m = c.rpc(sid, "ping")
        self.assertEqual(m.eid, "4")
        # A LISTEN body that is not a decimal is refused.
        self.assertErr(c.listen(sid, b"abc"), 400, rid=None, sid=sid)
        self.assertErr(c.listen(sid, b"-1"), 400, rid=None, sid=sid)


class Replay(ServerTestCase):
    """spec/mcpz-1.md 2 and 4: LISTEN replays every still-buffered event
    newer than the id given, in order, before its OK; a message for a peer
    that has gone away stays in the replay buffer."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def test_listen_replays_newer_events(self):
        a = self.client(self.server, "A")
        sid = a.open()
        a.result(sid, "ping")                                   # event 2
        a.tool(sid, "echo", {"text": "three"})                  # event 3
        b = self.client(self.server, "B")
        ok, replayed = b.listen_replay(sid, b"1")
        self.assertEqual(ok.kind, "OK", repr(ok))
        self.assertEqual(ok.json.get("last_event_id"), 3, repr(ok))
        self.assertEqual([m.eid for m in replayed], ["2", "3"], replayed)
        self.assertEqual(replayed[0].result, {})
        self.assertEqual(text_of(replayed[1].result), "three")
        # Nothing newer than 3: nothing replayed.
        ok, replayed = b.listen_replay(sid, b"3")
        self.assertEqual(ok.kind, "OK", repr(ok))
        self.assertEqual(replayed, [])

    def test_answer_for_a_vanished_peer_is_kept(self):
        a = self.client(self.server, "A")
        sid = a.open()
        a.call_tool(sid, "sleep", {"ms": 200})
        a.checked = False
        a.close()                   # gone before the answer exists
        time.sleep(0.5)
        b = self.client(self.server, "B")
        ok, replayed = b.listen_replay(sid, b"1")
        self.assertEqual(ok.kind, "OK", repr(ok))
        self.assertEqual(ok.json.get("last_event_id"), 2, repr(ok))
        self.assertEqual([m.eid for m in replayed], ["2"], replayed)
        self.assertEqual(text_of(replayed[0].result), "slept 200 ms")


class Endpoints(ServerTestCase):

    def test_ipc_listen(self):
        server = self.start_server(listen="ipc")
        self.assertTrue(server.endpoint.startswith("ipc://"))
        c = self.client(server)
        sid = c.open()
        self.assertEqual(text_of(c.tool(sid, "echo", {"text": "over ipc"})), "over ipc")
        self.assertEqual(c.close_session(sid).kind, "OK")

    def test_two_listen_endpoints(self):
        server = self.start_server(listen=[tcp_endpoint(), tcp_endpoint()])
        a = self.client(server.endpoints[0], "A")
        b = self.client(server.endpoints[1], "B")
        sa, sb = a.open(), b.open()
        self.assertEqual(a.result(sa, "ping"), {})
        self.assertEqual(b.result(sb, "ping"), {})
        # A session is named by its id, not by the endpoint it was opened on.
        self.assertEqual(text_of(b.tool(sa, "echo", {"text": "cross"})), "cross")
        a.expect_silence()

    def test_tcp_and_ipc_listen(self):
        server = self.start_server(listen=[tcp_endpoint(), "ipc://{tmp}/second.sock"])
        for ep in server.endpoints:
            c = self.client(ep)
            sid = c.open()
            self.assertEqual(c.result(sid, "ping"), {})


if __name__ == "__main__":
    unittest.main()
