"""Persistent sessions (issue 3): restart survival with SQLite and
PostgreSQL, closed stays closed, TTL expiry through the cleanup command,
2,000 sessions refreshed in one cycle, the database stopped mid-run, two
nodes sharing PostgreSQL, and start-up refusals of bad stores."""

import os
import stat
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

from mcpztest import (MCPZD, REPO, ServerTestCase, clean_env, control, pg_url, psql, run_mcpzd, tcp_endpoint,
                      text_of)

PG_SH = os.path.join(REPO, "tests", "pg.sh")


class TempDir:
    def __init__(self, case):
        self.path = tempfile.mkdtemp(prefix="mcpz-store-")
        case.addCleanup(shutil.rmtree, self.path, True)


class StoreCase(ServerTestCase):
    """Helpers only; the tests live in the classes below."""

    def cleanup_report(self, server):
        reply = control(server.control_ep, {"command": "cleanup"}, timeout=30)
        self.assertTrue(reply.get("ok"), reply)
        report = reply["report"]
        for key in ("checked", "expired", "refreshed", "missing", "failed", "duration_ms"):
            self.assertIsInstance(report.get(key), int, report)
        return report

    def survive_restart(self, store, rows):
        """Opens sessions, kills mcpzd with SIGKILL, starts it again on the
        same store and endpoint, and uses them; a closed one stays closed."""
        endpoint = tcp_endpoint()
        server = self.start_server(listen=endpoint, store=store)
        c = self.client(server)
        kept = [c.open(version) for version in ("2024-11-05", "2025-03-26", "2025-06-18")]
        closed = c.open()
        for sid in kept + [closed]:
            self.assertEqual(text_of(c.tool(sid, "echo", {"text": "before"})), "before")
        self.assertEqual(c.close_session(closed).kind, "OK")
        last_eid = {sid: int(c.last_eid[sid]) for sid in kept}
        c.check()
        server.kill()
        stored = rows()
        for sid, version in zip(kept, ("2024-11-05", "2025-03-26", "2025-06-18")):
            self.assertEqual(stored.get(sid), version)
        self.assertNotIn(closed, stored)

        again = self.start_server(listen=endpoint, store=store)
        c.server = again
        for sid in kept:
            rid = c.call_tool(sid, "echo", {"text": "after"})
            m = c.wait(rid)
            self.assertEqual(text_of(self.assertResult(m)), "after")
            self.assertEqual(m.sid, sid)
            self.assertGreater(int(m.eid), last_eid[sid], "event ids must keep increasing")
        rid = c.request(closed, "ping")
        self.assertErr(c.wait(rid), 404, rid=rid)
        c.check()


class Persistence(StoreCase):

    def test_restart_sqlite(self):
        tmp = TempDir(self)
        path = os.path.join(tmp.path, "sessions.db")

        def rows():
            with sqlite3.connect(path) as db:
                return dict(db.execute("SELECT id, protocol_version FROM sessions"))
        self.survive_restart("sqlite:" + path, rows)

    def test_new_sqlite_files_are_private(self):
        """They hold session ids, which are bearer credentials: 0600, and
        so the WAL and shared-memory files SQLite makes beside them."""
        tmp = TempDir(self)
        path = os.path.join(tmp.path, "private.db")
        server = self.start_server(store="sqlite:" + path)
        c = self.client(server)
        c.open()
        for name in (path, path + "-wal", path + "-shm"):
            self.assertEqual(stat.S_IMODE(os.stat(name).st_mode), 0o600, name)

    @unittest.skipUnless(pg_url(), "no PostgreSQL test server")
    def test_restart_postgresql(self):
        url = pg_url()

        def rows():
            out = psql(url, "SELECT id || ' ' || protocol_version FROM sessions")
            return dict(line.split(" ") for line in out.splitlines() if line)
        self.survive_restart(url, rows)

    def test_ttl_expiry_via_cleanup(self):
        tmp = TempDir(self)
        path = os.path.join(tmp.path, "ttl.db")
        server = self.start_server("--session-ttl", "1", store="sqlite:" + path)
        c = self.client(server)
        idle = c.open()
        busy = c.open()
        #  A call in flight keeps its session alive however long it runs
        rid = c.call_tool(busy, "sleep", {"ms": 2500})
        time.sleep(1.6)
        report = self.cleanup_report(server)
        self.assertEqual(report["expired"], 1, report)
        self.assertEqual(report["failed"], 0, report)
        self.assertEqual(report["refreshed"], 1, report)
        self.assertEqual(text_of(self.assertResult(c.wait(rid, 10))), "slept 2500 ms")
        r2 = c.request(idle, "ping")
        self.assertErr(c.wait(r2), 404, rid=r2)
        with sqlite3.connect(path) as db:
            ids = [row[0] for row in db.execute("SELECT id FROM sessions")]
        self.assertNotIn(idle, ids)
        self.assertIn(busy, ids)

    def refresh_many(self, store, count=2000):
        server = self.start_server(store=store)
        c = self.client(server)
        sids = c.open_many(count, timeout=60)
        self.assertEqual(len(set(sids)), count)
        report = self.cleanup_report(server)
        self.assertEqual(report["checked"], count, report)
        self.assertEqual(report["refreshed"], count, report)
        self.assertEqual(report["missing"], 0, report)
        self.assertEqual(report["failed"], 0, report)
        self.assertEqual(report["expired"], 0, report)
        return server, c, sids

    def test_refresh_2000_sqlite(self):
        tmp = TempDir(self)
        self.refresh_many("sqlite:" + os.path.join(tmp.path, "many.db"))

    @unittest.skipUnless(pg_url(), "no PostgreSQL test server")
    def test_refresh_2000_postgresql_and_missing_rows(self):
        server, c, sids = self.refresh_many(pg_url())
        url = pg_url()
        #  Rows deleted behind mcpz's back (another node's kill) are dropped here
        psql(url, "DELETE FROM sessions WHERE id IN ('%s', '%s')" % (sids[0], sids[1]))
        report = self.cleanup_report(server)
        self.assertEqual(report["missing"], 2, report)
        self.assertEqual(report["refreshed"], len(sids) - 2, report)
        rid = c.request(sids[0], "ping")
        self.assertErr(c.wait(rid), 404, rid=rid)
        self.assertEqual(c.result(sids[2], "ping"), {})

    @unittest.skipUnless(pg_url(), "no PostgreSQL test server")
    def test_two_nodes_share_postgresql(self):
        """The session stays with the node that owns it: the other node
        forwards its frames there, and a close through either ends it."""
        url = pg_url()
        link_a, link_b = tcp_endpoint(), tcp_endpoint()
        a = self.start_server("--node-id", "node-a", "--node-listen", link_a, store=url)
        b = self.start_server("--node-id", "node-b", "--node-listen", link_b, store=url)
        ca, cb = self.client(a), self.client(b)
        sid = ca.open("2025-03-26")
        self.assertEqual(psql(url, "SELECT node FROM sessions WHERE id = '%s'" % sid), "node-a")
        self.assertEqual(text_of(cb.tool(sid, "echo", {"text": "on b"})), "on b")
        self.assertEqual(psql(url, "SELECT node FROM sessions WHERE id = '%s'" % sid), "node-a")
        self.assertEqual(cb.close_session(sid).kind, "OK")
        self.assertEqual(psql(url, "SELECT count(*) FROM sessions WHERE id = '%s'" % sid), "0")
        rid = ca.request(sid, "ping")
        self.assertErr(ca.wait(rid), 404, rid=rid)

    @unittest.skipUnless(pg_url(), "no PostgreSQL test server")
    def test_a_node_without_a_link_is_not_reached(self):
        """Without --node-listen nobody can forward to a node: a frame for
        its session on another node gets 503 naming it, never a second
        owner."""
        url = pg_url()
        a = self.start_server("--node-id", "lonely-a", store=url)
        b = self.start_server("--node-id", "lonely-b", store=url)
        sid = self.client(a).open()
        cb = self.client(b)
        rid = cb.request(sid, "ping")
        m = cb.wait(rid)
        self.assertErr(m, 503, rid=rid)
        self.assertIn("lonely-a", m.json["message"])
        self.assertEqual(psql(url, "SELECT node FROM sessions WHERE id = '%s'" % sid), "lonely-a")


class DatabaseOutage(StoreCase):
    """PostgreSQL stopped mid-run, for less than the node's lease: sessions
    keep being served from memory, new ones are refused with 503, cleanup
    counts failures and deletes nothing, and everything resumes when the
    server is back. (Longer than the lease, the node stops serving:
    test_cluster's node cut from the store.)"""

    def setUp(self):
        self.pg_dir = tempfile.mkdtemp(prefix="mcpz-pg-")
        subprocess.run([PG_SH, "start", self.pg_dir], check=True, capture_output=True, timeout=120)
        self.addCleanup(subprocess.run, [PG_SH, "stop", self.pg_dir], capture_output=True, timeout=60)
        with open(os.path.join(self.pg_dir, "url")) as f:
            self.url = f.read().strip()

    def pg_ctl(self, action):
        bins = sorted(d for d in os.listdir("/usr/lib/postgresql"))
        pg_ctl = "/usr/lib/postgresql/%s/bin/pg_ctl" % bins[-1]
        with open(os.path.join(self.pg_dir, "data")) as f:
            data = f.read().strip()         #  pg.sh keeps the server under /tmp
        argv = [pg_ctl, "-D", os.path.join(data, "db"), "-w", "-t", "60"]
        if action == "stop":
            argv += ["-m", "immediate", "stop"]
        else:
            port = self.url.rsplit(":", 1)[1].split("/")[0]
            argv += ["-l", os.path.join(data, "server.log"), "-o",
                     "-c listen_addresses=127.0.0.1 -c port=%s -c unix_socket_directories=%s"
                     % (port, data), "start"]
        if os.getuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        subprocess.run(argv, check=True, capture_output=True, timeout=90)

    def stall(self, signum):
        """SIGSTOP or SIGCONT every process of this PostgreSQL."""
        with open(os.path.join(self.pg_dir, "data")) as f:
            data = f.read().strip()
        with open(os.path.join(data, "db", "postmaster.pid")) as f:
            postmaster = int(f.readline())
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True,
                                  text=True).stdout.split()
        for pid in [postmaster] + [int(p) for p in children]:
            os.kill(pid, signum)

    def test_a_503_of_the_store_means_not_done(self):
        """With PostgreSQL stalled, initialize and CLOSE are answered 503 once
        their deadline passes, and a worker does not run them later; only
        the batch PostgreSQL had already received may finish when it comes
        back (README: what a store 503 means)."""
        server = self.start_server("--store-timeout", "300", "--lease-ms", "60000", "--db-workers", "1",
                                   "--session-threads", "1", store=self.url)
        c = self.client(server)
        sids = c.open_many(4)
        self.stall(signal.SIGSTOP)
        self.addCleanup(self.stall, signal.SIGCONT)
        #  The first goes to PostgreSQL alone; what comes after waits for it
        c.send("CLOSE", sids[0], b"")
        time.sleep(0.2)
        c.send("CLOSE", sids[1], b"")
        rids = [c.request("", "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                             "clientInfo": {"name": "s", "version": "1"}})
                for _ in range(4)]
        for rid in rids:
            self.assertErr(c.wait(rid, 15), 503, rid=rid)
        for _ in range(2):
            m = c.expect(lambda m: m.kind == "ERR" and m.sid in sids[:2], 15, "CLOSE's 503")
            self.assertEqual(m.status, 503, m)
        self.stall(signal.SIGCONT)
        time.sleep(3)
        rows = psql(self.url, "SELECT id FROM sessions").split()
        orphans = [r for r in rows if r not in sids]
        closed = [s for s in sids[:2] if s not in rows]
        self.assertLessEqual(len(orphans) + len(closed), 1, (orphans, closed))
        self.assertIn(sids[2], rows)
        expired = sum(w.get("expired", 0) for w in server.stats()["db"])
        print("after a stall: %d late rows, %d late deletes, %d requests not run" %
              (len(orphans), len(closed), expired))

    def test_an_outage_does_not_flood_the_log(self):
        server = self.start_server("--store-timeout", "300", "--lease-ms", "60000",
                                   "--session-threads", "1", store=self.url)
        c = self.client(server)
        c.open()
        self.pg_ctl("stop")
        started = time.monotonic()
        for _ in range(3):
            for m in [c.wait(rid, 15) for rid in [c.request("", "initialize", {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "f", "version": "1"}}) for _ in range(100)]]:
                self.assertErr(m, 503)
            time.sleep(0.7)
        seconds = time.monotonic() - started
        lines = [l for l in server.stderr_text().splitlines() if "store request for session" in l]
        self.assertLessEqual(len(lines), seconds + 2, lines)
        self.assertTrue(any("more like it" in l for l in lines), lines)
        self.pg_ctl("start")

    def test_outage(self):
        server = self.start_server("--store-timeout", "1000", "--lease-ms", "20000", store=self.url)
        c = self.client(server)
        sids = c.open_many(50)
        self.pg_ctl("stop")
        #  Served from memory
        for sid in sids[:10]:
            self.assertEqual(text_of(c.tool(sid, "echo", {"text": "still here"})), "still here")
        #  A new session cannot be persisted: refused, not answered
        m = c.initialize()
        self.assertErr(m, 503)
        self.assertIn("retry_after_ms", m.json)
        report = self.cleanup_report(server)
        self.assertEqual(report["failed"], 50, report)
        self.assertEqual(report["refreshed"], 0, report)
        self.assertEqual(report["expired"], 0, report)
        for sid in sids:
            self.assertEqual(c.result(sid, "ping"), {})

        self.pg_ctl("start")
        self.assertEqual(int(psql(self.url, "SELECT count(*) FROM sessions")), 50)
        deadline = time.monotonic() + 20
        while True:
            report = self.cleanup_report(server)
            if report["failed"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(report["refreshed"], 50, report)
        self.assertEqual(report["failed"], 0, report)
        sid = c.open()
        self.assertEqual(psql(self.url, "SELECT count(*) FROM sessions WHERE id = '%s'" % sid), "1")
        self.assertEqual(c.close_session(sid).kind, "OK")


class BadStores(ServerTestCase):

    def assertRefused(self, store, words, *extra):
        status, _, err = run_mcpzd(["--listen", tcp_endpoint(), "--store", store] + list(extra),
                                   timeout=30)
        self.assertEqual(status, 2, err)
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, err)
        for word in words:
            self.assertIn(word, lines[0])

    def test_bad_url(self):
        self.assertRefused("mysql://localhost/x", ["--store"])

    def test_unreachable_server(self):
        self.assertRefused("postgresql://127.0.0.1:1/x", ["--store", "127.0.0.1"],
                           "--store-timeout", "2000")

    def test_not_a_database(self):
        tmp = TempDir(self)
        path = os.path.join(tmp.path, "notes.txt")
        with open(path, "w") as f:
            f.write("these are notes, not a database " * 20)
        self.assertRefused("sqlite:" + path, [path])
        with open(path) as f:
            self.assertTrue(f.read().startswith("these are notes"), "file was changed")

    def test_foreign_sqlite_database(self):
        tmp = TempDir(self)
        path = os.path.join(tmp.path, "other.db")
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE invoices (id integer)")
        self.assertRefused("sqlite:" + path, ["not an mcpz database"])
        #  Refused means untouched: not even switched to WAL
        with sqlite3.connect(path) as db:
            self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "delete")
        self.assertFalse(os.path.exists(path + "-wal"))

    def test_a_read_only_file_is_refused_at_start(self):
        tmp = TempDir(self)
        os.chmod(tmp.path, 0o777)
        path = os.path.join(tmp.path, "ro.db")
        status, _, err = run_mcpzd(["--listen", tcp_endpoint(), "--store", "sqlite:" + path,
                                    "--control", "ipc://%s/made" % tmp.path], timeout=3)
        self.assertIsNone(status, err)      # made the file, then ran until killed
        for name in os.listdir(tmp.path):
            if name != "ro.db":
                os.unlink(os.path.join(tmp.path, name))
        os.chmod(path, 0o444)
        before = open(path, "rb").read()
        #  root writes anything: the refusal is tried as nobody
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.geteuid() == 0 else []
        run = subprocess.run(prefix + [MCPZD, "--listen", tcp_endpoint(), "--store", "sqlite:" + path,
                                       "--control", "ipc://%s/ctl" % tmp.path],
                             capture_output=True, text=True, timeout=30, cwd=tmp.path, env=clean_env())
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("read-only", run.stderr)
        self.assertEqual(open(path, "rb").read(), before)
        self.assertEqual(sorted(os.listdir(tmp.path)), ["ro.db"])

    def test_newer_schema(self):
        tmp = TempDir(self)
        path = os.path.join(tmp.path, "future.db")
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE mcpz_schema (version integer NOT NULL)")
            db.execute("INSERT INTO mcpz_schema VALUES (99)")
        self.assertRefused("sqlite:" + path, ["newer"])
        with sqlite3.connect(path) as db:
            self.assertEqual(db.execute("SELECT version FROM mcpz_schema").fetchall(), [(99,)])

    def test_default_store_starts(self):
        server = self.start_server(store=None)
        c = self.client(server)
        sid = c.open()
        self.assertTrue(os.path.exists(os.path.join(server.tmp, "mcpz.db")))
        with sqlite3.connect(os.path.join(server.tmp, "mcpz.db")) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM sessions WHERE id = ?", (sid,)).fetchone()[0], 1)


if __name__ == "__main__":
    unittest.main()
