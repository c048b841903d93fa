"""The demo tools (spec/control.md): results, bad arguments (isError, not a
JSON-RPC error), progress notifications and their routing, and
--no-demo-tools."""

import time
import unittest

from mcpztest import ServerTestCase, SessionTestCase, next_id, text_of


class DemoTools(SessionTestCase):

    def tool(self, name, arguments=None, meta=None, timeout=10):
        return self.c.tool(self.sid, name, arguments, meta, timeout)

    def bad(self, name, arguments, *words):
        """Bad arguments: a result with isError true naming the argument."""
        result = self.tool(name, arguments)
        return self.assertToolError(result, *words)

    # -- tools/list ----------------------------------------------------------

    def test_list(self):
        tools = self.c.result(self.sid, "tools/list")["tools"]
        byname = {t["name"]: t for t in tools}
        self.assertEqual(sorted(byname), ["add", "echo", "fail", "progress", "roots", "sleep", "touch"])
        for name, t in byname.items():
            self.assertIsInstance(t.get("description"), str, name)
            self.assertTrue(t["description"], name)
            schema = t.get("inputSchema")
            self.assertEqual(schema.get("type"), "object", name)
        props = {name: set(t["inputSchema"].get("properties", {})) for name, t in byname.items()}
        self.assertEqual(props["echo"], {"text"})
        self.assertEqual(props["add"], {"a", "b"})
        self.assertEqual(props["sleep"], {"ms"})
        self.assertEqual(props["progress"], {"steps", "interval_ms"})
        self.assertEqual(props["fail"], {"message"})
        self.assertEqual(props["roots"], {"watch_ms"})
        self.assertEqual(props["touch"], {"uri"})

    # -- echo ----------------------------------------------------------------

    def test_echo(self):
        for text in ("hi", "", "h\u00e9llo \u2713 \U0001F600", "line1\nline2\t\"q\" \\ /",
                     "x" * 10000):
            with self.subTest(text=text[:20]):
                result = self.tool("echo", {"text": text})
                self.assertToolOk(result)
                self.assertEqual(result["content"], [{"type": "text", "text": text}])

    def test_echo_bad_arguments(self):
        self.bad("echo", {}, "text")
        self.bad("echo", {"text": 5}, "text")
        self.bad("echo", {"text": None}, "text")
        self.bad("echo", {"text": ["a"]}, "text")
        self.bad("echo", None, "text")

    # -- add -----------------------------------------------------------------

    def check_add(self, a, b, text):
        result = self.tool("add", {"a": a, "b": b})
        self.assertEqual(self.assertToolOk(result), text, repr(result))
        self.assertEqual(result.get("structuredContent"), {"sum": a + b}, repr(result))

    def test_add_integers(self):
        self.check_add(2, 3, "5")
        self.check_add(-7, 7, "0")
        self.check_add(-2, -3, "-5")
        self.check_add(1000000000000, 1, "1000000000001")
        self.check_add(0, 0, "0")

    def test_add_reals(self):
        self.check_add(0.25, 0.25, "0.5")
        self.check_add(1.5, 2, "3.5")
        self.check_add(0.1, 0.2, repr(0.1 + 0.2))      # 0.30000000000000004
        self.check_add(-0.5, 0.25, "-0.25")

    def test_add_bad_arguments(self):
        self.bad("add", {"b": 1}, "a")
        self.bad("add", {"a": 1}, "b")
        self.bad("add", {"a": "1", "b": 2}, "a")
        self.bad("add", {"a": 1, "b": "2"}, "b")
        self.bad("add", {"a": 1, "b": None}, "b")
        self.bad("add", {"a": True, "b": 2}, "a")
        self.bad("add", {"a": [1], "b": 2}, "a")

    # -- sleep ---------------------------------------------------------------

    def test_sleep(self):
        self.assertEqual(self.assertToolOk(self.tool("sleep", {"ms": 0})), "slept 0 ms")
        t0 = time.monotonic()
        self.assertEqual(self.assertToolOk(self.tool("sleep", {"ms": 200})), "slept 200 ms")
        took = time.monotonic() - t0
        print("\nsleep 200 ms took %.0f ms" % (took * 1000))
        self.assertGreaterEqual(took, 0.19)
        self.assertLess(took, 5)

    def test_sleep_bad_arguments(self):
        self.bad("sleep", {}, "ms")
        self.bad("sleep", {"ms": -1}, "ms")
        self.bad("sleep", {"ms": 600001}, "ms")
        self.bad("sleep", {"ms": "10"}, "ms")
        self.bad("sleep", {"ms": 1.5}, "ms")
        self.bad("sleep", {"ms": None}, "ms")

    # -- fail ----------------------------------------------------------------

    def test_fail(self):
        result = self.tool("fail", {})
        self.assertEqual(self.assertToolError(result), "failure requested")
        result = self.tool("fail")
        self.assertEqual(self.assertToolError(result), "failure requested")
        result = self.tool("fail", {"message": "boom \u2620"})
        self.assertEqual(self.assertToolError(result), "boom \u2620")

    def test_fail_bad_arguments(self):
        self.bad("fail", {"message": 5}, "message")

    # -- progress ------------------------------------------------------------

    def progress_call(self, c, sid, steps, interval, token):
        """Calls progress with token; returns (notifications, result msg)
        in arrival order, checking that all notifications came first."""
        rid = c.call_tool(sid, "progress", {"steps": steps, "interval_ms": interval},
                          meta=None if token is None else {"progressToken": token})
        start = len(c.log)
        m = c.wait(rid, 15)
        c.pump(0.1)
        after = c.log[start:]
        notes = [x for x in after if x.is_notification()]
        for x in notes:
            c.inbox.remove(x)
        answer_at = after.index(m)
        late = [x for x in notes if after.index(x) > answer_at]
        self.assertEqual(late, [], "notifications after the result")
        return notes, m

    def test_progress_with_token(self):
        for token in ("tok-1", 42):
            with self.subTest(token=token):
                notes, m = self.progress_call(self.c, self.sid, 5, 10, token)
                result = self.assertResult(m)
                self.assertEqual(self.assertToolOk(result), "done 5 steps")
                self.assertEqual(len(notes), 5, notes)
                for i, n in enumerate(notes, 1):
                    self.assertEqual(n.method, "notifications/progress", repr(n))
                    self.assertEqual(n.sid, self.sid)
                    p = n.params
                    self.assertEqual(p.get("progressToken"), token, repr(n))
                    self.assertIs(type(p.get("progressToken")), type(token), repr(n))
                    self.assertEqual(p.get("progress"), i, repr(n))
                    self.assertEqual(p.get("total"), 5, repr(n))
                    self.assertEqual(p.get("message"), "step %d/5" % i, repr(n))
                eids = [int(n.eid) for n in notes] + [int(m.eid)]
                self.assertEqual(eids, sorted(eids))

    def test_progress_without_token(self):
        notes, m = self.progress_call(self.c, self.sid, 3, 5, None)
        self.assertEqual(self.assertToolOk(self.assertResult(m)), "done 3 steps")
        self.assertEqual(notes, [])
        # _meta without a token: no notifications either.
        rid = self.c.call_tool(self.sid, "progress", {"steps": 2, "interval_ms": 0},
                               meta={"other": 1})
        self.assertEqual(text_of(self.assertResult(self.c.wait(rid))), "done 2 steps")
        self.c.expect_silence(0.2)

    def test_progress_one_step_no_wait(self):
        notes, m = self.progress_call(self.c, self.sid, 1, 0, "t")
        self.assertEqual(text_of(self.assertResult(m)), "done 1 steps")
        self.assertEqual([n.params["progress"] for n in notes], [1])

    def test_progress_many_steps(self):
        notes, m = self.progress_call(self.c, self.sid, 200, 0, "many")
        self.assertEqual(text_of(self.assertResult(m)), "done 200 steps")
        self.assertEqual([n.params["progress"] for n in notes], list(range(1, 201)))

    def test_progress_goes_to_the_requesting_peer(self):
        a = self.c
        b = self.client(self.server, "B")
        notes, m = self.progress_call(b, self.sid, 4, 10, "to-b")
        self.assertEqual(len(notes), 4)
        self.assertEqual(text_of(self.assertResult(m)), "done 4 steps")
        a.expect_silence(0.2)
        # And two concurrent calls from two peers keep their own streams.
        ra = a.call_tool(self.sid, "progress", {"steps": 3, "interval_ms": 20},
                         meta={"progressToken": "ta"})
        rb = b.call_tool(self.sid, "progress", {"steps": 3, "interval_ms": 20},
                         meta={"progressToken": "tb"})
        a.wait(ra)
        b.wait(rb)
        a.pump(0.1)
        b.pump(0.1)
        for c, token in ((a, "ta"), (b, "tb")):
            got = [n.params["progressToken"] for n in c.inbox if n.is_notification()]
            self.assertEqual(got, [token] * 3, c.name)
            c.inbox.clear()

    def test_progress_bad_arguments(self):
        self.bad("progress", {"interval_ms": 0}, "steps")
        self.bad("progress", {"steps": 0, "interval_ms": 0}, "steps")
        self.bad("progress", {"steps": 1001, "interval_ms": 0}, "steps")
        self.bad("progress", {"steps": "3", "interval_ms": 0}, "steps")
        self.bad("progress", {"steps": 2.5, "interval_ms": 0}, "steps")
        self.bad("progress", {"steps": 3}, "interval_ms")
        self.bad("progress", {"steps": 3, "interval_ms": -1}, "interval_ms")
        self.bad("progress", {"steps": 3, "interval_ms": 60001}, "interval_ms")
        self.bad("progress", {"steps": 3, "interval_ms": "1"}, "interval_ms")
        self.c.expect_silence(0.1)

    def test_bad_arguments_are_not_jsonrpc_errors(self):
        rid = self.c.call_tool(self.sid, "add", {"a": "x"})
        m = self.c.wait(rid)
        self.assertNotIn("error", m.json)
        self.assertIs(m.result.get("isError"), True)

    def test_arguments_not_an_object(self):
        for args in ([1, 2], "text", 5):
            with self.subTest(arguments=args):
                rid = next_id()
                self.c.send_body(self.sid, {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                                            "params": {"name": "echo", "arguments": args}},
                                 expect_id=rid)
                m = self.c.wait(rid)
                # Either a JSON-RPC invalid-params error or an isError result;
                # exactly one answer either way.
                if "error" in m.json:
                    self.assertEqual(m.error["code"], -32602, repr(m))
                else:
                    self.assertIs(m.result.get("isError"), True, repr(m))


class NoDemoTools(ServerTestCase):

    def test_no_demo_tools(self):
        server = self.start_server("--no-demo-tools")
        c = self.client(server)
        sid = c.open()
        self.assertEqual(c.result(sid, "tools/list"), {"tools": []})
        for name in ("echo", "add", "sleep", "progress", "fail"):
            with self.subTest(tool=name):
                rid = c.call_tool(sid, name, {"text": "x"})
                self.assertRpcError(c.wait(rid), -32602, rid)
        self.assertEqual(c.result(sid, "ping"), {})


if __name__ == "__main__":
    unittest.main()
