"""The official TypeScript SDK's client against mcpz over Streamable HTTP
(issue 10): initialize, tools/list, echo, progress on an SSE response,
logging, cancellation, the GET stream cut by a restart and coming back,
DELETE and 404 after it.

The SDK is the pinned one of tests/interop, installed by scripts/npm-deps
under the build directory ($MCPZ_NPM)."""

import json
import os
import shutil
import subprocess
import time
import unittest

from httptest import http_port
from mcpztest import REPO, ServerTestCase, control, tcp_endpoint

NPM = os.environ.get("MCPZ_NPM") or os.path.join(REPO, "build", "npm")
CLIENT = os.path.join(REPO, "tests", "interop", "sdk_client.mjs")
SURFACE = os.path.join(REPO, "tests", "interop", "sdk_surface.mjs")


class Sdk(ServerTestCase):

    def setUp(self):
        if not os.path.isdir(os.path.join(NPM, "node_modules", "@modelcontextprotocol", "sdk")):
            self.fail("the MCP SDK is not installed in %s: run scripts/npm-deps" % NPM)
        # ESM resolves packages from the script's own directory
        shutil.copy(CLIENT, NPM)
        shutil.copy(SURFACE, NPM)

    def start(self, port, endpoint, db):
        server = self.start_server("--http", str(port), "--store", "sqlite:" + db,
                                   listen=endpoint, store=None)
        return server

    def test_sdk_client(self):
        port, endpoint = http_port(), tcp_endpoint()
        db = os.path.join(self.start_server(start=False).tmp, "sdk.db")
        server = self.start(port, endpoint, db)
        node = subprocess.Popen(["node", os.path.join(NPM, "sdk_client.mjs"),
                                 "http://127.0.0.1:%d/mcp" % port],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=NPM)
        self.addCleanup(node.kill)
        steps = {}

        def step(name, timeout=30):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                line = node.stdout.readline()
                if not line:
                    self.fail("the SDK client stopped before %s: %s" % (name, node.stderr.read()))
                record = json.loads(line)
                steps[record["step"]] = record
                if record["step"] == name:
                    return record
            self.fail("no %s from the SDK client" % name)

        init = step("initialize")
        self.assertEqual(len(init["sessionId"]), 32)
        self.assertEqual(init["server"]["name"], "mcpz")
        self.assertEqual(init["version"], "2025-11-25")
        self.assertIn("echo", step("tools/list")["names"])
        self.assertEqual(step("echo")["text"], "hello sdk")
        progress = step("progress")
        self.assertEqual(progress["progress"], [1, 2, 3, 4])
        self.assertEqual(progress["text"], "done 4 steps")
        logs = step("logging")["logs"]
        self.assertTrue(any(log.get("logger") == "sleep" for log in logs), logs)
        cancel = step("cancel")
        self.assertNotEqual(cancel["outcome"], "answered")
        self.assertLess(cancel["ms"], 4000)
        sid = step("cut")["sessionId"]
        # The cancelled sleep leaves nothing in flight (the SDK's
        # notifications/cancelled may still be on its way)
        deadline = time.monotonic() + 3
        while control(server.control_ep, {"command": "session", "id": sid})["inflight"] \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(control(server.control_ep, {"command": "session", "id": sid})["inflight"], 0)
        # The GET stream is open; a restart cuts it
        self.assertGreaterEqual(self.http_figures(server)["streams"], 1)
        server.stop()
        server = self.start(port, endpoint, db)
        node.stdin.write("go\n")
        node.stdin.flush()
        self.assertEqual(step("after-cut")["text"], "after restart")
        deadline = time.monotonic() + 10
        while self.http_figures(server)["streams"] < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertGreaterEqual(self.http_figures(server)["streams"], 1, "the GET stream did not come back")
        node.stdin.write("go\n")
        node.stdin.flush()
        self.assertIsNone(step("deleted")["sessionId"])
        self.assertEqual(step("after-delete")["status"], 404)
        self.assertEqual(node.wait(10), 0, node.stderr.read())

    def test_sdk_client_on_the_whole_surface(self):
        """Issue 11: the SDK client's handlers answer sampling, elicitation
        and roots; a subscription hears its update; prompts, completion,
        resources and templates."""
        port = http_port()
        self.start_server("--http", str(port), "--conformance-fixtures")
        run = subprocess.run(["node", os.path.join(NPM, "sdk_surface.mjs"), "http://127.0.0.1:%d/mcp" % port],
                             capture_output=True, text=True, timeout=60, cwd=NPM)
        self.assertEqual(run.returncode, 0, run.stderr[-3000:])
        steps = {record["step"]: record for record in map(json.loads, run.stdout.splitlines())}
        capabilities = steps["initialize"]["capabilities"]
        self.assertEqual(capabilities["resources"], {"subscribe": True, "listChanged": True})
        self.assertIn("completions", capabilities)
        self.assertIn("sampled: hello", steps["sampling"]["text"])
        self.assertEqual(steps["elicitation"]["asked"], ["who are you?"])
        self.assertIn("ann@example.com", steps["elicitation"]["text"])
        self.assertEqual(steps["roots"]["roots"], [{"uri": "file:///second", "name": "second"}])
        self.assertEqual(steps["subscription"]["updates"], ["test://watched-resource"])
        self.assertEqual(len(steps["prompts"]["names"]), 4)
        self.assertEqual(steps["prompts"]["text"], "Prompt with arguments: arg1='a', arg2='b'")
        self.assertEqual(steps["completion"]["values"], ["paris", "park", "party"])
        self.assertEqual(sorted(steps["resources"]["uris"]),
                         ["test://static-binary", "test://static-text", "test://watched-resource"])
        self.assertEqual(steps["resources"]["templates"], ["test://template/{id}/data"])
        self.assertEqual(json.loads(steps["resources"]["text"])["id"], "42")

    def http_figures(self, server):
        return control(server.control_ep, {"command": "stats"})["supervisor"]["http"]


if __name__ == "__main__":
    unittest.main()
