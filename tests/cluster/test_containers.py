"""The cluster in containers (issue 13): deploy/compose.yaml brought up by
deploy/cluster-test (PostgreSQL, three mcpzd, HAProxy), then 300 sessions,
half over HTTP through HAProxy and half over ZeroMQ to the nodes directly;
one node's container killed with SIGKILL mid-load; every session goes on
on the others; the node restarted rejoins and takes load.

Environment: MCPZ_COMPOSE (the compose command, with -p and -f),
MCPZ_HTTP_PORT (HAProxy's port on loopback), MCPZ_ZMQ_PORTS (the nodes'
ZeroMQ ports on loopback, comma-separated, node1 first).
"""

import os
import shlex
import subprocess
import time
import unittest

from clusterload import kill_mid_load
from httptest import Http
from mcpztest import Client, ServerTestCase, text_of

COMPOSE = shlex.split(os.environ.get("MCPZ_COMPOSE", "podman-compose -f deploy/compose.yaml"))
HTTP_PORT = int(os.environ.get("MCPZ_HTTP_PORT", "8080"))
ZMQ_PORTS = [int(p) for p in os.environ.get("MCPZ_ZMQ_PORTS", "5551,5552,5553").split(",")]
NODES = ["node1", "node2", "node3"]
LEASE_MS = int(os.environ.get("MCPZ_LEASE_MS", "1500"))


def compose(*args, check=True, timeout=120):
    out = subprocess.run(COMPOSE + list(args), capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError("%s: %s%s" % (" ".join(args), out.stdout[-2000:], out.stderr[-2000:]))
    return out.stdout


def container(service):
    """The container's name: the engine's own, whatever the project."""
    project = os.environ.get("MCPZ_PROJECT", "mcpz")
    return "%s_%s_1" % (project, service)


def engine(*args, timeout=60):
    tool = os.environ.get("MCPZ_ENGINE", "podman")
    return subprocess.run([tool] + list(args), capture_output=True, text=True, timeout=timeout)


def psql(sql):
    out = engine("exec", container("postgres"), "psql", "-h", "/run/postgresql", "-U", "mcpz",
                 "-XAtc", sql)
    if out.returncode != 0:
        raise AssertionError("psql: %s" % out.stderr)
    return out.stdout.strip()


def wait_ready(timeout=120):
    """Every node answers an initialize, and HAProxy does."""
    deadline = time.monotonic() + timeout
    for port in ZMQ_PORTS:
        while True:
            c = Client("tcp://127.0.0.1:%d" % port)
            try:
                c.open(timeout=2)
                c.close()
                break
            except AssertionError:
                c.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
    while True:
        h = Http(HTTP_PORT, timeout=2)
        try:
            h.open()
            h.close()
            return
        except (AssertionError, OSError):
            h.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


class Containers(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        wait_ready()

    def test_300_sessions_a_node_killed_and_back(self):
        clients = [Client("tcp://127.0.0.1:%d" % port, "zmq-" + name)
                   for port, name in zip(ZMQ_PORTS, NODES)]
        for c in clients:
            self.addCleanup(c.close)
        zmq_sids = [clients[index % 3].open() for index in range(150)]
        web_sids = []
        for _ in range(150):
            h = Http(HTTP_PORT)
            web_sids.append(h.open())
            h.close()
        spread = psql("SELECT node, count(*) FROM sessions WHERE id IN (%s) GROUP BY node ORDER BY node"
                      % ",".join("'%s'" % s for s in zmq_sids + web_sids))
        print("\nsessions by owner: %s" % spread.replace("\n", ", "))
        self.assertEqual(len(spread.split("\n")), 3, spread)
        victim = 1
        owned = set(psql("SELECT id FROM sessions WHERE node = '%s'" % NODES[victim]).split())
        owned &= set(zmq_sids + web_sids)

        def kill():
            out = engine("kill", "--signal", "KILL", container(NODES[victim]))
            self.assertEqual(out.returncode, 0, out.stderr)

        kill_mid_load(self, clients, victim, kill, zmq_sids, web_sids, owned,
                      lambda live, turn: HTTP_PORT, LEASE_MS)
        #  Its sessions of this test moved (others move when a frame comes)
        self.assertEqual(psql("SELECT count(*) FROM sessions WHERE node = '%s' AND id IN (%s)"
                              % (NODES[victim], ",".join("'%s'" % s for s in owned))), "0")

        #  Back under its name: it takes its lease, new sessions, and forwards
        out = engine("start", container(NODES[victim]))
        self.assertEqual(out.returncode, 0, out.stderr)
        back = Client("tcp://127.0.0.1:%d" % ZMQ_PORTS[victim], "zmq-back")
        self.addCleanup(back.close)
        deadline = time.monotonic() + 60
        while True:
            try:
                fresh = back.open(timeout=2)
                break
            except AssertionError:
                self.assertLess(time.monotonic(), deadline, "the node did not come back")
        time.sleep(LEASE_MS / 1000.0)
        self.assertEqual(psql("SELECT node FROM sessions WHERE id = '%s'" % fresh), NODES[victim])
        for sid in zmq_sids[:50] + web_sids[:50]:
            self.assertEqual(text_of(back.tool(sid, "echo", {"text": "back"})), "back")
        h = Http(HTTP_PORT)
        self.addCleanup(h.close)
        h.sid = fresh
        for _ in range(6):      #  through every node behind HAProxy
            answer = h.tool("echo", {"text": "there"})
            self.assertEqual(answer.status, 200, answer)
        stats = engine("exec", container(NODES[victim]), "mcpzctl", "--json", "stats")
        self.assertEqual(stats.returncode, 0, stats.stderr)
        self.assertIn('"lease":"held"', stats.stdout.replace(" ", ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
