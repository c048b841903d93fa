"""The official MCP conformance suite (@modelcontextprotocol/conformance,
pinned in tests/interop with the Node 22 it needs) against
`mcpzd --store none --http PORT --conformance-fixtures` (issue 11): every
server scenario the suite has for 2025-11-25, pending ones included, must
pass every check, with no warnings. The suite's own summary is printed
into the test log."""

import os
import re
import subprocess
import unittest

from httptest import http_port
from mcpztest import REPO, ServerTestCase

NPM = os.environ.get("MCPZ_NPM") or os.path.join(REPO, "build", "npm")
NODE = os.path.join(NPM, "node_modules", ".bin", "node")
SUITE = os.path.join(NPM, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")


class Conformance(ServerTestCase):

    def test_every_2025_11_25_scenario(self):
        if not os.path.exists(SUITE) or not os.path.exists(NODE):
            self.fail("the conformance suite is not installed in %s: run scripts/npm-deps" % NPM)
        scenarios = subprocess.run([NODE, SUITE, "list", "--server", "--spec-version", "2025-11-25"],
                                   capture_output=True, text=True, timeout=60, check=True).stdout
        expected = re.findall(r"^\s+- (\S+) \[", scenarios, re.M)
        self.assertGreaterEqual(len(expected), 32, scenarios)
        port = http_port()
        self.start_server("--http", str(port), "--conformance-fixtures")
        run = subprocess.run([NODE, SUITE, "server", "--url", "http://127.0.0.1:%d/mcp" % port,
                              "--spec-version", "2025-11-25", "--suite", "all"],
                             capture_output=True, text=True, timeout=600)
        summary = run.stdout[run.stdout.find("=== SUMMARY ==="):]
        print(summary)
        ran = re.findall(r"^[✓✗] (\S+): (\d+) passed, (\d+) failed", summary, re.M)
        self.assertEqual(sorted(name for name, _, _ in ran), sorted(expected), summary)
        total = re.search(r"^Total: (\d+) passed, (\d+) failed", summary, re.M)
        self.assertIsNotNone(total, run.stdout[-2000:] + run.stderr[-2000:])
        self.assertEqual(int(total.group(2)), 0, summary)
        self.assertGreater(int(total.group(1)), len(expected))
        self.assertNotIn("WARNING", run.stdout)
        self.assertEqual(run.returncode, 0, run.stderr[-2000:])


if __name__ == "__main__":
    unittest.main()
