"""A cluster on one machine (issue 13): three mcpzd and one PostgreSQL on
loopback, the process-level twin of deploy/cluster-test.

Every session has one owner node; a frame reaching another node is
forwarded to it over the node link and answered from there. A node killed
with SIGKILL mid-load loses its lease within --lease-ms and its sessions
continue on the others; a node cut from PostgreSQL stops serving once its
lease lapses, and another takes its sessions. Nothing is answered twice,
nothing is left unanswered by a node that is alive.
"""

import json
import os
import random
import shutil
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from httptest import Http

import zmq

from clusterload import kill_mid_load
from mcpztest import MCPZCTL, REPO, Client, ServerTestCase, control, free_port, pg_url, psql, tcp_endpoint, text_of

LEASE_MS = 1500


class Proxy:
    """A TCP relay to PostgreSQL that a test can cut (nothing passes, no
    connection is closed: a partition, not a refusal) and heal."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.cut = False
        self.stopped = False
        self.pairs = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.pairs.append((client, server))
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, a, b):
        peers = {a: b, b: a}
        try:
            while not self.stopped:
                ready, _, _ = select.select([a, b], [], [], 0.1)
                if self.cut:
                    continue        # bytes wait in the kernel, unread
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except OSError:
            pass
        finally:
            a.close()
            b.close()

    def close(self):
        self.stopped = True
        self.listener.close()


@unittest.skipUnless(pg_url(), "no PostgreSQL test server")
class Cluster(ServerTestCase):

    def node(self, name, store=None, link=None, http=True, extra=()):
        link = link or tcp_endpoint()
        args = ["--node-id", name, "--node-listen", link, "--lease-ms", LEASE_MS,
                "--store-timeout", 1000, "--session-threads", 2, "--db-workers", 2,
                "--tool-threads", 2, "--conformance-fixtures"] + list(extra)
        port = None
        if http:
            port = free_port()
            args += ["--http", port]
        server = self.start_server(*args, store=store or pg_url())
        server.http_port = port
        server.link = link
        server.name = name
        return server

    def names(self, count):
        tag = "%x" % random.getrandbits(32)
        return ["c%s-%d" % (tag, index) for index in range(count)]

    def served_soon(self, c, sid, seconds=10):
        """Retries an echo through c while it gets 503, until it is served."""
        deadline = time.monotonic() + seconds
        while True:
            m = c.wait(c.call_tool(sid, "echo", {"text": "after"}))
            if m.kind == "MSG":
                break
            self.assertErr(m, 503)
            self.assertLess(time.monotonic(), deadline, m)
            time.sleep(0.1)
        self.assertEqual(text_of(m.json["result"]), "after")

    def owner(self, sid):
        return psql(pg_url(), "SELECT node FROM sessions WHERE id = '%s'" % sid)

    # -- the frames of a session go to its owner -----------------------------

    def test_frames_reach_the_owner_from_any_node_over_both_fronts(self):
        nodes = [self.node(name) for name in self.names(3)]
        zmq_clients = [self.client(node) for node in nodes]
        sid = zmq_clients[0].open()
        web = Http(nodes[1].http_port)
        self.addCleanup(web.close)
        web_sid = web.open()
        self.assertEqual(self.owner(sid), nodes[0].name)
        self.assertEqual(self.owner(web_sid), nodes[1].name)
        for round_ in range(3):
            for index, c in enumerate(zmq_clients):
                text = "z%d-%d" % (round_, index)
                self.assertEqual(text_of(c.tool(sid, "echo", {"text": text})), text)
                self.assertEqual(text_of(c.tool(web_sid, "echo", {"text": text})), text)
            for node in nodes:
                h = Http(node.http_port)
                self.addCleanup(h.close)
                for s in (sid, web_sid):
                    h.sid = s
                    answer = h.tool("echo", {"text": "h"})
                    self.assertEqual(answer.status, 200, answer)
                    self.assertEqual(text_of(answer.json["result"]), "h")
        #  Still where they were opened: forwarded, never claimed twice
        self.assertEqual(self.owner(sid), nodes[0].name)
        self.assertEqual(self.owner(web_sid), nodes[1].name)
        self.assertEqual(psql(pg_url(), "SELECT epoch FROM sessions WHERE id = '%s'" % sid), "0")
        #  Progress and the answer come back through the link, in order
        c = zmq_clients[2]
        rid = c.call_tool(sid, "progress", {"steps": 3, "interval_ms": 1},
                          meta={"progressToken": "p"})
        self.assertIn("result", c.wait(rid).json)
        progress = [m for m in c.inbox if m.is_notification("notifications/progress")]
        self.assertEqual(len(progress), 3)
        del c.inbox[:]
        #  A close through another node ends it on its owner
        self.assertEqual(zmq_clients[1].close_session(sid).kind, "OK")
        self.assertEqual(psql(pg_url(), "SELECT count(*) FROM sessions WHERE id = '%s'" % sid), "0")
        rid = zmq_clients[0].request(sid, "ping")
        self.assertErr(zmq_clients[0].wait(rid), 404, rid=rid)
        figures = nodes[2].stats()["supervisor"]["cluster"]
        self.assertGreater(figures["forwarded"], 0, figures)
        self.assertEqual(figures["lease"], "held")
        self.assertEqual(figures["pending"], 0, figures)
        text = control(nodes[2].control_ep, {"command": "metrics"})["text"]
        self.assertIn("mcpz_cluster_lease_held 1", text)
        self.assertIn("mcpz_cluster_nodes 2", text)
        self.assertRegex(text, r"mcpz_cluster_forwarded_total [1-9]")

    def test_the_node_link_lets_in_only_nodes_of_the_cluster(self):
        tmp = tempfile.mkdtemp(prefix="mcpz-certs-")
        self.addCleanup(shutil.rmtree, tmp, True)
        for name in ("cluster", "stranger"):
            subprocess.run([MCPZCTL, "keygen", os.path.join(tmp, name)], check=True,
                           stdout=subprocess.DEVNULL)
        cert = ["--node-curve-cert", os.path.join(tmp, "cluster")]
        a, b = [self.node(name, extra=cert) for name in self.names(2)]
        stranger = self.node(self.names(1)[0], extra=["--node-curve-cert", os.path.join(tmp, "stranger")])
        sid = self.client(a).open()
        via_b = self.client(b)
        self.assertEqual(text_of(via_b.tool(sid, "echo", {"text": "in"})), "in")
        #  A node without the cluster's key never gets a frame through
        via_stranger = self.client(stranger)
        rid = via_stranger.call_tool(sid, "echo", {"text": "out"})
        self.assertErr(via_stranger.wait(rid), 503, rid=rid)
        self.assertEqual(self.owner(sid), a.name)
        self.assertEqual(a.stats()["supervisor"]["cluster"]["served"], 1)

    def test_a_session_stays_its_keys_on_every_node(self):
        tmp = tempfile.mkdtemp(prefix="mcpz-certs-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.mkdir(os.path.join(tmp, "clients"))
        keys = {}
        for name in ("server", "alice", "carol"):
            path = os.path.join(tmp, name)
            public = subprocess.run([MCPZCTL, "keygen", path], check=True, capture_output=True,
                                    text=True).stdout.strip()
            secret = [line.split('"')[1] for line in open(path + "_secret") if "secret-key" in line][0]
            keys[name] = (public, secret)
            if name != "server":
                shutil.copy(path, os.path.join(tmp, "clients", name))
        extra = ["--curve-cert", os.path.join(tmp, "server"), "--curve-clients", os.path.join(tmp, "clients")]
        a, b = [self.node(name, extra=extra) for name in self.names(2)]

        def as_(who, node):
            return self.client(node, "%s@%s" % (who, node.name), curve=keys[who] + (keys["server"][0],))
        sid = as_("alice", a).open()
        self.assertEqual(text_of(as_("alice", b).tool(sid, "echo", {"text": "fwd"})), "fwd")
        carol = as_("carol", b)
        rid = carol.request(sid, "ping")
        self.assertErr(carol.wait(rid), 404, rid=rid)
        self.assertEqual(self.owner(sid), a.name)

    def test_the_sdk_client_through_every_node(self):
        """The official TypeScript SDK client, each of its HTTP requests
        to the next of three nodes (round-robin, no stickiness): sampling,
        elicitation, roots, a subscription heard on its GET stream,
        prompts, completion, resources."""
        npm = os.environ.get("MCPZ_NPM") or os.path.join(REPO, "build", "npm")
        if not os.path.isdir(os.path.join(npm, "node_modules", "@modelcontextprotocol", "sdk")):
            self.fail("the MCP SDK is not installed in %s: run scripts/npm-deps" % npm)
        shutil.copy(os.path.join(REPO, "tests", "interop", "sdk_surface.mjs"), npm)
        nodes = [self.node(name) for name in self.names(3)]
        urls = ["http://127.0.0.1:%d/mcp" % node.http_port for node in nodes]
        run = subprocess.run(["node", os.path.join(npm, "sdk_surface.mjs")] + urls,
                             capture_output=True, text=True, timeout=60, cwd=npm)
        self.assertEqual(run.returncode, 0, run.stderr[-3000:])
        steps = {record["step"]: record for record in map(json.loads, run.stdout.splitlines())}
        self.assertIn("sampled: hello", steps["sampling"]["text"])
        self.assertEqual(steps["elicitation"]["asked"], ["who are you?"])
        self.assertEqual(steps["roots"]["roots"], [{"uri": "file:///second", "name": "second"}])
        self.assertEqual(steps["subscription"]["updates"], ["test://watched-resource"])
        self.assertEqual(steps["prompts"]["text"], "Prompt with arguments: arg1='a', arg2='b'")
        self.assertEqual(steps["completion"]["values"], ["paris", "park", "party"])
        self.assertEqual(json.loads(steps["resources"]["text"])["id"], "42")
        forwarded = sum(node.stats()["supervisor"]["cluster"]["forwarded"] for node in nodes)
        self.assertGreater(forwarded, 10)

    def test_a_get_stream_through_another_node_carries_notifications(self):
        nodes = [self.node(name) for name in self.names(2)]
        web = Http(nodes[0].http_port)
        self.addCleanup(web.close)
        sid = web.open()
        listener = Http(nodes[1].http_port, timeout=5)
        self.addCleanup(listener.close)
        listener.sid = sid
        answer, response = listener.send("GET", headers=listener.headers(accept="text/event-stream"),
                                         stream_events=1)
        self.assertEqual(answer.status, 200, answer)
        #  Subscribed through the owner; a touch there is heard on the stream
        self.assertEqual(web.request("resources/subscribe", {"uri": "test://static-text"}).status, 200)
        web.tool("touch", {"uri": "test://static-text"})
        from httptest import read_event
        event = read_event(response, time.monotonic() + 5)
        self.assertIn("notifications/resources/updated", event[1])
        #  Streams whose clients leave are forgotten, not kept until the session ends
        for _ in range(5):
            other = Http(nodes[1].http_port, timeout=5)
            other.sid = sid
            other.send("GET", headers=other.headers(accept="text/event-stream"), stream_events=1)
            other.close()
        deadline = time.monotonic() + 5
        while nodes[1].stats()["supervisor"]["cluster"]["pending"] > 1:
            self.assertLess(time.monotonic(), deadline, nodes[1].stats()["supervisor"]["cluster"])
            time.sleep(0.1)
        #  The session ends on its owner: the stream through the other node ends too
        self.assertIn(web.send("DELETE").status, (200, 204))
        self.assertIsNone(read_event(response, time.monotonic() + 5))
        figures = nodes[1].stats()["supervisor"]["cluster"]
        self.assertEqual(figures["pending"], 0, figures)

    # -- a node killed mid-load ---------------------------------------------

    def test_a_node_killed_mid_load_loses_no_session(self):
        names = self.names(3)
        nodes = [self.node(name) for name in names]
        victim = nodes[2]
        clients = [Client(node.endpoint, "zmq-" + node.name) for node in nodes]
        for c in clients:
            self.addCleanup(c.close)
        zmq_sids = []
        for index in range(150):
            zmq_sids.append(clients[index % 3].open())
        web_sids = []
        for index in range(150):
            h = Http(nodes[index % 3].http_port)
            web_sids.append(h.open())
            h.close()
        owned = set(psql(pg_url(), "SELECT id FROM sessions WHERE node = '%s'" % victim.name).split())
        self.assertEqual(len(owned), 100)
        ports = [node.http_port for node in nodes]
        #  As HAProxy would: each request to the next live node
        kill_mid_load(self, clients, 2, victim.kill, zmq_sids, web_sids, owned,
                      lambda live, turn: ports[live[turn % len(live)]], LEASE_MS)
        #  The victim's sessions now belong to the survivors
        self.assertEqual(psql(pg_url(), "SELECT count(*) FROM sessions WHERE node = '%s'" % victim.name), "0")

        #  The node comes back under its name and takes load
        victim.start()
        client = self.client(victim)
        time.sleep(LEASE_MS / 1000.0)   # the others see it in their next heartbeats
        fresh = client.open()
        self.assertEqual(self.owner(fresh), victim.name)
        for sid in zmq_sids[:30] + [fresh]:
            self.assertEqual(text_of(client.tool(sid, "echo", {"text": "back"})), "back")
        self.assertEqual(text_of(self.client(nodes[0]).tool(fresh, "echo", {"text": "there"})), "there")

    # -- a node cut from the store -------------------------------------------

    def test_a_node_cut_from_the_store_stops_serving_and_another_takes_over(self):
        url = pg_url()
        host_port = url.rsplit("@", 1)[1].split("/")[0]
        proxy = Proxy(int(host_port.rsplit(":", 1)[1]))
        self.addCleanup(proxy.close)
        cut_url = url.replace(host_port, "127.0.0.1:%d" % proxy.port)
        names = self.names(2)
        cut = self.node(names[0], store=cut_url, http=False)
        other = self.node(names[1], http=False)
        ca, cb = self.client(cut), self.client(other)
        sids = [ca.open() for _ in range(20)]
        self.assertEqual(text_of(cb.tool(sids[0], "echo", {"text": "before"})), "before")
        proxy.cut = True
        started = time.monotonic()
        #  Within its lease the node serves from memory; once it lapses, not
        lapsed = None
        while time.monotonic() - started < 10:
            rid = ca.call_tool(sids[1], "echo", {"text": "cut"})
            m = ca.wait(rid)
            if m.kind == "ERR":
                self.assertEqual(m.status, 503, m)
                lapsed = time.monotonic() - started
                break
            time.sleep(0.05)
        self.assertIsNotNone(lapsed, "the cut node kept serving")
        self.assertLess(lapsed, LEASE_MS / 1000.0 + 0.5)
        #  The other node takes every session once the lease lapsed in the store
        for sid in sids:
            deadline = time.monotonic() + 15
            while True:
                m = cb.wait(cb.call_tool(sid, "echo", {"text": sid}))
                if m.kind == "MSG":
                    self.assertEqual(text_of(m.json["result"]), sid)
                    break
                self.assertEqual(m.status, 503, m)
                self.assertLess(time.monotonic(), deadline, m)
                time.sleep(0.1)
        taken = time.monotonic() - started
        print("\ncut from the store: stopped serving after %.2f s, sessions taken over by %.2f s"
              % (lapsed, taken))
        self.assertEqual(psql(url, "SELECT count(*) FROM sessions WHERE node = '%s'" % other.name), "20")
        #  Still cut, the node refuses: its lease is lost
        rid = ca.request(sids[2], "ping")
        self.assertErr(ca.wait(rid), 503, rid=rid)
        #  Healed, it holds its lease again and forwards to the new owner
        proxy.cut = False
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            m = ca.wait(ca.call_tool(sids[3], "echo", {"text": "healed"}))
            if m.kind == "MSG":
                break
            time.sleep(0.2)
        self.assertEqual(text_of(m.json["result"]), "healed")
        self.assertEqual(self.owner(sids[3]), other.name)

    # -- nodes that stop, move or pause -------------------------------------

    def test_a_node_shutting_down_answers_what_it_forwarded(self):
        owner, entry = [self.node(name, http=False) for name in self.names(2)]
        sid = self.client(owner).open()
        c = self.client(entry)
        self.assertEqual(text_of(c.tool(sid, "echo", {"text": "routed"})), "routed")
        rid = c.call_tool(sid, "sleep", {"ms": 1500})
        time.sleep(0.3)
        entry.send_signal(signal.SIGTERM)
        self.assertEqual(text_of(c.wait(rid).json["result"]), "slept 1500 ms")
        self.assertEqual(entry.wait(10), 0)

    def test_what_waits_on_other_nodes_is_bounded_in_bytes(self):
        """Frames forwarded and not yet answered are held (their answer
        may be a 503 naming them) up to --link-buffer-bytes: past it the
        entry node refuses at once, and takes frames again once answers
        came."""
        names = self.names(2)
        owner = self.node(names[0], http=False)
        entry = self.start_server("--node-id", names[1], "--node-listen", tcp_endpoint(),
                                  "--lease-ms", LEASE_MS, "--link-buffer-bytes", 65536, store=pg_url())
        sid = self.client(owner).open()
        c = self.client(entry)
        self.assertEqual(text_of(c.tool(sid, "echo", {"text": "routed"})), "routed")
        pad = {"pad": "x" * 30000}
        slow = [c.call_tool(sid, "sleep", {"ms": 1500}, meta=pad) for _ in range(2)]
        time.sleep(0.3)
        held = entry.stats()["supervisor"]["cluster"]["held_bytes"]
        self.assertGreater(held, 60000)
        self.assertLessEqual(held, 65536)
        refused = c.call_tool(sid, "sleep", {"ms": 10}, meta=pad)
        m = c.wait(refused)
        self.assertErr(m, 503, rid=refused)
        for rid in slow:
            self.assertEqual(text_of(c.wait(rid).json["result"]), "slept 1500 ms")
        self.assertEqual(entry.stats()["supervisor"]["cluster"]["held_bytes"], 0)
        self.assertEqual(text_of(c.tool(sid, "sleep", {"ms": 10}, meta=pad)), "slept 10 ms")

    def test_a_node_back_on_another_endpoint(self):
        names = self.names(2)
        entry = self.node(names[0], http=False)
        owner = self.node(names[1], http=False)
        sid = self.client(owner).open()
        c = self.client(entry)
        self.assertEqual(text_of(c.tool(sid, "echo", {"text": "before"})), "before")
        owner.stop()
        moved = self.node(names[1], http=False)
        self.assertNotEqual(moved.link, owner.link)
        self.assertEqual(text_of(self.client(moved).tool(sid, "echo", {"text": "own"})), "own")
        self.served_soon(c, sid)
        self.assertTrue(entry.running())

    def test_a_node_named_by_host_name_is_reached_after_a_pause(self):
        """The link connects to the address a name resolves to: after the
        connection broke (the owner paused past ZeroMQ's heartbeat) and
        came back, the owner is reached again."""
        names = self.names(2)
        entry = self.node(names[0], http=False)
        port = free_port()
        owner = self.start_server("--node-id", names[1], "--node-listen", "tcp://127.0.0.1:%d" % port,
                                  "--node-advertise", "tcp://localhost:%d" % port,
                                  "--lease-ms", 20000, store=pg_url())
        sid = self.client(owner).open()
        c = self.client(entry)
        time.sleep(1.0)
        self.assertEqual(text_of(c.tool(sid, "echo", {"text": "before"})), "before")
        owner.proc.send_signal(signal.SIGSTOP)
        time.sleep(4.5)
        owner.proc.send_signal(signal.SIGCONT)
        self.served_soon(c, sid)

    # -- a node that misbehaves ---------------------------------------------

    def test_a_node_that_moves_or_never_answers(self):
        """A fake node (a ROUTER on the link protocol) holds a live lease
        and owns two sessions: it sends one on to where the session really
        is (MOVED), and never answers the other: that one gets 503 by its
        deadline, not silence."""
        url = pg_url()
        names = self.names(2)
        real = self.node(names[0], http=False)
        entry = self.start_server("--node-id", names[1], "--node-listen", tcp_endpoint(),
                                  "--lease-ms", LEASE_MS, "--request-timeout", 500, store=url)
        moved, silent = self.client(real).open(), self.client(real).open()
        fake_id = "fake-" + names[0]
        fake = zmq.Context.instance().socket(zmq.ROUTER)
        self.addCleanup(fake.close, 0)
        port = fake.bind_to_random_port("tcp://127.0.0.1")
        psql(url, "INSERT INTO nodes VALUES ('%s', 'tcp://127.0.0.1:%d', 'x', 0, 9e15::bigint)"
             % (fake_id, port))
        self.addCleanup(psql, url, "DELETE FROM nodes WHERE id = '%s'" % fake_id)
        psql(url, "UPDATE sessions SET node = '%s' WHERE id IN ('%s', '%s')" % (fake_id, moved, silent))
        c = self.client(entry)
        first = c.request(moved, "ping")
        frames = None
        if fake.poll(10000):
            frames = fake.recv_multipart()
        self.assertIsNotNone(frames, "nothing forwarded to the fake node")
        self.assertEqual(frames[1:3], [b"MCPZN/1", b"MSGOK"])
        #  The session is really on the real node: the fake one says so
        psql(url, "UPDATE sessions SET node = '%s' WHERE id = '%s'" % (real.name, moved))
        fake.send_multipart([frames[0], b"MOVED", frames[3], frames[4], frames[5], b"",
                             ("%s\t%s" % (real.name, real.link)).encode()])
        self.assertEqual(c.wait(first).json["result"], {})
        #  Garbage from a node changes nothing
        fake.send_multipart([frames[0], b"ANS", b"short", b"", b"", b"", b"{}"])
        fake.send_multipart([frames[0], b"ANS"])
        second = c.request(silent, "ping")
        self.assertTrue(fake.poll(10000))
        fake.recv_multipart()
        started = time.monotonic()
        m = c.wait(second, timeout=30)
        self.assertErr(m, 503, rid=second)
        self.assertIn("did not answer in time", m.json["message"])
        self.assertGreater(time.monotonic() - started, 5)
        figures = entry.stats()["supervisor"]["cluster"]
        self.assertEqual(figures["late"], 1, figures)
        self.assertEqual(figures["pending"], 0, figures)

    # -- start-up ------------------------------------------------------------

    def test_one_live_process_per_node_id(self):
        name = self.names(1)[0]
        self.node(name)
        second = self.start_server("--node-id", name, "--lease-ms", LEASE_MS, store=pg_url(),
                                   start=False)
        second.expect_exit = True
        second.proc = subprocess.Popen(second.argv, cwd=second.tmp, env=second.env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = second.proc.communicate(timeout=20)
        self.assertEqual(second.proc.returncode, 2, err)
        self.assertIn("another live mcpzd holds this node id", err)

    def test_node_link_flags_are_checked(self):
        from mcpztest import run_mcpzd
        for args, needle in ((["--node-listen", "ipc:///tmp/x"], "--node-listen"),
                             (["--node-listen", "tcp://0.0.0.0:7000", "--store", pg_url()], "--node-advertise"),
                             (["--node-advertise", "tcp://a:1"], "--node-advertise"),
                             (["--node-listen", "tcp://127.0.0.1:7000", "--store", "none"], "store")):
            status, _, err = run_mcpzd(args)
            self.assertEqual(status, 2, err)
            self.assertIn(needle, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
