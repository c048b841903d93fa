"""mcpzd as a process: flags and their environment variables, bad values
(exit 2, one line naming the flag), --help, JSON logs, signals."""

import json
import os
import signal
import socket
import tempfile
import shutil
import time
import unittest

from mcpztest import (ServerTestCase, control, free_port, port_is_bound,
                      run_mcpzd, tcp_endpoint)


class BadFlags(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mcpz-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_bad(self, args, names, env=None, store=True):
        base = ["--listen", tcp_endpoint(), "--control", "ipc://%s/ctl" % self.tmp]
        if store:
            base += ["--store", "none"]
        t0 = time.monotonic()
        rc, out, err = run_mcpzd(base + args, env=env, timeout=5, cwd=self.tmp)
        took = time.monotonic() - t0
        self.assertIsNotNone(rc, "mcpzd kept running with %r %r" % (args, env))
        self.assertEqual(rc, 2, "status %r for %r %r; stderr: %r" % (rc, args, env, err))
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "want one line on stderr for %r, got %r" % (args, err))
        low = lines[0].lower()
        self.assertTrue(any(n.lower() in low for n in names),
                        "%r does not name any of %r" % (lines[0], names))
        self.assertLess(took, 5, "slow to refuse %r" % (args,))
        return lines[0]

    def test_bad_values(self):
        cases = [
            (["--session-threads", "0"], "session-threads"),
            (["--session-threads", "2x"], "session-threads"),
            (["--session-threads", "99999999999999999999"], "session-threads"),
            (["--session-threads", ""], "session-threads"),
            (["--session-ttl", "-1"], "session-ttl"),
            (["--log-level", "loud"], "log-level"),
            (["--log-format", "xml"], "log-format"),
            (["--max-inflight", "abc"], "max-inflight"),
            (["--tool-threads=0"], "tool-threads"),
            (["--tool-threads", "-3"], "tool-threads"),
            (["--db-workers", "-1"], "db-workers"),
            (["--request-timeout", "soon"], "request-timeout"),
            (["--host-queue", "0"], "host-queue"),
            (["--tool-queue", "-1"], "tool-queue"),
            (["--max-message-size", "-5"], "max-message-size"),
            (["--max-sessions", "many"], "max-sessions"),
            (["--cleanup-interval", "x"], "cleanup-interval"),
            (["--config", "/nonexistent/mcpz.conf"], "config"),
        ]
        for args, name in cases:
            with self.subTest(args=args):
                self.run_bad(args, [name])

    def test_bad_store(self):
        for url in ("mysql://x", "", "sqlite", "postgres"):
            with self.subTest(store=url):
                self.run_bad(["--store", url], ["store"], store=False)
        self.run_bad(["--store=mysql://x"], ["store"], store=False)

    def test_unknown_flag(self):
        self.run_bad(["--bogus"], ["bogus"])
        self.run_bad(["--bogus=1"], ["bogus"])
        self.run_bad(["--listenx", "tcp://127.0.0.1:1"], ["listenx"])

    def test_missing_value(self):
        for flag in ("--listen", "--session-threads", "--log-level", "--control"):
            with self.subTest(flag=flag):
                self.run_bad([flag], [flag[2:]])

    def test_bad_environment(self):
        cases = [
            ({"MCPZ_SESSION_THREADS": "0"}, ["session-threads", "session_threads"]),
            ({"MCPZ_LOG_LEVEL": "loud"}, ["log-level", "log_level"]),
            ({"MCPZ_SESSION_TTL": "-1"}, ["session-ttl", "session_ttl"]),
        ]
        for env, names in cases:
            with self.subTest(env=env):
                self.run_bad([], names, env=env)
        self.run_bad([], ["store"], env={"MCPZ_STORE": "mysql://x"}, store=False)

    def test_bad_config_file(self):
        path = os.path.join(self.tmp, "bad.conf")
        with open(path, "w") as f:
            f.write("mcpz\n    no-such-setting = 1\n")
        self.run_bad(["--config", path], ["config", "no-such-setting"])
        with open(path, "w") as f:
            f.write("mcpz\n    session-threads = 0\n")
        self.run_bad(["--config", path], ["session-threads"])

    def test_node_id_must_be_printable_utf8(self):
        # A node's name goes into logs, metrics labels and the store
        for bad in (os.fsdecode(b"node\xff"), "node\x1b[2J", "node\nid"):
            self.run_bad(["--node-id", bad], ["--node-id", "UTF-8"])

    def test_help(self):
        rc, out, err = run_mcpzd(["--help"], timeout=10, cwd=self.tmp)
        self.assertEqual(rc, 0, err)
        text = out + err
        for flag in ("--listen", "--control", "--store", "--session-threads"):
            self.assertIn(flag, text)

    def test_port_in_use(self):
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        rc, out, err = run_mcpzd(["--listen", "tcp://127.0.0.1:%d" % port,
                                  "--control", "ipc://%s/ctl" % self.tmp, "--store", "none"],
                                 timeout=10, cwd=self.tmp)
        print("\nport in use: status %r, stderr %r" % (rc, err.strip()[-300:]))
        self.assertIsNotNone(rc, "mcpzd kept running on a port in use")
        self.assertNotEqual(rc, 0)


class GoodFlags(ServerTestCase):

    def ping(self, endpoint):
        c = self.client(endpoint)
        sid = c.open()
        self.assertEqual(c.result(sid, "ping"), {})
        return c, sid

    def test_every_flag(self):
        server = self.start_server(
            "--session-ttl", 60, "--cleanup-interval", 10, "--request-timeout", 1000,
            "--max-sessions", 1000, "--max-inflight", 8, "--session-threads", 2,
            "--tool-threads", 2, "--db-workers", 1, "--node-id", "n1",
            "--log-level", "debug", "--log-format", "json",
            "--max-message-size", 65536, "--host-queue", 100, "--tool-queue", 16)
        c, sid = self.ping(server.endpoint)
        self.assertEqual(c.tool(sid, "echo", {"text": "flags"})["content"][0]["text"], "flags")
        reply = server.stats()
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(len(reply.get("hosts", [])), 2, reply)
        c.check()
        self.assertEqual(server.stop(signal.SIGTERM, 10), 0)
        server.join_output()
        lines = [l for l in server.stderr_lines if l.strip()]
        self.assertTrue(lines)
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                self.fail("--log-format json wrote a line that is not JSON: %r" % line)
            self.assertIsInstance(obj, dict, line)
        self.assertTrue(any("ready" in l for l in lines))

    def test_json_logs_keep_long_multibyte_and_bad_bytes(self):
        """A message cut inside a character, or holding bytes that are not
        UTF-8 (a child's stderr), was logged as {}."""
        server = self.start_server("--log-format", "json", start=False)
        script = os.path.join(server.tmp, "noisy.py")
        with open(script, "w") as f:
            f.write("import sys, time\n"
                    "sys.stderr.buffer.write(b'bad \\xff byte\\n' + '\u00e9'.encode() * 1500 + b' tail\\n')\n"
                    "sys.stderr.flush()\ntime.sleep(60)\n")
        server.argv += ["--upstream", "noisy=stdio:/usr/bin/python3 " + script]
        server.start()
        deadline = time.monotonic() + 10
        while len([line for line in server.stderr_lines if "stderr:" in line]) < 2:
            self.assertLess(time.monotonic(), deadline, server.stderr_lines[-5:])
            time.sleep(0.05)
        for line in server.stderr_lines:
            obj = json.loads(line)
            self.assertNotEqual(obj, {}, line)
        messages = [json.loads(l)["msg"] for l in server.stderr_lines if "stderr:" in l]
        self.assertTrue(messages[0].endswith("bad ? byte"), messages[0])
        self.assertIn("\u00e9" * 100, messages[1])

    def test_no_demo_tools_and_text_logs(self):
        # --log-level error hides the info-level "ready" line: probe instead.
        server = self.start_server("--no-demo-tools", "--log-level", "error",
                                   "--log-format", "text", ready_probe=True)
        c, sid = self.ping(server.endpoint)
        self.assertEqual(c.result(sid, "tools/list"), {"tools": []})
        c.check()
        self.assertEqual(server.stop(), 0)
        server.join_output()
        self.assertFalse([l for l in server.stderr_lines if " info " in l or " debug " in l],
                         server.stderr_text())

    def test_equals_form(self):
        ep = tcp_endpoint()
        server = self.start_server("--listen=" + ep, "--control=ipc://{tmp}/ctl2",
                                   "--store=none", "--session-threads=3",
                                   "--log-level=info", listen=None, control=None, store=None)
        self.ping(ep)
        reply = control("ipc://%s/ctl2" % server.tmp, {"command": "stats"})
        self.assertEqual(len(reply.get("hosts", [])), 3, reply)

    def test_empty_config_file(self):
        server = self.start_server("--config", "{tmp}/mcpz.conf", start=False)
        open(os.path.join(server.tmp, "mcpz.conf"), "w").close()
        server.start()
        self.ping(server.endpoint)

    def config_server(self, text, *args, env=None):
        server = self.start_server("--config", "{tmp}/mcpz.conf", *args, start=False)
        with open(os.path.join(server.tmp, "mcpz.conf"), "w") as f:
            f.write(text)
        if env:
            server.env.update(env)
        server.start()
        return server

    def test_config_file(self):
        # ZPL: "name = value" lines at the top level or under "mcpz".
        conf = "mcpz\n    session-threads = 3\n    node-id = \"from-file\"\n"
        server = self.config_server(conf)
        self.ping(server.endpoint)
        self.assertEqual(len(server.stats().get("hosts", [])), 3)
        # Precedence: flags over environment over the file.
        server = self.config_server(conf, env={"MCPZ_SESSION_THREADS": "2"})
        self.assertEqual(len(server.stats().get("hosts", [])), 2)
        server = self.config_server(conf, "--session-threads", 1,
                                    env={"MCPZ_SESSION_THREADS": "2"})
        self.assertEqual(len(server.stats().get("hosts", [])), 1)

    def test_environment(self):
        ep = tcp_endpoint()
        server = self.start_server(listen=None, control=None, store=None, start=False)
        ctl = "ipc://%s/envctl" % server.tmp
        server.env.update({"MCPZ_LISTEN": ep, "MCPZ_CONTROL": ctl, "MCPZ_STORE": "none",
                           "MCPZ_SESSION_THREADS": "3", "MCPZ_LOG_LEVEL": "debug"})
        server.start()
        self.ping(ep)
        reply = control(ctl, {"command": "stats"})
        self.assertEqual(len(reply.get("hosts", [])), 3, reply)

    def test_flags_override_environment(self):
        env_port = free_port()
        flag_ep = tcp_endpoint()
        server = self.start_server("--session-threads", 1, listen=flag_ep, start=False)
        server.env.update({"MCPZ_LISTEN": "tcp://127.0.0.1:%d" % env_port,
                           "MCPZ_SESSION_THREADS": "3"})
        server.start()
        self.ping(flag_ep)
        self.assertFalse(port_is_bound(env_port),
                         "server listens on the MCPZ_LISTEN port despite --listen")
        reply = server.stats()
        self.assertEqual(len(reply.get("hosts", [])), 1, reply)


class Signals(ServerTestCase):

    def busy_server(self):
        server = self.start_server("--tool-threads", 2)
        c = self.client(server)
        c.checked = False           # the sleep may or may not be answered
        sids = c.open_many(5)
        for sid in sids:
            c.result(sid, "ping")
        c.call_tool(sids[0], "sleep", {"ms": 3000})
        c.call_tool(sids[1], "sleep", {"ms": 3000})
        time.sleep(0.2)
        return server, c

    def exits_zero(self, server, signum):
        t0 = time.monotonic()
        server.send_signal(signum)
        rc = server.wait(10)
        took = time.monotonic() - t0
        print("\n%s: status %r after %.2f s" % (signal.Signals(signum).name, rc, took))
        self.assertEqual(rc, 0, server.stderr_tail())
        self.assertLess(took, 8)

    def test_sigterm_idle(self):
        self.exits_zero(self.start_server(), signal.SIGTERM)

    def test_sigint_idle(self):
        self.exits_zero(self.start_server(), signal.SIGINT)

    def test_sigterm_busy(self):
        server, c = self.busy_server()
        self.exits_zero(server, signal.SIGTERM)
        self.check_no_duplicates(c)

    def test_sigint_busy(self):
        server, c = self.busy_server()
        self.exits_zero(server, signal.SIGINT)
        self.check_no_duplicates(c)

    def check_no_duplicates(self, c):
        c.pump(0.1)
        for key, answers in c.answers.items():
            self.assertEqual(len(answers), 1, answers)


if __name__ == "__main__":
    unittest.main()
