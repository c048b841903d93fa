"""MCP servers of the 2026-07-28 (stateless) era behind mcpz (issue 12):
a server built on the official TypeScript SDK 2.x (tests/interop pins
@modelcontextprotocol/server), over stdio and over Streamable HTTP, beside
server-everything, which speaks 2025-11-25. mcpz finds each one's era by
probing with server/discover, and sessions of the 2025 era use both alike.

What the era changed and mcpz must carry: per-request _meta (version,
client info, the session's capabilities and log level), input_required
rounds in place of server requests (elicitation, sampling, roots, with
requestState echoed), request-scoped progress and logs, change notices
on subscriptions/listen streams, Mcp-* headers mirrored on HTTP and tools
whose x-mcp-header annotations a client must refuse, cancellation by
closing the stream."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time

from mcpztest import MCPZCTL, control, idkey, run_mcpzd, text_of
from test_upstream import EVERYTHING, NODE, NPM, UpstreamCase, settings

MODERN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "servers", "modern.mjs")


def modern_script():
    """The server's path where ESM finds the SDK: beside node_modules."""
    shutil.copy(MODERN, NPM)
    return os.path.join(NPM, "modern.mjs")


def modern_stdio(*args):
    return "stdio:%s %s stdio %s" % (NODE, modern_script(), " ".join(args))


class ModernHttp:
    """The modern server on its own HTTP port; its stderr kept."""

    def __init__(self, case):
        self.port = None
        for _ in range(20):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            self.path = os.path.join(case.tmpdir(), "modern-%d.log" % self.port)
            self.log = open(self.path, "a")
            self.proc = subprocess.Popen([NODE, modern_script(), "http", str(self.port)],
                                         stdout=subprocess.DEVNULL, stderr=self.log)
            if self.wait_listening():
                break
            self.proc.kill()
            self.proc.wait()
        self.url = "http://127.0.0.1:%d/mcp" % self.port

    def wait_listening(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.1)
        return False

    def stderr(self):
        with open(self.path) as log:
            return log.read()

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


class Eras(UpstreamCase):
    """One mcpzd with three upstreams: m (2026, stdio), w (2026, HTTP) and
    ev (2025, stdio)."""

    @classmethod
    def setUpClass(cls):
        cls.web = ModernHttp(cls)
        cls.server = cls.start_class_server("--upstream", "m=" + modern_stdio(), "--upstream", "w=" + cls.web.url,
                                            "--upstream", "ev=" + EVERYTHING)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.web.stop()

    @classmethod
    def tmpdir(cls):
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "mcpz-modern-%d" % os.getpid())
        os.makedirs(path, exist_ok=True)
        return path

    def setUp(self):
        super().setUp()
        self.wait_up(self.server)
        for tool in ("m_echo", "w_echo", "ev_echo"):
            self.wait_listed(self.server, tool)
        self.c, self.sid = self.session(self.server, {"elicitation": {}, "sampling": {}, "roots": {}})

    def answer(self, method, result):
        """Waits for the client request method and answers it."""
        ask = self.c.expect(lambda m: m.method == method, what=method)
        self.c.send("MSG", self.sid, {"jsonrpc": "2.0", "id": ask.id, "result": result})
        return ask

    def test_each_upstreams_era_is_found(self):
        eras = {u["name"]: u["era"] for u in control(self.server.control_ep, {"command": "upstreams"})["upstreams"]}
        self.assertEqual(eras, {"m": "2026-07-28", "w": "2026-07-28", "ev": "2025-11-25"})
        self.assertTrue(any("upstream ev: speaks 2025-11-25" in line for line in self.server.stderr_lines))
        run = subprocess.run([MCPZCTL, "--control", self.server.control_ep,
                              "upstreams"], capture_output=True, text=True, timeout=10)
        self.assertIn("2026-07-28", run.stdout)

    def test_lists_calls_prompts_resources(self):
        tools = [t["name"] for t in self.c.result(self.sid, "tools/list")["tools"]]
        for name in ("m_echo", "w_echo", "ev_echo", "m_confirm", "w_slow"):
            self.assertIn(name, tools)
        for prefix in ("m", "w"):
            result = self.c.tool(self.sid, prefix + "_echo", {"text": "hi " + prefix})
            self.assertEqual(text_of(result), "hi " + prefix)
            self.assertNotIn("resultType", result)
            prompt = self.c.result(self.sid, "prompts/get", {"name": prefix + "_greet", "arguments": {"who": "Ann"}})
            self.assertIn("Hello Ann", str(prompt["messages"]))
        resources = [r["uri"] for r in self.c.result(self.sid, "resources/list")["resources"]]
        self.assertIn("note://modern/a", resources)
        self.assertIn("w+note://modern/a", resources)
        for uri in ("note://modern/a", "w+note://modern/a"):
            read = self.c.result(self.sid, "resources/read", {"uri": uri})
            self.assertEqual(read["contents"][0]["text"], "modern note")

    def test_requests_carry_the_eras_context(self):
        self.c.result(self.sid, "logging/setLevel", {"level": "warning"})
        seen = json.loads(text_of(self.c.tool(self.sid, "m_whoami", {})))
        envelope = seen["envelope"]
        self.assertEqual(envelope["io.modelcontextprotocol/protocolVersion"], "2026-07-28")
        self.assertEqual(envelope["io.modelcontextprotocol/clientInfo"]["name"], "mcpz")
        self.assertEqual(envelope["io.modelcontextprotocol/clientCapabilities"],
                         {"elicitation": {}, "sampling": {}, "roots": {}})
        self.assertEqual(envelope["io.modelcontextprotocol/logLevel"], "warning")
        headers = json.loads(text_of(self.c.tool(self.sid, "w_whoami", {"region": "Köln"})))["headers"]
        self.assertEqual(headers["mcp-protocol-version"], "2026-07-28")
        self.assertEqual(headers["mcp-method"], "tools/call")
        self.assertEqual(headers["mcp-name"], "whoami")
        self.assertEqual(headers["mcp-param-region"], "=?base64?S8O2bG4=?=")

    def test_a_tool_whose_headers_cannot_be_honoured_is_left_out(self):
        tools = [t["name"] for t in self.c.result(self.sid, "tools/list")["tools"]]
        self.assertIn("m_badheader", tools)
        self.assertNotIn("w_badheader", tools)
        self.assertTrue(any("tool badheader is left out" in line for line in self.server.stderr_lines))

    def test_elicitation_by_input_required(self):
        for prefix in ("m", "w"):
            rid = self.c.call_tool(self.sid, prefix + "_confirm", {"what": "deploy"})
            ask = self.answer("elicitation/create", {"action": "accept", "content": {"answer": "yes"}})
            self.assertIn("Confirm deploy?", ask.params["message"])
            self.assertEqual(text_of(self.c.wait(rid, timeout=10).result), "confirmed deploy: yes")
            rid = self.c.call_tool(self.sid, prefix + "_confirm", {"what": "wipe"})
            self.answer("elicitation/create", {"action": "decline"})
            self.assertEqual(text_of(self.c.wait(rid, timeout=10).result), "declined wipe")

    def test_rounds_in_sequence_carry_the_servers_state(self):
        rid = self.c.call_tool(self.sid, "m_wizard", {})
        self.answer("elicitation/create", {"action": "accept", "content": {"name": "Ann"}})
        ask = self.answer("elicitation/create", {"action": "accept", "content": {"colour": "blue"}})
        self.assertIn("colour", ask.params["message"])
        self.assertEqual(text_of(self.c.wait(rid, timeout=10).result), "Ann likes blue")

    def test_sampling_and_roots_by_input_required(self):
        rid = self.c.call_tool(self.sid, "w_sample", {"question": "2+2?"})
        ask = self.answer("sampling/createMessage", {"role": "assistant", "model": "test",
                                                      "content": {"type": "text", "text": "four"}})
        self.assertIn("2+2?", str(ask.params))
        self.assertEqual(text_of(self.c.wait(rid, timeout=10).result), "the model said: four")
        rid = self.c.call_tool(self.sid, "m_roots", {})
        self.answer("roots/list", {"roots": [{"uri": "file:///work", "name": "work"}]})
        self.assertEqual(text_of(self.c.wait(rid, timeout=10).result), "file:///work")

    def test_a_client_error_ends_the_call(self):
        rid = self.c.call_tool(self.sid, "m_confirm", {"what": "x"})
        ask = self.c.expect(lambda m: m.method == "elicitation/create", what="elicitation")
        self.c.send("MSG", self.sid, {"jsonrpc": "2.0", "id": ask.id, "error": {"code": -1, "message": "no UI"}})
        answer = self.c.wait(rid, timeout=10).json
        self.assertEqual(answer["error"]["message"], "no UI", answer)

    def test_a_client_without_the_capability(self):
        c, sid = self.session(self.server, {})
        answer = c.rpc(sid, "tools/call", {"name": "m_confirm", "arguments": {"what": "x"}}).json
        self.assertTrue("error" in answer or answer["result"].get("isError"), answer)
        self.assertNotIn("elicitation/create", [m.method for m in c.inbox])

    def test_progress_and_logs_relayed(self):
        for prefix in ("m", "w"):
            rid = self.c.call_tool(self.sid, prefix + "_slow", {"steps": 3, "ms": 30}, meta={"progressToken": "t"})
            self.assertEqual(text_of(self.c.wait(rid, timeout=10).result), "counted 3")
            progress = [m for m in self.c.inbox if m.method == "notifications/progress"]
            self.assertEqual([m.params["progress"] for m in progress], [1, 2, 3], self.c.inbox)
            self.assertTrue(all(m.params["progressToken"] == "t" for m in progress))
            self.c.inbox = [m for m in self.c.inbox if m.method != "notifications/progress"]
        #  No level set: a 2026 server sends no logs
        self.c.tool(self.sid, "w_log", {"text": "unheard"})
        self.assertNotIn("notifications/message", [m.method for m in self.c.inbox])
        self.c.result(self.sid, "logging/setLevel", {"level": "info"})
        for prefix in ("m", "w"):
            self.c.tool(self.sid, prefix + "_log", {"text": "heard " + prefix})
            log = self.c.expect(lambda m: m.method == "notifications/message", what="log")
            self.assertEqual(log.params["data"], "heard " + prefix)

    def test_list_changes_come_on_listen_streams(self):
        self.c.listen(self.sid)
        for prefix, name in (("m", "fresh"), ("w", "fresher")):
            self.c.tool(self.sid, prefix + "_add_tool", {"name": name})
            self.c.expect(lambda m: m.method == "notifications/tools/list_changed", timeout=10, what="list_changed")
            self.c.inbox = [m for m in self.c.inbox if m.method != "notifications/tools/list_changed"]
            deadline = time.monotonic() + 5
            while "%s_%s" % (prefix, name) not in [t["name"] for t in self.c.result(self.sid, "tools/list")["tools"]]:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            self.assertEqual(text_of(self.c.tool(self.sid, "%s_%s" % (prefix, name), {})), "I am " + name)

    def test_resource_updates_come_on_listen_streams(self):
        watcher, wsid = self.session(self.server)
        watcher.listen(wsid)
        for prefix, uri in (("m", "note://modern/a"), ("w", "w+note://modern/a")):
            self.assertEqual(watcher.result(wsid, "resources/subscribe", {"uri": uri}), {})
            #  The listen stream opens anew with the URI within 100 ms
            deadline = time.monotonic() + 10
            while True:
                self.c.tool(self.sid, prefix + "_touch", {"uri": "note://modern/a"})
                try:
                    update = watcher.expect(lambda m: m.method == "notifications/resources/updated", timeout=0.5,
                                            what="update")
                    break
                except AssertionError:
                    self.assertLess(time.monotonic(), deadline, "no update for " + uri)
            self.assertEqual(update.params["uri"], uri)
            watcher.inbox = []

    def test_cancellation_reaches_the_server(self):
        for prefix in ("m", "w"):
            rid = self.c.call_tool(self.sid, prefix + "_slow", {"steps": 50, "ms": 100})
            time.sleep(0.5)
            self.c.notify(self.sid, "notifications/cancelled", {"requestId": rid, "reason": "test"})
            del self.c.sent[idkey(rid)]
            self.c.expect_silence(0.2)
        deadline = time.monotonic() + 10
        #  stdio: notifications/cancelled stops the tool; HTTP: the POST is
        #  closed before its answer
        heard = lambda: (any("upstream m: stderr: slow cancelled" in line for line in self.server.stderr_lines),
                         "closed before the answer: tools/call slow" in self.web.stderr())
        while heard() != (True, True):
            self.assertLess(time.monotonic(), deadline, "stdio, HTTP heard of the cancellation: %r %s" % (heard(), self.web.stderr()))
            time.sleep(0.1)


class ModernSupervision(UpstreamCase):

    def test_killed_mid_call_and_back_in_its_era(self):
        server = self.start_server("--upstream", "m=" + modern_stdio(), start=False)
        server.argv += ["--config", settings(server, "upstreams\n    m\n        ping = 300\n")]
        server.start()
        pid = self.wait_up(server)[0]["instances"][0]["pid"]
        self.wait_listed(server, "m_echo")
        c, sid = self.session(server)
        rid = c.call_tool(sid, "m_slow", {"steps": 50, "ms": 100})
        time.sleep(0.3)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        self.assertIn("error", c.wait(rid, timeout=5).json)
        self.assertLess(time.monotonic() - killed, 1.0)
        upstream = self.wait_up(server, timeout=2, other_than={pid})[0]
        self.assertEqual(upstream["era"], "2026-07-28")
        self.wait_listed(server, "m_echo")
        self.assertEqual(text_of(c.tool(sid, "m_echo", {"text": "back"})), "back")

    def test_a_server_slower_than_the_probe_is_found(self):
        """Silent for 4 s, past the 3 s probe: taken for a 2025 server, it
        refuses initialize naming 2026-07-28, and is then served as one."""
        server = self.start_server("--upstream", "slow=" + modern_stdio("slow"), start=False)
        server.argv += ["--config", settings(server, "upstreams\n    slow\n        instances = 2\n")]
        server.start()
        upstream = self.wait_up(server, timeout=20)[0]
        self.assertEqual(upstream["era"], "2026-07-28")
        self.assertEqual(upstream["restarts"], 0)
        self.wait_listed(server, "slow_echo")
        c, sid = self.session(server)
        self.assertEqual(text_of(c.tool(sid, "slow_echo", {"text": "late"})), "late")

    def test_a_named_era_is_not_probed(self):
        """A dual-era server: found as 2026-07-28, or held to 2025-11-25 by
        the settings (then its input_required answers reach the session
        as the SDK's own requests, relayed the 2025 way)."""
        server = self.start_server("--upstream", "auto=" + modern_stdio("dual"),
                                   "--upstream", "old=" + modern_stdio("dual"), start=False)
        server.argv += ["--config", settings(server, "upstreams\n    old\n        era = 2025-11-25\n")]
        server.start()
        eras = {u["name"]: u["era"] for u in self.wait_up(server)}
        self.assertEqual(eras, {"auto": "2026-07-28", "old": "2025-11-25"})
        self.wait_listed(server, "old_confirm")
        self.wait_listed(server, "auto_confirm")
        c, sid = self.session(server, {"elicitation": {}})
        for name in ("auto_confirm", "old_confirm"):
            rid = c.call_tool(sid, name, {"what": "it"})
            ask = c.expect(lambda m: m.method == "elicitation/create", what="elicitation")
            c.send("MSG", sid, {"jsonrpc": "2.0", "id": ask.id, "result": {"action": "accept",
                                                                            "content": {"answer": "ok"}}})
            self.assertEqual(text_of(c.wait(rid, timeout=10).result), "confirmed it: ok")

    def test_a_bad_era_setting_is_refused(self):
        server = self.start_server(start=False)
        path = settings(server, "upstreams\n    m\n        spec = stdio:true\n        era = 2030-01-01\n")
        code, _, err = run_mcpzd(["--store", "none", "--config", path], cwd=server.tmp)
        self.assertNotEqual(code, 0)
        self.assertIn("era must be auto, 2025-11-25 or 2026-07-28", err)


if __name__ == "__main__":
    import unittest
    unittest.main()
