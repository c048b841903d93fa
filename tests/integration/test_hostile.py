"""Hostile peers of the ZeroMQ front (issue 14, the High defects).

- Descriptors: with a low `ulimit -n`, more TCP or ipc connections than
  it allows never abort mcpzd nor make it spin; at the cap it stops
  listening and shuts what got in meanwhile (`connections` in stats), the
  control socket still answers, clients already in are served, and new
  ones again once others leave.
- A raw ZMTP peer that sends 1 MB frames with MORE set and never a last
  one is dropped once it holds --peer-inflight-bytes; memory stays flat.
- A client that never reads its answers is dropped once it leaves
  --peer-queue-bytes unread; memory stays flat, others are served.
"""

import json
import os
import socket
import struct
import time
import unittest

import zmq

from mcpztest import CTX, ServerTestCase, init_params, run_ctl, text_of


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def zmtp_greeting():
    """ZMTP 3.0, NULL mechanism, as server=false."""
    return b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL" + b"\x00" * 16 + b"\x00" + b"\x00" * 31


def zmtp_command(name, body):
    data = bytes([len(name)]) + name + body
    return b"\x04" + bytes([len(data)]) + data


def zmtp_ready():
    prop = b"\x0bSocket-Type" + struct.pack(">I", 6) + b"DEALER"
    return zmtp_command(b"READY", prop)


class Descriptors(ServerTestCase):

    def limited(self, listen, nofile=256):
        server = self.start_server("--session-threads", 2, listen=listen, start=False)
        server.argv = ["prlimit", "--nofile=%d:%d" % (nofile, nofile)] + server.argv
        server.start()
        return server

    def flood(self, server, connect, count):
        """count raw connections that say nothing; mcpzd must stay up and idle."""
        kept = [self.client(server, "before")]
        sid = kept[0].open()
        floods = []
        for _ in range(count):
            try:
                floods.append(connect())
            except OSError:
                break
        self.addCleanup(lambda: [s.close() for s in floods])
        time.sleep(1.0)
        self.assertTrue(server.running(), server.stderr_tail())
        before = cpu_seconds(server.proc.pid)
        time.sleep(1.0)
        self.assertLess(cpu_seconds(server.proc.pid) - before, 0.3, "mcpzd spins at the limit")
        ctl = run_ctl(["--control", server.control_ep, "--json", "stats"])
        self.assertEqual(ctl.returncode, 0, ctl.stderr)
        connections = json.loads(ctl.stdout)["supervisor"]["connections"]
        #  Past the cap newcomers are refused: shut at once, or not let in
        #  at all while the router does not listen
        self.assertTrue(connections["refused"] > 0 or not connections["listening"], connections)
        self.assertLessEqual(connections["open"], connections["max"], connections)
        self.assertEqual(text_of(kept[0].tool(sid, "echo", {"text": "in"})), "in")
        #  Once the flood leaves, newcomers are served again
        for s in floods:
            s.close()
        del floods[:]
        time.sleep(1.0)
        late = self.client(server, "after")
        self.assertEqual(text_of(late.tool(late.open(), "echo", {"text": "late"})), "late")

    def test_tcp_connections_past_the_descriptor_limit(self):
        server = self.limited("tcp")
        host, port = server.endpoint[6:].rsplit(":", 1)
        self.flood(server, lambda: socket.create_connection((host, int(port))), 400)

    def test_ipc_connections_past_the_descriptor_limit(self):
        server = self.limited("ipc")
        path = server.endpoint[6:]

        def connect():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        self.flood(server, connect, 400)


class Bytes(ServerTestCase):

    def test_unfinished_messages_are_bounded(self):
        server = self.start_server("--peer-inflight-bytes", 8 * 1024 * 1024)
        pid = server.proc.pid
        before = rss_mb(pid)
        host, port = server.endpoint[6:].rsplit(":", 1)
        raw = socket.create_connection((host, int(port)))
        self.addCleanup(raw.close)
        raw.sendall(zmtp_greeting())
        raw.recv(64)
        raw.sendall(zmtp_ready())
        frame = b"\x03" + struct.pack(">Q", 1 << 20) + b"z" * (1 << 20)   # long frame, MORE
        sent = 0
        deadline = time.monotonic() + 20
        try:
            while sent < 2048 and time.monotonic() < deadline:
                raw.sendall(frame)
                sent += 1
        except OSError:
            pass                    # dropped: what should happen
        time.sleep(0.5)
        self.assertLess(sent, 2048, "a peer sent 2 GB of one message and was never dropped")
        self.assertLess(rss_mb(pid) - before, 100, "RSS grew with an unfinished message")
        stats = server.stats()["supervisor"]["connections"]
        self.assertGreaterEqual(stats["dropped_inflight"], 1, stats)
        c = self.client(server)
        self.assertEqual(text_of(c.tool(c.open(), "echo", {"text": "ok"})), "ok")

    def test_a_client_that_never_reads_is_dropped_past_its_bytes(self):
        server = self.start_server("--peer-queue-bytes", 16 * 1024 * 1024, "--max-message-size", 2000000)
        pid = server.proc.pid
        sink = CTX.socket(zmq.DEALER)
        sink.setsockopt(zmq.LINGER, 0)
        sink.setsockopt(zmq.RCVHWM, 1)
        sink.setsockopt(zmq.RCVBUF, 4096)
        sink.connect(server.endpoint)
        self.addCleanup(sink.close)
        sink.send_multipart([b"MCPZ/1", b"MSG", b"", json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init_params()}).encode()])
        self.assertTrue(sink.poll(5000))
        sid = sink.recv_multipart()[2]
        before = rss_mb(pid)
        text = "m" * 1000000
        for n in range(300):
            sink.send_multipart([b"MCPZ/1", b"MSG", sid, json.dumps(
                {"jsonrpc": "2.0", "id": 2 + n, "method": "tools/call",
                 "params": {"name": "echo", "arguments": {"text": text}}}).encode()])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            stats = server.stats()["supervisor"]["connections"]
            if stats["dropped_unread"]:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(stats["dropped_unread"], 1, stats)
        time.sleep(1.0)
        self.assertLess(rss_mb(pid) - before, 200, "RSS holds what a client does not read")
        other = self.client(server)
        self.assertEqual(text_of(other.tool(other.open(), "echo", {"text": "fine"})), "fine")


if __name__ == "__main__":
    unittest.main()
