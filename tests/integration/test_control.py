"""The control socket (spec/control.md) and mcpzctl."""

import json
import os
import stat
import time
import unittest

import zmq

from mcpztest import (CTX, ServerTestCase, control, free_port, run_ctl,
                      tcp_endpoint)

STAT_FIELDS = ("sessions", "requests", "errors", "overloads", "timeouts", "uptime_s")


def is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


class ControlSocket(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server("--session-threads", 2)

    def stats(self):
        reply = self.server.stats()
        self.assertIs(reply.get("ok"), True, reply)
        return reply

    def test_stats_fields(self):
        reply = self.stats()
        for field in STAT_FIELDS:
            self.assertTrue(is_int(reply.get(field)), "%s: %r" % (field, reply))
            self.assertGreaterEqual(reply[field], 0, field)
        hosts = reply.get("hosts")
        self.assertIsInstance(hosts, list, reply)
        self.assertEqual(len(hosts), 2, "one entry per session host: %r" % reply)
        for h in hosts:
            self.assertIsInstance(h, dict, reply)

    def test_stats_follow_sessions_and_requests(self):
        before = self.stats()
        c = self.client(self.server)
        sids = [c.open() for _ in range(3)]
        for sid in sids:
            for _ in range(5):
                c.result(sid, "ping")
        mid = self.stats()
        self.assertEqual(mid["sessions"], before["sessions"] + 3, (before, mid))
        self.assertGreaterEqual(mid["requests"], before["requests"] + 15, (before, mid))
        self.assertEqual(c.close_session(sids[0]).kind, "OK")
        after = self.stats()
        self.assertEqual(after["sessions"], before["sessions"] + 2, (before, after))
        self.assertGreaterEqual(after["uptime_s"], before["uptime_s"])

    def test_malformed_requests(self):
        for raw in (b"not json", b"", b"[]", b"{}", b'"stats"', b"42",
                    b'{"command": 5}', b'{"command": null}', b'{"command": "nope"}',
                    b'{"command": "STATS"}', b'{"command": ""}', b'{"cmd": "stats"}',
                    b"\xff\xfe", b'{"command": "stats"'):
            with self.subTest(request=raw):
                reply = control(self.server.control_ep, raw)
                self.assertIs(reply.get("ok"), False, reply)
                self.assertIsInstance(reply.get("error"), str, reply)
                self.assertTrue(reply["error"], reply)
        # Still serving.
        self.stats()

    def test_every_request_is_answered(self):
        """Never silence: an unknown name cut inside a character, and a
        DEALER's request of several frames, each get an error reply."""
        name = "a" * 63 + "\u00e9\u00e9"
        reply = control(self.server.control_ep, {"command": name})
        self.assertIs(reply.get("ok"), False, reply)
        self.assertIn("a" * 63 + '"', reply["error"])
        dealer = CTX.socket(zmq.DEALER)
        self.addCleanup(dealer.close, 0)
        dealer.connect(self.server.control_ep)
        for frames in ([b'{"command":"stats"}', b"x", b"y"], [b"", b"{}", b"a", b"b", b"c"]):
            dealer.send_multipart(frames)
            self.assertTrue(dealer.poll(5000), "no answer to %r" % frames)
            reply = json.loads(dealer.recv_multipart()[-1])
            self.assertIs(reply["ok"], False, reply)
            self.assertIn("one frame", reply["error"])
        #  Past 64 KiB: an error, and the connection stays
        for size in (65537, 1 << 20, 8 << 20):
            dealer.send_multipart([b'{"command":"stats","pad":"' + b"p" * size + b'"}'])
            self.assertTrue(dealer.poll(5000), "no answer to a request of %d bytes" % size)
            reply = json.loads(dealer.recv_multipart()[-1])
            self.assertIs(reply["ok"], False, reply)
            self.assertIn("65536 bytes", reply["error"])
        dealer.send_multipart([b'{"command":"stats"}'])
        self.assertTrue(dealer.poll(5000))
        self.assertIs(json.loads(dealer.recv_multipart()[-1])["ok"], True)
        self.stats()

    def test_control_ipc_is_private(self):
        path = self.server.control_path
        st = os.stat(path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode), path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, oct(st.st_mode))

    def test_stats_with_extra_arguments(self):
        reply = control(self.server.control_ep, {"command": "stats", "extra": 1})
        self.assertIn("ok", reply)


class ControlCommands(ServerTestCase):

    def test_other_commands_answer(self):
        # Not all of these exist yet; each must answer (ok true or false).
        server = self.start_server()
        c = self.client(server)
        sid = c.open()
        for req in ({"command": "sessions"}, {"command": "sessions", "limit": 10},
                    {"command": "session", "id": sid}, {"command": "session", "id": "0" * 32},
                    {"command": "cleanup"}, {"command": "metrics"},
                    {"command": "kill", "id": "0" * 32}, {"command": "drain"}):
            with self.subTest(request=req):
                reply = control(server.control_ep, req)
                self.assertIn(reply.get("ok"), (True, False), reply)
                if reply["ok"] is False:
                    self.assertIsInstance(reply.get("error"), str, reply)
        self.assertTrue(server.running())

    def test_shutdown(self):
        server = self.start_server()
        c = self.client(server)
        sid = c.open()
        c.result(sid, "ping")
        reply = control(server.control_ep, {"command": "shutdown"})
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(server.wait(10), 0, server.stderr_tail())

    def test_default_control_endpoint(self):
        """The default control socket is .mcpzd/control in the working
        directory: the socket mode 0600, its directory 0700 (only the owner
        can even reach the socket)."""
        server = self.start_server(control=None)
        directory = os.path.join(server.tmp, ".mcpzd")
        st = os.stat(directory)
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        st = os.stat(os.path.join(directory, "control"))
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        # mcpzctl finds it from the same working directory.
        r = run_ctl(["--timeout", "2000", "stats"], cwd=server.tmp)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("sessions", r.stdout)

    def test_default_directory_is_made_private(self):
        server = self.start_server(control=None, start=False)
        directory = os.path.join(server.tmp, ".mcpzd")
        os.mkdir(directory)
        os.chmod(directory, 0o755)
        server.start()
        self.assertEqual(stat.S_IMODE(os.stat(directory).st_mode), 0o700)


class Ctl(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def ctl(self, *args, timeout=20):
        return run_ctl(["--control", self.server.control_ep] + list(args), timeout=timeout)

    def call(self, *args):
        return run_ctl(["call", "--endpoint", self.server.endpoint] + list(args))

    def test_stats_human(self):
        r = self.ctl("stats")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("sessions", r.stdout)

    def test_stats_json(self):
        r = self.ctl("--json", "stats")
        self.assertEqual(r.returncode, 0, r)
        reply = json.loads(r.stdout)
        self.assertIs(reply.get("ok"), True, reply)
        self.assertTrue(is_int(reply.get("sessions")), reply)

    def test_unknown_command_fails(self):
        r = self.ctl("no-such-command")
        self.assertNotEqual(r.returncode, 0, r)

    def test_no_server(self):
        t0 = time.monotonic()
        r = run_ctl(["--control", "ipc://%s/nobody-here" % self.server.tmp,
                     "--timeout", "500", "stats"], timeout=15)
        took = time.monotonic() - t0
        print("\nmcpzctl with no server gave up after %.2f s, status %d" % (took, r.returncode))
        self.assertNotEqual(r.returncode, 0, r)
        r = run_ctl(["--control", tcp_endpoint(), "--timeout", "500", "--json", "stats"],
                    timeout=15)
        self.assertNotEqual(r.returncode, 0, r)

    def test_call_echo(self):
        r = self.call("echo", "text=hello")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("hello", r.stdout)
        r = self.call("echo", "text=hello world")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("hello world", r.stdout)

    def test_call_json_values(self):
        r = self.call("add", "a=2", "b=3")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout.split(), ["5"], r)
        r = self.call("add", "a=0.25", "b=0.25")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("0.5", r.stdout)
        # '"42"' is JSON for the string 42; a bare 42 is a number.
        r = self.call("echo", 'text="42"')
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout.split(), ["42"], r)
        r = self.call("echo", "text=42")
        self.assertEqual(r.returncode, 1, r)
        r = self.call("sleep", "ms=10")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("slept 10 ms", r.stdout)

    def test_call_iserror(self):
        r = self.call("fail", "message=boom")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("boom", r.stdout + r.stderr)
        r = self.call("fail")
        self.assertEqual(r.returncode, 1, r)

    def test_call_unknown_tool(self):
        r = self.call("no-such-tool", "x=1")
        self.assertEqual(r.returncode, 1, r)

    def test_call_no_server(self):
        r = run_ctl(["--timeout", "500", "call", "--endpoint",
                     "tcp://127.0.0.1:%d" % free_port(), "echo", "text=x"], timeout=15)
        self.assertNotEqual(r.returncode, 0, r)


class CtlShutdown(ServerTestCase):

    def test_mcpzctl_shutdown(self):
        server = self.start_server()
        c = self.client(server)
        c.open()
        r = run_ctl(["--control", server.control_ep, "shutdown"])
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(server.wait(10), 0, server.stderr_tail())


if __name__ == "__main__":
    unittest.main()
