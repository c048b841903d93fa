"""MCP servers behind mcpz (issue 12), with real servers from npm that no
one here wrote: @modelcontextprotocol/server-everything and
server-memory over stdio, pinned in tests/interop and installed by
scripts/npm-deps under the build directory ($MCPZ_NPM).

Lists merged under NAME_ prefixes, calls routed, progress and sampling
relayed, resources read and prompts got; a child killed mid-call or hung,
and replaced; 1,000 concurrent calls from 100 sessions over 4 instances."""

import os
import signal
import time
import unittest

from httptest import Http
from httptest import http_port
from mcpztest import REPO, ServerTestCase, control, idkey, init_params, text_of

NPM = os.environ.get("MCPZ_NPM") or os.path.join(REPO, "build", "npm")
NODE = os.path.join(NPM, "node_modules", ".bin", "node")
SERVERS = os.path.join(NPM, "node_modules", "@modelcontextprotocol")
EVERYTHING = "stdio:%s %s stdio" % (NODE, os.path.join(SERVERS, "server-everything", "dist", "index.js"))
MEMORY = "stdio:%s %s" % (NODE, os.path.join(SERVERS, "server-memory", "dist", "index.js"))


def settings(server, text):
    """Writes a settings file into the server's directory; its path."""
    path = os.path.join(server.tmp, "mcpz.cfg")
    with open(path, "w") as f:
        f.write(text)
    return path


class UpstreamCase(ServerTestCase):

    def setUp(self):
        if not os.path.exists(NODE) or not os.path.isdir(os.path.join(SERVERS, "server-everything")):
            self.fail("the npm MCP servers are not installed in %s: run scripts/npm-deps" % NPM)

    def start_upstreams(self, *args, config=None, capabilities=None):
        server = self.start_server(*args, start=False)
        if config:
            server.argv += ["--config", settings(server, config)]
        server.start()
        self.wait_up(server)
        self.wait_listed(server)
        return server

    def wait_up(self, server, timeout=15, other_than=None):
        """Waits until every upstream has every instance up; returns the
        figures."""
        deadline = time.monotonic() + timeout
        while True:
            upstreams = control(server.control_ep, {"command": "upstreams"})["upstreams"]
            pids = [i["pid"] for u in upstreams for i in u["instances"]]
            if all(u["state"] == "up" for u in upstreams) and not (other_than and other_than & set(pids)):
                return upstreams
            if time.monotonic() > deadline:
                self.fail("upstreams not up: %r" % upstreams)
            time.sleep(0.05)

    def wait_listed(self, server, tool="ev_echo", timeout=15):
        """Waits until sessions see tool: an instance is up and the
        upstream's lists have reached every host."""
        c = self.client(server)
        sid = c.open()
        deadline = time.monotonic() + timeout
        while tool not in [t["name"] for t in c.result(sid, "tools/list")["tools"]]:
            self.assertLess(time.monotonic(), deadline, "%s never listed" % tool)
            time.sleep(0.05)

    def session(self, server, capabilities=None):
        c = self.client(server)
        params = init_params()
        params["capabilities"] = capabilities or {}
        m = c.initialize(params=params)
        c.notify(m.sid, "notifications/initialized")
        return c, m.sid


class Federation(UpstreamCase):

    @classmethod
    def setUpClass(cls):
        cls.port = http_port()
        cls.server = cls.start_class_server("--http", "127.0.0.1:%d" % cls.port,
                                            "--upstream", "ev=" + EVERYTHING, "--upstream", "mem=" + MEMORY)

    def setUp(self):
        super().setUp()
        self.wait_up(self.server)
        self.wait_listed(self.server)
        self.wait_listed(self.server, "mem_read_graph")
        self.c, self.sid = self.session(self.server, {"sampling": {}})

    def names(self, method, key, field="name"):
        items, cursor = [], None
        while True:
            result = self.c.result(self.sid, method, {"cursor": cursor} if cursor else {})
            items += [item[field] for item in result[key]]
            cursor = result.get("nextCursor")
            if not cursor:
                return items

    def test_lists_merged(self):
        tools = self.names("tools/list", "tools")
        for name in ("echo", "ev_echo", "ev_get-sum", "mem_read_graph", "mem_create_entities"):
            self.assertIn(name, tools)
        self.assertEqual(len(tools), len(set(tools)))
        self.assertTrue(all(set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
                            for name in tools), tools)
        resources = self.names("resources/list", "resources", "uri")
        self.assertIn("demo://resource/static/document/features.md", resources)
        self.assertIn("memory://knowledge-graph", resources)
        templates = self.names("resources/templates/list", "resourceTemplates", "uriTemplate")
        self.assertIn("demo://resource/dynamic/text/{resourceId}", templates)
        self.assertIn("ev_simple-prompt", self.names("prompts/list", "prompts"))
        capabilities = self.c.initialize().json["result"]["capabilities"]
        self.assertIn("prompts", capabilities)

    def test_calls_routed(self):
        self.assertEqual(text_of(self.c.tool(self.sid, "ev_echo", {"message": "hi"})), "Echo: hi")
        self.assertIn("5", text_of(self.c.tool(self.sid, "ev_get-sum", {"a": 2, "b": 3})))
        self.assertEqual(text_of(self.c.tool(self.sid, "echo", {"text": "local"})), "local")
        self.c.tool(self.sid, "mem_create_entities", {"entities": [
            {"name": "mcpz", "entityType": "gateway", "observations": ["speaks MCP"]}]})
        self.assertIn("speaks MCP", text_of(self.c.tool(self.sid, "mem_read_graph", {})))

    def test_unknown_rows(self):
        for name in ("ev_nope", "nope_echo", "ev_"):
            answer = self.c.rpc(self.sid, "tools/call", {"name": name, "arguments": {}}).json
            self.assertEqual(answer["error"]["code"], -32602, answer)
        answer = self.c.rpc(self.sid, "prompts/get", {"name": "ev_nope"}).json
        self.assertEqual(answer["error"]["code"], -32602, answer)
        answer = self.c.rpc(self.sid, "resources/read", {"uri": "demo://nothing"}).json
        self.assertEqual(answer["error"]["code"], -32002, answer)

    def test_progress_relayed(self):
        rid = self.c.call_tool(self.sid, "ev_trigger-long-running-operation", {"duration": 1, "steps": 4},
                               meta={"progressToken": "p1"})
        answer = self.c.wait(rid, timeout=10)
        self.assertIn("result", answer.json, answer)
        progress = [m for m in self.c.inbox if m.method == "notifications/progress"]
        self.assertGreaterEqual(len(progress), 4, self.c.inbox)
        self.assertTrue(all(m.params["progressToken"] == "p1" for m in progress))
        self.c.inbox = [m for m in self.c.inbox if m.method != "notifications/progress"]

    def test_sampling_relayed(self):
        rid = self.c.call_tool(self.sid, "ev_trigger-sampling-request", {"prompt": "Say hi", "maxTokens": 20})
        ask = self.c.expect(lambda m: m.method == "sampling/createMessage", what="sampling")
        self.assertIn("Say hi", str(ask.params))
        self.c.send("MSG", self.sid, {"jsonrpc": "2.0", "id": ask.id, "result": {
            "role": "assistant", "model": "test", "content": {"type": "text", "text": "hi from the client"}}})
        self.assertIn("hi from the client", str(self.c.wait(rid, timeout=10).result))

    def test_roots_relayed(self):
        """A server request without params (roots/list) reaches the client
        as one: a null params was refused as no request."""
        c, sid = self.session(self.server, {"roots": {}})
        rid = c.call_tool(sid, "ev_get-roots-list", {})
        ask = c.expect(lambda m: m.method == "roots/list", what="roots/list")
        c.send("MSG", sid, {"jsonrpc": "2.0", "id": ask.id, "result": {"roots": [{"uri": "file:///srv/work"}]}})
        self.assertIn("file:///srv/work", text_of(c.wait(rid, timeout=10).result))

    def test_resources_prompts_completion(self):
        read = self.c.result(self.sid, "resources/read", {"uri": "demo://resource/static/document/features.md"})
        self.assertTrue(read["contents"][0]["text"])
        dynamic = self.c.result(self.sid, "resources/read", {"uri": "demo://resource/dynamic/text/7"})
        self.assertEqual(dynamic["contents"][0]["uri"], "demo://resource/dynamic/text/7")
        prompt = self.c.result(self.sid, "prompts/get", {"name": "ev_args-prompt", "arguments": {"city": "Paris"}})
        self.assertIn("Paris", str(prompt["messages"]))
        completion = self.c.result(self.sid, "completion/complete", {
            "ref": {"type": "ref/prompt", "name": "ev_completable-prompt"},
            "argument": {"name": "department", "value": "E"}})
        self.assertIn("Engineering", completion["completion"]["values"])

    def test_subscription_hears_the_upstreams_updates(self):
        uri = "demo://resource/static/document/features.md"
        watcher, wsid = self.session(self.server)
        self.assertEqual(watcher.result(wsid, "resources/subscribe", {"uri": uri}), {})
        watcher.listen(wsid)
        other, osid = self.session(self.server)
        other.listen(osid)
        #  server-everything sends updates of subscribed resources every 5 s
        #  once asked to
        self.c.tool(self.sid, "ev_toggle-subscriber-updates", {})
        update = watcher.expect(lambda m: m.method == "notifications/resources/updated", timeout=15, what="update")
        self.assertEqual(update.params["uri"], uri)
        other.expect_silence(0.2)
        self.c.tool(self.sid, "ev_toggle-subscriber-updates", {})

    def test_operator_disables_an_upstream_row(self):
        reply = control(self.server.control_ep, {"command": "disable", "tool": "ev_get-sum"})
        self.assertIs(reply["changed"], True, reply)
        self.addCleanup(control, self.server.control_ep, {"command": "enable", "tool": "ev_get-sum"})
        self.assertNotIn("ev_get-sum", self.names("tools/list", "tools"))
        answer = self.c.rpc(self.sid, "tools/call", {"name": "ev_get-sum", "arguments": {"a": 1, "b": 2}}).json
        self.assertEqual(answer["error"]["code"], -32602, answer)
        self.assertIs(control(self.server.control_ep, {"command": "enable", "tool": "ev_get-sum"})["changed"], True)
        self.assertIn("3", text_of(self.c.tool(self.sid, "ev_get-sum", {"a": 1, "b": 2})))
        missing = control(self.server.control_ep, {"command": "disable", "tool": "ev_nope"})
        self.assertIs(missing["ok"], False)
        #  A disabled template reads nothing
        template = "demo://resource/dynamic/text/{resourceId}"
        self.assertIs(control(self.server.control_ep, {"command": "disable", "template": template})["changed"], True)
        self.addCleanup(control, self.server.control_ep, {"command": "enable", "template": template})
        answer = self.c.rpc(self.sid, "resources/read", {"uri": "demo://resource/dynamic/text/7"}).json
        self.assertEqual(answer["error"]["code"], -32002, answer)
        control(self.server.control_ep, {"command": "enable", "template": template})
        self.assertTrue(self.c.result(self.sid, "resources/read", {"uri": "demo://resource/dynamic/text/7"})["contents"])

    def test_over_http(self):
        h = Http(self.port)
        self.addCleanup(h.close)
        h.open()
        answer = h.tool("ev_echo", {"message": "over http"})
        self.assertEqual(text_of(answer.messages[-1]["result"]), "Echo: over http")

    def test_stderr_goes_to_the_log(self):
        self.assertTrue(any("upstream ev: stderr:" in line for line in self.server.stderr_lines),
                        self.server.stderr_lines[-10:])

    def test_figures(self):
        self.c.tool(self.sid, "ev_echo", {"message": "counted"})
        upstreams = {u["name"]: u for u in control(self.server.control_ep, {"command": "upstreams"})["upstreams"]}
        self.assertEqual(set(upstreams), {"ev", "mem"})
        self.assertGreaterEqual(upstreams["ev"]["calls"], 1)
        self.assertEqual(len(upstreams["ev"]["instances"]), 1)
        metrics = control(self.server.control_ep, {"command": "metrics"})["text"]
        self.assertIn('mcpz_upstream_calls_total{upstream="ev"}', metrics)
        self.assertIn('mcpz_upstream_duration_seconds_bucket{upstream="ev"', metrics)


class Collisions(UpstreamCase):

    def test_a_taken_uri_is_prefixed(self):
        server = self.start_server("--upstream", "ev=" + EVERYTHING, "--upstream", "twin=" + EVERYTHING)
        self.wait_up(server)
        self.wait_listed(server)
        self.wait_listed(server, "twin_echo")
        c, sid = self.session(server)
        uri = "demo://resource/static/document/features.md"
        resources = [r["uri"] for r in c.result(sid, "resources/list")["resources"]]
        self.assertIn(uri, resources)
        self.assertIn("twin+" + uri, resources)
        self.assertEqual(len(resources), len(set(resources)))
        templates = [t["uriTemplate"] for t in c.result(sid, "resources/templates/list")["resourceTemplates"]]
        self.assertIn("twin+demo://resource/dynamic/text/{resourceId}", templates)
        for asked, own in ((uri, uri), ("twin+" + uri, uri),
                           ("twin+demo://resource/dynamic/text/5", "demo://resource/dynamic/text/5")):
            contents = c.result(sid, "resources/read", {"uri": asked})["contents"]
            self.assertEqual(contents[0]["uri"], own)
        completion = c.rpc(sid, "completion/complete", {
            "ref": {"type": "ref/resource", "uri": "twin+demo://resource/dynamic/text/{resourceId}"},
            "argument": {"name": "resourceId", "value": "1"}}).json
        self.assertIn("result", completion)


class Supervision(UpstreamCase):

    def start_everything(self, instances=1):
        return self.start_upstreams("--upstream", "ev=" + EVERYTHING,
                                    config="upstreams\n    ev\n        instances = %d\n        ping = 300\n" % instances)

    def pid(self, server):
        return self.wait_up(server)[0]["instances"][0]["pid"]

    def test_killed_mid_call(self):
        server = self.start_everything()
        c, sid = self.session(server)
        pid = self.pid(server)
        rid = c.call_tool(sid, "ev_trigger-long-running-operation", {"duration": 10, "steps": 2})
        time.sleep(0.3)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        answer = c.wait(rid, timeout=5).json
        self.assertLess(time.monotonic() - killed, 1.0)
        self.assertEqual(answer["error"]["code"], -32603, answer)
        self.wait_up(server, timeout=2, other_than={pid})
        self.wait_listed(server, timeout=2)
        self.assertLess(time.monotonic() - killed, 2.5)
        self.assertEqual(text_of(c.tool(sid, "ev_echo", {"message": "again"})), "Echo: again")
        upstream = control(server.control_ep, {"command": "upstreams"})["upstreams"][0]
        self.assertGreaterEqual(upstream["restarts"], 1)
        self.assertIn("instance 0", upstream["last_error"])

    def test_hung_child_is_replaced(self):
        server = self.start_everything()
        c, sid = self.session(server)
        pid = self.pid(server)
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(lambda: os.kill(pid, signal.SIGKILL) if os.path.exists("/proc/%d" % pid) else None)
        self.wait_up(server, timeout=5, other_than={pid})
        self.wait_listed(server)
        self.assertEqual(text_of(c.tool(sid, "ev_echo", {"message": "replaced"})), "Echo: replaced")
        self.assertIn("ping", control(server.control_ep, {"command": "upstreams"})["upstreams"][0]["last_error"])

    def test_a_server_that_cannot_start_offers_nothing(self):
        server = self.start_server("--upstream", "bad=stdio:false", "--upstream", "ev=" + EVERYTHING)
        deadline = time.monotonic() + 15
        while True:
            upstreams = {u["name"]: u for u in control(server.control_ep, {"command": "upstreams"})["upstreams"]}
            if upstreams["ev"]["state"] == "up" and upstreams["bad"]["restarts"] >= 2:
                break
            self.assertLess(time.monotonic(), deadline, upstreams)
            time.sleep(0.05)
        self.assertEqual(upstreams["bad"]["state"], "down")
        self.wait_listed(server)
        c, sid = self.session(server)
        tools = [t["name"] for t in c.result(sid, "tools/list")["tools"]]
        self.assertFalse([t for t in tools if t.startswith("bad_")])
        self.assertIn("ev_echo", tools)


class Bounds(UpstreamCase):

    def test_queue_bound_and_cancellation(self):
        server = self.start_upstreams("--upstream", "ev=" + EVERYTHING, config=(
            "upstreams\n    ev\n        max-inflight = 1\n        queue = 1\n"))
        c, sid = self.session(server)
        running = c.call_tool(sid, "ev_trigger-long-running-operation", {"duration": 20, "steps": 2})
        time.sleep(0.2)
        queued = c.call_tool(sid, "ev_trigger-long-running-operation", {"duration": 20, "steps": 2})
        time.sleep(0.2)
        refused = c.wait(c.call_tool(sid, "ev_echo", {"message": "x"}))
        self.assertEqual((refused.kind, refused.json["status"]), ("ERR", 503), refused)
        upstream = control(server.control_ep, {"command": "upstreams"})["upstreams"][0]
        self.assertEqual((upstream["inflight"], upstream["queued"], upstream["busy"]), (1, 1, 1), upstream)
        #  Cancelled: the running call is cancelled upstream, the queued one
        #  runs, and cancelled too, leaves nothing behind
        for rid in (running, queued):
            c.notify(sid, "notifications/cancelled", {"requestId": rid})
            del c.sent[idkey(rid)]
            time.sleep(0.2)
        deadline = time.monotonic() + 2
        while True:
            upstream = control(server.control_ep, {"command": "upstreams"})["upstreams"][0]
            if (upstream["inflight"], upstream["queued"]) == (0, 0):
                break
            self.assertLess(time.monotonic(), deadline, upstream)
            time.sleep(0.05)
        self.assertEqual(text_of(c.tool(sid, "ev_echo", {"message": "free"})), "Echo: free")

    def test_deadline(self):
        server = self.start_upstreams("--upstream", "ev=" + EVERYTHING, config=(
            "upstreams\n    ev\n        timeout = 500\n"))
        c, sid = self.session(server)
        started = time.monotonic()
        answer = c.wait(c.call_tool(sid, "ev_trigger-long-running-operation", {"duration": 20, "steps": 2}),
                        timeout=5).json
        self.assertEqual(answer["error"]["code"], -32001, answer)
        self.assertLess(time.monotonic() - started, 2)
        self.assertEqual(text_of(c.tool(sid, "ev_echo", {"message": "after"})), "Echo: after")


class ListChanges(UpstreamCase):

    def test_an_upstreams_list_change_reaches_sessions(self):
        growing = os.path.join(os.path.dirname(os.path.abspath(__file__)), "servers", "growing.py")
        server = self.start_server("--upstream", "g=stdio:/usr/bin/python3 " + growing)
        self.wait_up(server)
        self.wait_listed(server, "g_grow")
        c, sid = self.session(server)
        c.listen(sid)
        self.assertEqual(text_of(c.tool(sid, "g_grow", {})), "grown-1")
        c.expect(lambda m: m.method == "notifications/tools/list_changed", what="list_changed")
        deadline = time.monotonic() + 5
        while "g_grown-1" not in [t["name"] for t in c.result(sid, "tools/list")["tools"]]:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        self.assertEqual(text_of(c.tool(sid, "g_grown-1", {})), "grown-2")


class Bounded(UpstreamCase):

    def test_a_server_that_lists_without_end(self):
        growing = os.path.join(os.path.dirname(os.path.abspath(__file__)), "servers", "growing.py")
        server = self.start_server("--upstream", "e=stdio:/usr/bin/python3 %s endless" % growing,
                                   "--page-size", "1000")
        self.wait_up(server)
        self.wait_listed(server, "e_t0-0")
        c, sid = self.session(server)
        tools, cursor = [], None
        while True:
            result = c.result(sid, "tools/list", {"cursor": cursor} if cursor else {})
            tools += [t["name"] for t in result["tools"] if t["name"].startswith("e_")]
            cursor = result.get("nextCursor")
            if not cursor:
                break
        self.assertEqual(len(tools), 10000)
        self.assertTrue(any("stops at 10000 rows" in line for line in server.stderr_lines))
        self.assertEqual(c.result(sid, "ping"), {})


class OverHttp(UpstreamCase):
    """server-everything in its Streamable HTTP mode behind mcpz: one MCP
    session per instance, POSTs over libcurl."""

    def start_everything_http(self):
        import subprocess
        port = http_port()
        env = dict(os.environ, PORT=str(port))
        proc = subprocess.Popen([NODE, os.path.join(SERVERS, "server-everything", "dist", "index.js"),
                                 "streamableHttp"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        deadline = time.monotonic() + 15
        import socket
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc, "http://127.0.0.1:%d/mcp" % port
            except OSError:
                self.assertLess(time.monotonic(), deadline, "server-everything does not listen")
                time.sleep(0.1)

    def test_calls_progress_and_sampling(self):
        proc, url = self.start_everything_http()
        server = self.start_server("--upstream", "web=" + url)
        self.wait_up(server)
        self.wait_listed(server, "web_echo")
        c, sid = self.session(server, {"sampling": {}})
        self.assertEqual(text_of(c.tool(sid, "web_echo", {"message": "over http"})), "Echo: over http")
        rid = c.call_tool(sid, "web_trigger-long-running-operation", {"duration": 1, "steps": 3},
                          meta={"progressToken": "h1"})
        self.assertIn("result", c.wait(rid, timeout=10).json)
        progress = [m for m in c.inbox if m.method == "notifications/progress"]
        self.assertGreaterEqual(len(progress), 3)
        c.inbox = [m for m in c.inbox if m.method != "notifications/progress"]
        #  A request to the client comes on the stream of the call it
        #  serves: relayed even while other calls run
        busy = c.call_tool(sid, "web_trigger-long-running-operation", {"duration": 2, "steps": 2})
        rid = c.call_tool(sid, "web_trigger-sampling-request", {"prompt": "Say hi", "maxTokens": 20})
        ask = c.expect(lambda m: m.method == "sampling/createMessage", what="sampling")
        c.send("MSG", sid, {"jsonrpc": "2.0", "id": ask.id, "result": {
            "role": "assistant", "model": "test", "content": {"type": "text", "text": "hi over http"}}})
        self.assertIn("hi over http", str(c.wait(rid, timeout=10).result))
        self.assertIn("result", c.wait(busy, timeout=10).json)
        read = c.result(sid, "resources/read", {"uri": "demo://resource/static/document/features.md"})
        self.assertTrue(read["contents"][0]["text"])

    def test_server_gone_and_back(self):
        proc, url = self.start_everything_http()
        server = self.start_server("--upstream", "web=" + url, start=False)
        server.argv += ["--config", settings(server, "upstreams\n    web\n        ping = 300\n")]
        server.start()
        self.wait_up(server)
        self.wait_listed(server, "web_echo")
        c, sid = self.session(server)
        proc.kill()
        proc.wait()
        answer = c.rpc(sid, "tools/call", {"name": "web_echo", "arguments": {"message": "x"}}).json
        self.assertIn("error", answer)
        deadline = time.monotonic() + 10
        while control(server.control_ep, {"command": "upstreams"})["upstreams"][0]["state"] == "up":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        upstream = control(server.control_ep, {"command": "upstreams"})["upstreams"][0]
        self.assertIn("instance 0", upstream["last_error"])


class Load(UpstreamCase):

    def test_thousand_calls_from_hundred_sessions_over_four_instances(self):
        server = self.start_upstreams("--upstream", "ev=" + EVERYTHING, "--max-inflight", "64",
                                      config="upstreams\n    ev\n        instances = 4\n")
        clients = [self.client(server) for _ in range(10)]
        sessions = [(c, c.open()) for c in clients for _ in range(10)]
        sent = []
        for c, sid in sessions:
            for n in range(10):
                text = "%s-%d" % (sid[:8], n)
                sent.append((c, c.call_tool(sid, "ev_echo", {"message": text}), text))
        for c, rid, text in sent:
            answer = c.wait(rid, timeout=30)
            self.assertEqual(text_of(answer.result), "Echo: " + text, answer)
        for c in clients:
            c.expect_silence(0.2)
            for rid in [r for cc, r, _ in sent if cc is c]:
                self.assertEqual(len(c.answers[idkey(rid)]), 1)
        upstream = control(server.control_ep, {"command": "upstreams"})["upstreams"][0]
        self.assertEqual(upstream["errors"], 0, upstream)
        self.assertGreaterEqual(upstream["calls"], 1000)
        self.assertEqual(len(upstream["instances"]), 4)
        self.assertEqual(upstream["inflight"], 0)


if __name__ == "__main__":
    unittest.main()
