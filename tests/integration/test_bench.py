"""mcpz-bench as a load test: every answer of a short mixed run, of
session opens and closes, and of the raw baseline is checked by the
generator itself (exit 1 on any wrong answer)."""

import json
import os
import subprocess
import time
import unittest

from mcpztest import MCPZD, ServerTestCase, tcp_endpoint

BENCH = os.path.join(os.path.dirname(MCPZD), "mcpz-bench")


def bench(endpoint, *args):
    out = subprocess.run([BENCH, "--endpoint", endpoint, "--json"] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Bench(ServerTestCase):

    def test_mixed_calls_all_checked(self):
        server = self.start_server()
        r = bench(server.endpoint, "--requests", 30000, "--sockets", 3, "--sessions", 30,
                  "--inflight", 8, "--mix", "echo=2,ping=1,add=1")
        self.assertEqual(r["wrong"], 0, r)
        self.assertEqual(r["errors"], 0, r)
        self.assertEqual(r["answered"], 30000, r)
        print("bench mixed: %s/s" % r["rate"])

    def test_open_and_close(self):
        server = self.start_server()
        r = bench(server.endpoint, "--open", "--close", "--requests", 2000, "--sockets", 2,
                  "--sessions", 16, "--inflight", 1)
        self.assertEqual(r["wrong"], 0, r)
        self.assertEqual(r["opens"], 2000, r)
        self.assertEqual(r["closes"], 2000, r)
        self.assertEqual(server.stats()["sessions"], 0)

    def test_raw_baseline(self):
        endpoint = tcp_endpoint()
        echo = subprocess.Popen([BENCH, "--serve-raw", endpoint])
        self.addCleanup(echo.wait)
        self.addCleanup(echo.kill)
        time.sleep(0.3)
        r = bench(endpoint, "--raw", "--requests", 20000, "--mix", "echo=1")
        self.assertEqual(r["wrong"], 0, r)
        self.assertEqual(r["answered"], 20000, r)


if __name__ == "__main__":
    unittest.main()
