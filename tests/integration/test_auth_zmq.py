"""Who may speak MCPZ/1 (issue 14): CURVE on the client front.

With --curve-cert and --curve-clients, only clients whose public key is in
the allow-list directory get through the handshake; the list is read again
on SIGHUP. A session belongs to the key that opened it: another key naming
it gets 404, as for a session that does not exist, and LISTEN replays
nothing to it. The binding is stored with the session, so it outlives a
restart. Off loopback, mcpzd refuses to start without authentication
unless --allow-unauthenticated says so.
"""

import os
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

from mcpztest import MCPZCTL, ServerTestCase, run_mcpzd, tcp_endpoint, text_of


def keygen(path):
    """A certificate made by mcpzctl keygen: (public, secret) Z85 keys."""
    subprocess.run([MCPZCTL, "keygen", path], check=True, stdout=subprocess.DEVNULL)
    keys = {}
    with open(path + "_secret") as f:
        for line in f:
            name, _, value = line.strip().partition(" = ")
            if name in ("public-key", "secret-key"):
                keys[name] = value.strip('"')
    return keys["public-key"], keys["secret-key"]


class Curve(ServerTestCase):

    def setUp(self):
        self.server = self.start_server("--curve-cert", "{tmp}/server", "--curve-clients",
                                        "{tmp}/clients", "--max-client-sessions", 3,
                                        "--session-threads", 1, start=False, store="sqlite:s.db")
        tmp = self.server.tmp
        os.mkdir(os.path.join(tmp, "clients"))
        self.server_key = keygen(os.path.join(tmp, "server"))[0]
        self.keys = {}
        for name in ("alice", "carol", "bob"):
            self.keys[name] = keygen(os.path.join(tmp, name))
        for name in ("alice", "carol"):
            os.link(os.path.join(tmp, name), os.path.join(tmp, "clients", name))
        self.server.start()

    def as_(self, name, label=None):
        public, secret = self.keys[name]
        return self.client(self.server, label or name, curve=(public, secret, self.server_key))

    def assertShutOut(self, c):
        rid = c.request("", "ping")
        self.assertRaises(AssertionError, c.wait, rid, 1.0)
        c.checked = False

    def test_an_allowed_key_is_served(self):
        alice = self.as_("alice")
        sid = alice.open()
        self.assertEqual(text_of(alice.tool(sid, "echo", {"text": "hi"})), "hi")

    def test_other_keys_and_no_key_get_nothing(self):
        self.assertShutOut(self.as_("bob"))
        self.assertShutOut(self.client(self.server, "plain"))
        public, secret = self.keys["alice"]
        self.assertShutOut(self.client(self.server, "wrong server key",
                                       curve=(public, secret, self.keys["bob"][0])))

    def test_a_session_belongs_to_the_key_that_opened_it(self):
        alice, carol = self.as_("alice"), self.as_("carol")
        sid = alice.open()
        alice.tool(sid, "echo", {"text": "kept"})
        for method in ("ping", "tools/list"):
            rid = carol.request(sid, method)
            self.assertErr(carol.wait(rid), 404, rid=rid, sid=sid)
        reply, replayed = carol.listen_replay(sid)
        self.assertEqual((reply.kind, replayed), ("ERR", []))
        self.assertEqual(reply.status, 404, reply)
        self.assertEqual(carol.close_session(sid).kind, "ERR")
        #  Nothing of it changed: still alice's, still open
        reply, replayed = alice.listen_replay(sid)
        self.assertEqual(reply.kind, "OK")
        self.assertTrue(replayed)
        self.assertEqual(text_of(alice.tool(sid, "echo", {"text": "still"})), "still")

    def test_a_key_is_one_client_on_every_connection(self):
        first, second = self.as_("alice", "alice 1"), self.as_("alice", "alice 2")
        first.open()
        second.open()
        first.open()
        for c in (first, second):
            m = c.initialize()
            self.assertErr(m, 429, sid="")
        self.as_("carol").open()

    def test_the_binding_outlives_a_restart(self):
        alice = self.as_("alice")
        sid = alice.open()
        alice.close()
        self.server.stop()
        self.server.start()
        carol = self.as_("carol")
        rid = carol.request(sid, "ping")
        self.assertErr(carol.wait(rid), 404, rid=rid)
        alice = self.as_("alice")
        self.assertEqual(text_of(alice.tool(sid, "echo", {"text": "back"})), "back")
        db = sqlite3.connect(os.path.join(self.server.tmp, "s.db"))
        self.addCleanup(db.close)
        principal, = db.execute("SELECT principal FROM sessions WHERE id = ?", (sid,)).fetchone()
        self.assertEqual(principal, "curve:" + self.keys["alice"][0])

    def test_sighup_reads_the_allow_list_again(self):
        tmp = self.server.tmp
        os.link(os.path.join(tmp, "bob"), os.path.join(tmp, "clients", "bob"))
        os.unlink(os.path.join(tmp, "clients", "alice"))
        alice = self.as_("alice")
        sid = alice.open()          # still the old list
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "2 client keys allowed" not in self.server.stderr_text():
            self.assertLess(time.monotonic(), deadline, self.server.stderr_tail())
            time.sleep(0.05)
        bob = self.as_("bob")
        self.assertEqual(text_of(bob.tool(bob.open(), "echo", {"text": "b"})), "b")
        self.assertShutOut(self.as_("alice", "alice again"))
        #  A connection made before keeps its handshake
        self.assertEqual(text_of(alice.tool(sid, "echo", {"text": "a"})), "a")


class Unauthenticated(ServerTestCase):

    def refused(self, *args):
        status, _, stderr = run_mcpzd(["--store", "none"] + list(args))
        self.assertEqual(status, 2, stderr)
        return stderr

    def test_off_loopback_needs_authentication(self):
        port = tcp_endpoint().rsplit(":", 1)[1]
        stderr = self.refused("--listen", "tcp://0.0.0.0:%s" % port)
        self.assertIn("--curve-cert", stderr)
        self.assertIn("--allow-unauthenticated", stderr)
        self.refused("--listen", "tcp://127.0.0.1:1;0.0.0.0:%s" % port)
        self.refused("--listen", "tcp://*:%s" % port)
        stderr = self.refused("--store", "sqlite:/tmp/x.db", "--node-listen", "tcp://0.0.0.0:%s" % port,
                              "--node-advertise", "tcp://127.0.0.1:%s" % port)
        self.assertIn("--node-curve-cert", stderr)
        self.assertIn("go together", self.refused("--curve-cert", "/nonexistent"))

    def test_allowed_off_loopback_when_asked(self):
        port = tcp_endpoint().rsplit(":", 1)[1]
        server = self.start_server("--allow-unauthenticated", listen="tcp://0.0.0.0:%s" % port)
        c = self.client("tcp://127.0.0.1:%s" % port)
        c.server = server
        self.assertEqual(text_of(c.tool(c.open(), "echo", {"text": "open"})), "open")

    def test_a_bad_certificate_or_allow_list_stops_the_start(self):
        self.assertIn("not a certificate with its secret key",
                      self.refused("--curve-cert", "/nonexistent", "--curve-clients", tempfile.mkdtemp()))
        self.assertIn("--curve-clients /nonexistent",
                      self.refused("--curve-cert", "/nonexistent", "--curve-clients", "/nonexistent"))


class SchemaThree(ServerTestCase):
    """A version 2 file gets sessions.principal in place; its sessions
    stay open to unauthenticated clients, as before."""

    V2 = """
    CREATE TABLE mcpz_schema (version integer NOT NULL);
    INSERT INTO mcpz_schema VALUES (2);
    CREATE TABLE sessions (id text PRIMARY KEY, node text NOT NULL, created_at bigint NOT NULL,
        last_accessed bigint NOT NULL, protocol_version text NOT NULL, client_info text NOT NULL,
        capabilities text NOT NULL, state text NOT NULL, epoch integer NOT NULL DEFAULT 0)
        WITHOUT ROWID;
    CREATE TABLE nodes (id text PRIMARY KEY, endpoint text NOT NULL, incarnation text NOT NULL,
        started_at bigint NOT NULL, lease_until bigint NOT NULL) WITHOUT ROWID;
    """

    def test_version_2_moves_to_3(self):
        server = self.start_server("--node-id", "old", store="sqlite:v2.db", start=False)
        path = os.path.join(server.tmp, "v2.db")
        sid = "0123456789abcdef0123456789abcdef"
        now = int(time.time() * 1000)
        db = sqlite3.connect(path)
        db.executescript(self.V2)
        db.execute("INSERT INTO sessions VALUES (?, 'old', ?, ?, '2025-11-25', "
                   "'{\"name\":\"t\",\"version\":\"1\"}', '{}', 'open', 0)", (sid, now, now))
        db.commit()
        db.close()
        server.start()
        c = self.client(server)
        self.assertEqual(text_of(c.tool(sid, "echo", {"text": "v2"})), "v2")
        db = sqlite3.connect(path)
        self.addCleanup(db.close)
        self.assertEqual(db.execute("SELECT version FROM mcpz_schema").fetchall(), [(3,)])
        self.assertEqual(db.execute("SELECT principal FROM sessions").fetchall(), [("",)])


if __name__ == "__main__":
    unittest.main()
