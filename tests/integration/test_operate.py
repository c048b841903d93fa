"""Operating mcpz (issue 5): every control command and its errors over a
real control socket, mcpzctl exit codes and output, paging across three
pages while sessions are being opened, metrics checked against counts the
test caused, kill, drain, shutdown and SIGTERM with calls in flight, the
effective configuration and where each setting came from, and the
control endpoint's security rules."""

import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import tempfile
import threading
import time
import unittest

from httptest import Http

from mcpztest import (ServerTestCase, init_params, control, free_port, run_ctl, run_mcpzd,
                      tcp_endpoint, text_of)


def parse_metrics(text):
    """{(name, frozenset(labels)): value} and the families with HELP/TYPE."""
    samples, helps, types = {}, set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        elif line.strip():
            m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
            assert m, "bad exposition line: %r" % line
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
            samples[(m.group(1), labels)] = float(m.group(4))
    return samples, helps, types


class Commands(ServerTestCase):

    def ask(self, server, **request):
        return control(server.control_ep, request, timeout=10)

    def test_every_command_and_its_errors(self):
        server = self.start_server()
        c = self.client(server)
        sid = c.open("2025-06-18")
        self.assertTrue(self.ask(server, command="stats")["ok"])
        reply = self.ask(server, command="session", id=sid)
        self.assertTrue(reply["ok"], reply)
        self.assertEqual(reply["id"], sid)
        self.assertEqual(reply["protocol_version"], "2025-06-18")
        self.assertEqual(reply["client"]["name"], "mcpztest")
        self.assertIsInstance(reply["last_activity"], int)
        self.assertEqual(reply["inflight"], 0)
        page = self.ask(server, command="sessions")
        self.assertEqual([s["id"] for s in page["sessions"]], [sid])
        self.assertIsNone(page["next_cursor"])
        self.assertTrue(self.ask(server, command="cleanup")["ok"])
        self.assertIn("mcpz_sessions_open", self.ask(server, command="metrics")["text"])
        self.assertEqual(self.ask(server, command="config")["settings"]["store"]["value"], "none")
        #  Errors say what is wrong
        for request, words in (
                ({"command": "session"}, "id"),
                ({"command": "session", "id": "zz"}, "id"),
                ({"command": "session", "id": "0" * 32}, "no such session"),
                ({"command": "kill", "id": "0" * 32}, "no such session"),
                ({"command": "sessions", "limit": 0}, "limit"),
                ({"command": "sessions", "limit": "5"}, "limit"),
                ({"command": "sessions", "cursor": "nonsense"}, "cursor"),
                ({"command": "teleport"}, "teleport"),
                ({"nothing": 1}, "command")):
            reply = self.ask(server, **request)
            self.assertIs(reply["ok"], False, (request, reply))
            self.assertIn(words, reply["error"], (request, reply))
        reply = control(server.control_ep, b"{not json", timeout=5)
        self.assertIs(reply["ok"], False)

    def test_kill_ends_the_session_and_answers_its_calls(self):
        server = self.start_server("--store", "sqlite:{tmp}/kill.db", store=None)
        c = self.client(server)
        sid = c.open()
        other = c.open()
        rid = c.call_tool(sid, "sleep", {"ms": 3000})
        time.sleep(0.1)
        reply = self.ask(server, command="kill", id=sid)
        self.assertTrue(reply["ok"], reply)
        self.assertErr(c.wait(rid), 404, rid=rid, sid=sid)
        r2 = c.request(sid, "ping")
        self.assertErr(c.wait(r2), 404, rid=r2)
        self.assertEqual(c.result(other, "ping"), {})
        with sqlite3.connect(os.path.join(server.tmp, "kill.db")) as db:
            ids = [row[0] for row in db.execute("SELECT id FROM sessions")]
        self.assertEqual(ids, [other])
        self.assertIs(self.ask(server, command="kill", id=sid)["ok"], False)

    def test_paging_while_sessions_open(self):
        server = self.start_server()
        c = self.client(server)
        first = set(c.open_many(250))
        seen, cursor, pages = [], None, 0
        while True:
            request = {"command": "sessions", "limit": 100}
            if cursor:
                request["cursor"] = cursor
            page = control(server.control_ep, request, timeout=10)
            self.assertTrue(page["ok"], page)
            ids = [s["id"] for s in page["sessions"]]
            self.assertEqual(ids, sorted(ids))
            self.assertLessEqual(len(ids), 100)
            seen += ids
            pages += 1
            #  Sessions come and go between pages
            c.open_many(25)
            cursor = page["next_cursor"]
            if cursor is None:
                break
            self.assertLess(pages, 10)
        self.assertGreaterEqual(pages, 3)
        self.assertEqual(len(seen), len(set(seen)), "a session was listed twice")
        self.assertTrue(first <= set(seen), "a session open all along was missed")

    def test_metrics_match_what_the_test_did(self):
        server = self.start_server("--request-timeout", "200")
        c = self.client(server)
        sids = c.open_many(7)
        for sid in sids:
            c.result(sid, "ping")
        for n in range(5):
            c.tool(sids[0], "echo", {"text": str(n)})
        rid = c.call_tool(sids[1], "sleep", {"ms": 1000})
        c.wait(rid)                                  # times out at 200 ms
        r404 = c.request("f" * 32, "ping")
        c.wait(r404)
        self.assertEqual(c.close_session(sids[6]).kind, "OK")
        text = control(server.control_ep, {"command": "metrics"}, 10)["text"]
        samples, helps, types = parse_metrics(text)
        for name in types:
            self.assertIn(name, helps)
        def value(name, **labels):
            return samples[(name, frozenset(labels.items()))]
        self.assertEqual(value("mcpz_sessions_open"), 6)
        self.assertEqual(value("mcpz_sessions_opened_total"), 7)
        self.assertEqual(value("mcpz_sessions_closed_total"), 1)
        self.assertEqual(value("mcpz_requests_total", method="ping", outcome="ok"), 7)
        self.assertEqual(value("mcpz_requests_total", method="tools/call", outcome="ok"), 5)
        self.assertEqual(value("mcpz_requests_total", method="tools/call", outcome="timeout"), 1)
        self.assertEqual(value("mcpz_requests_total", method="initialize", outcome="ok"), 7)
        self.assertEqual(value("mcpz_timeouts_total"), 1)
        self.assertEqual(value("mcpz_refusals_total", status="404"), 1)
        self.assertEqual(types["mcpz_request_duration_seconds"], "histogram")
        buckets = sorted((float("inf") if dict(k[1])["le"] == "+Inf" else float(dict(k[1])["le"]), v)
                         for k, v in samples.items()
                         if k[0] == "mcpz_request_duration_seconds_bucket"
                         and dict(k[1]).get("method") == "ping")
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), "buckets must be cumulative")
        self.assertEqual(counts[-1], 7)
        self.assertEqual(value("mcpz_request_duration_seconds_count", method="ping"), 7)
        self.assertEqual(value("mcpz_metrics_partial"), 0)


class ControlFlood(ServerTestCase):

    def test_a_flood_of_stats_never_stalls_clients(self):
        """Thousands of pipelined control requests: each gets one answer
        (figures, or a refusal when too many are in progress), and clients
        are served all along."""
        import zmq
        from mcpztest import CTX
        server = self.start_server()
        c = self.client(server)
        sid = c.open()
        socks = []
        for _ in range(6):
            sock = CTX.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(server.control_ep)
            self.addCleanup(sock.close)
            socks.append(sock)
        for n in range(3000):
            socks[n % 6].send_multipart([b"", b'{"command":"stats"}'])
        self.assertEqual(c.result(sid, "ping", timeout=5), {})
        answers, refused = 0, 0
        deadline = time.monotonic() + 30
        poller = zmq.Poller()
        for sock in socks:
            poller.register(sock, zmq.POLLIN)
        while answers < 3000 and time.monotonic() < deadline:
            for sock, _ in poller.poll(500):
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    reply = json.loads(frames[-1])
                    answers += 1
                    refused += not reply["ok"]
        self.assertEqual(answers, 3000)
        print("control flood: 3000 answered, %d refused as too many in progress" % refused)
        m = c.initialize()
        self.assertResult(m)
        self.assertTrue(control(server.control_ep, {"command": "stats"})["ok"])


class Drain(ServerTestCase):

    def test_drain_refuses_new_sessions_and_serves_old_ones(self):
        server = self.start_server()
        c = self.client(server)
        sid = c.open()
        reply = control(server.control_ep, {"command": "drain"})
        self.assertTrue(reply["ok"], reply)
        m = c.initialize()
        self.assertErr(m, 503, sid="")
        self.assertGreater(m.json["retry_after_ms"], 0)
        self.assertEqual(text_of(c.tool(sid, "echo", {"text": "still"})), "still")
        stats = control(server.control_ep, {"command": "stats"})
        self.assertTrue(stats["supervisor"]["draining"])

    def shutdown_with_calls_in_flight(self, stop):
        server = self.start_server("--drain-timeout", "10000", "--store", "sqlite:{tmp}/d.db", store=None)
        c = self.client(server)
        sids = c.open_many(5)
        rids = [c.call_tool(sid, "sleep", {"ms": 800}) for sid in sids]
        time.sleep(0.1)
        started = time.monotonic()
        stop(server)
        #  Every call in flight is answered with its result
        for rid in rids:
            self.assertEqual(text_of(self.assertResult(c.wait(rid, 10))), "slept 800 ms")
        self.assertEqual(server.wait(10), 0, server.stderr_tail())
        print("shutdown drained 5 calls and exited after %.2f s" % (time.monotonic() - started))
        with sqlite3.connect(os.path.join(server.tmp, "d.db")) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM sessions").fetchone()[0], 5)

    def test_shutdown_command_with_calls_in_flight(self):
        self.shutdown_with_calls_in_flight(
            lambda server: self.assertTrue(control(server.control_ep, {"command": "shutdown"})["ok"]))

    def test_sigterm_with_calls_in_flight(self):
        self.shutdown_with_calls_in_flight(lambda server: server.send_signal(signal.SIGTERM))

    def test_a_drain_timeout_answers_every_request_in_flight(self):
        port = free_port()
        server = self.start_server("--drain-timeout", "500", "--tool-threads", "2", "--http", port)
        c = self.client(server)
        sids = c.open_many(10)
        #  Two on workers, the rest queued behind them, a few over HTTP
        rids = [c.call_tool(sid, "sleep", {"ms": 20000}) for sid in sids for _ in range(5)]
        answers = []

        def over_http():
            web = Http(port, timeout=15)
            web.open()
            answers.append(web.tool("sleep", {"ms": 20000}))
            web.close()
        threads = [threading.Thread(target=over_http) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        for rid in rids:
            self.assertErr(c.wait(rid, 10), 503, rid=rid)
        for thread in threads:
            thread.join(15)
        self.assertEqual(len(answers), 3)
        for answer in answers:
            self.assertEqual(answer.status, 503, answer)
        self.assertEqual(server.wait(10), 0, server.stderr_tail())
        self.assertIn("work in flight was answered 503", server.stderr_text())

    def test_second_sigterm_exits_at_once(self):
        server = self.start_server("--drain-timeout", "30000")
        c = self.client(server)
        sid = c.open()
        c.call_tool(sid, "sleep", {"ms": 20000})
        c.checked = False
        time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        self.assertTrue(server.running(), "the first SIGTERM must drain, not exit")
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        status = server.wait(5)
        self.assertIsNotNone(status)
        self.assertNotEqual(status, 0)
        self.assertLess(time.monotonic() - started, 2.0)


class Mcpzctl(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def ctl(self, *args):
        return run_ctl(["--control", self.server.control_ep, "--timeout", "3000"] + list(args))

    def test_exit_codes(self):
        self.assertEqual(self.ctl("stats").returncode, 0)
        self.assertEqual(self.ctl("session", "0" * 32).returncode, 1)
        self.assertEqual(self.ctl("session").returncode, 2)
        self.assertEqual(self.ctl("--bogus", "stats").returncode, 2)
        r = run_ctl(["--control", "ipc:///nonexistent/x", "--timeout", "300", "stats"])
        self.assertEqual(r.returncode, 3)

    def test_human_and_json(self):
        c = self.client(self.server)
        sid = c.open()
        r = self.ctl("sessions")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn(sid, r.stdout)
        self.assertIn("version", r.stdout.splitlines()[0])
        r = self.ctl("--json", "session", sid)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('"protocol_version"', r.stdout)
        r = self.ctl("metrics")
        self.assertIn("# TYPE mcpz_sessions_open gauge", r.stdout)
        r = self.ctl("config")
        self.assertRegex(r.stdout, r"store\s+none\s+flag")

    def test_a_clients_control_bytes_never_reach_the_terminal(self):
        c = self.client(self.server)
        m = c.initialize(params=init_params(name="evil\x1b[2J\rname"))
        self.assertIn("result", m.json)
        r = self.ctl("sessions")
        self.assertEqual(r.returncode, 0, r)
        self.assertNotIn("\x1b", r.stdout)
        self.assertNotIn("\r", r.stdout)
        self.assertIn("evil\\x1b[2J\\x0dname", r.stdout)
        r = self.ctl("session", m.sid)
        self.assertNotIn("\x1b", r.stdout)

    def test_help(self):
        r = run_ctl(["--help"])
        self.assertEqual(r.returncode, 0)
        for command in ("stats", "sessions", "session", "kill", "cleanup", "metrics",
                        "drain", "shutdown", "config", "call"):
            self.assertIn(command, r.stdout)
            r2 = run_ctl(["help", command])
            self.assertEqual(r2.returncode, 0, r2)
            self.assertIn("mcpzctl " + command, r2.stdout)
        self.assertEqual(run_ctl(["sessions", "--help"]).returncode, 0)

    def test_control_from_environment(self):
        r = run_ctl(["--timeout", "3000", "stats"], env={"MCPZ_CONTROL": self.server.control_ep})
        self.assertEqual(r.returncode, 0, r)


class Settings(ServerTestCase):

    def test_sources_of_every_setting(self):
        server = self.start_server("--max-inflight", "5", "--config", "{tmp}/mcpz.cfg",
                                   env={"MCPZ_SESSION_TTL": "77", "MCPZ_MAX_INFLIGHT": "9"},
                                   start=False)
        with open(os.path.join(server.tmp, "mcpz.cfg"), "w") as f:
            f.write("mcpz\n    cleanup-interval = 99\n    session-ttl = 11\n")
        server.start()
        settings = control(server.control_ep, {"command": "config"})["settings"]
        self.assertEqual(settings["max-inflight"], {"value": 5, "source": "flag"})
        self.assertEqual(settings["session-ttl"], {"value": 77, "source": "env"})
        self.assertEqual(settings["cleanup-interval"], {"value": 99, "source": "file"})
        self.assertEqual(settings["request-timeout"], {"value": 30000, "source": "default"})

    def test_example_settings_file_loads(self):
        from mcpztest import REPO
        server = self.start_server("--config", os.path.join(REPO, "deploy", "mcpz.cfg"))
        settings = control(server.control_ep, {"command": "config"})["settings"]
        self.assertEqual(settings["session-ttl"], {"value": 1800, "source": "file"})
        self.assertEqual(settings["store"]["source"], "flag")

    def test_no_tool_arguments_in_logs(self):
        server = self.start_server("--log-level", "info")
        c = self.client(server)
        sid = c.open()
        c.tool(sid, "echo", {"text": "secret-s3cr3t"})
        c.tool(sid, "fail", {"message": "secret-f41l"})
        server.stop()
        self.assertNotIn("s3cr3t", server.stderr_text())
        self.assertNotIn("f41l", server.stderr_text())


class ManyThreads(ServerTestCase):

    def test_many_actors_start(self):
        """A big machine's defaults: many hosts, workers and DB workers
        must fit CZMQ's socket cap (it aborts past it)."""
        server = self.start_server("--session-threads", "32", "--tool-threads", "64",
                                   "--db-workers", "16", "--store", "sqlite:{tmp}/many.db",
                                   store=None)
        c = self.client(server)
        sids = c.open_many(20)
        for sid in sids:
            self.assertEqual(c.result(sid, "ping"), {})
        self.assertTrue(control(server.control_ep, {"command": "metrics"})["ok"])


class ControlSecurity(ServerTestCase):

    def test_tcp_control_must_be_loopback(self):
        status, _, err = run_mcpzd(["--listen", tcp_endpoint(), "--store", "none",
                                    "--control", "tcp://0.0.0.0:%d" % free_port()])
        self.assertEqual(status, 2, err)
        self.assertIn("--control", err)
        self.assertIn("loopback", err)

    def test_control_endpoint_parsed_not_prefixed(self):
        """libzmq reads "SOURCE;ADDRESS" and other transports: a prefix
        check let tcp://127.0.0.1:1;0.0.0.0:P and ws:// bind everywhere."""
        port = free_port()
        for endpoint, says in (("tcp://127.0.0.1:1;0.0.0.0:%d" % port, "loopback"),
                               ("tcp://127.0.0.1.example.com:%d" % port, "loopback"),
                               ("tcp://lo:%d" % port, "loopback"),
                               ("ws://0.0.0.0:%d" % port, "tcp:// or ipc://"),
                               ("inproc://control", "tcp:// or ipc://")):
            status, _, err = run_mcpzd(["--listen", tcp_endpoint(), "--store", "none", "--control", endpoint])
            self.assertEqual(status, 2, (endpoint, err))
            self.assertIn(says, err)

    def test_a_symbolic_link_in_place_of_the_control_directory(self):
        """A planted .mcpzd link must not make mcpzd chmod its target or bind
        over a file there."""
        tmp = tempfile.mkdtemp(prefix="mcpz-it-")
        self.addCleanup(shutil.rmtree, tmp, True)
        target = os.path.join(tmp, "elsewhere")
        os.mkdir(target, 0o755)
        with open(os.path.join(target, "control"), "w") as f:
            f.write("precious")
        os.symlink(target, os.path.join(tmp, ".mcpzd"))
        status, _, err = run_mcpzd(["--listen", tcp_endpoint(), "--store", "none"], cwd=tmp)
        self.assertEqual(status, 2, err)
        self.assertIn("not a directory of ours", err)
        self.assertEqual(stat.S_IMODE(os.stat(target).st_mode), 0o755)
        with open(os.path.join(target, "control")) as f:
            self.assertEqual(f.read(), "precious")

    def test_the_control_socket_file_goes_with_mcpzd(self):
        server = self.start_server()
        path = server.control_ep[len("ipc://"):]
        self.assertTrue(os.path.exists(path))
        self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(path))

    def test_tcp_control_on_loopback(self):
        endpoint = "tcp://127.0.0.1:%d" % free_port()
        server = self.start_server(control=endpoint)
        self.assertTrue(control(endpoint, {"command": "stats"})["ok"])


if __name__ == "__main__":
    unittest.main()
