"""examples/client.py runs against a real server."""

import os
import subprocess
import unittest

from mcpztest import PYTHON, REPO, ServerTestCase, control, tcp_endpoint

EXAMPLE = os.path.join(REPO, "examples", "client.py")


def run_example(*args, timeout=30):
    return subprocess.run([PYTHON, EXAMPLE] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


class Example(ServerTestCase):

    def test_example_client(self):
        server = self.start_server()
        r = run_example(server.endpoint)
        self.assertEqual(r.returncode, 0, r)
        out = r.stdout
        self.assertIn("session ", out)
        for name in ("echo", "add", "sleep", "progress", "fail"):
            self.assertIn(name, out)
        self.assertIn("echo says: hello from example", out)
        self.assertIn("closed: OK", out)
        # The example closed its session.
        self.assertEqual(control(server.control_ep, {"command": "stats"})["sessions"], 0)

    def test_example_client_over_ipc(self):
        server = self.start_server(listen="ipc")
        r = run_example(server.endpoint)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("closed: OK", r.stdout)

    def test_example_client_without_server(self):
        r = run_example(tcp_endpoint())
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("no answer", r.stderr)


if __name__ == "__main__":
    unittest.main()
