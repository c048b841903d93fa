"""JSON-RPC batches (issue 10): a 2025-03-26 session takes them on both
fronts and answers each batch with one array; later revisions refuse them."""

import json
import unittest

import zmq

from httptest import Http, start_http_class_server
from mcpztest import CTX, SIGNATURE, ServerTestCase, control, dumps, init_params, text_of

BATCH = [
    {"jsonrpc": "2.0", "id": "p", "method": "ping"},
    {"jsonrpc": "2.0", "id": "e", "method": "tools/call",
     "params": {"name": "echo", "arguments": {"text": "in a batch"}}},
    {"jsonrpc": "2.0", "id": "s", "method": "tools/call",
     "params": {"name": "sleep", "arguments": {"ms": 50}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": "u", "method": "no/such/method"},
    {"jsonrpc": "2.0", "id": 7},
]


class Zmq:
    """A bare DEALER: batch answers are arrays, which the test client's
    bookkeeping does not file."""

    def __init__(self, endpoint):
        self.sock = CTX.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, 10000)
        self.sock.connect(endpoint)

    def send(self, sid, body):
        self.sock.send_multipart([SIGNATURE, b"MSG", sid.encode(), body if isinstance(body, bytes) else dumps(body)])

    def recv(self):
        frames = self.sock.recv_multipart()
        return frames[1].decode(), frames[2].decode(), json.loads(frames[4])

    def open(self, version):
        self.send("", {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init_params(version)})
        kind, sid, body = self.recv()
        assert kind == "MSG" and "result" in body, body
        return sid


class Batches(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_http_class_server(cls)

    def check_answers(self, answers):
        self.assertIsInstance(answers, list, answers)
        by_id = {answer.get("id"): answer for answer in answers}
        self.assertEqual(set(by_id), {"p", "e", "s", "u", 7}, answers)
        self.assertEqual(by_id["p"]["result"], {})
        self.assertEqual(text_of(by_id["e"]["result"]), "in a batch")
        self.assertEqual(text_of(by_id["s"]["result"]), "slept 50 ms")
        self.assertEqual(by_id["u"]["error"]["code"], -32601)
        self.assertEqual(by_id[7]["error"]["code"], -32600)

    def test_zeromq_batch_in_a_2025_03_26_session(self):
        z = Zmq(self.server.endpoint)
        sid = z.open("2025-03-26")
        z.send(sid, BATCH)
        kind, answer_sid, answers = z.recv()
        self.assertEqual((kind, answer_sid), ("MSG", sid))
        self.check_answers(answers)
        # Only notifications: nothing comes back
        z.send(sid, [{"jsonrpc": "2.0", "method": "notifications/initialized"}])
        z.send(sid, {"jsonrpc": "2.0", "id": "after", "method": "ping"})
        self.assertEqual(z.recv()[2]["id"], "after")
        z.send(sid, [])
        self.assertEqual(z.recv()[2]["error"]["code"], -32600)

    def test_later_revisions_refuse_batches(self):
        z = Zmq(self.server.endpoint)
        for version in ("2025-06-18", "2025-11-25"):
            sid = z.open(version)
            z.send(sid, BATCH)
            kind, _, answer = z.recv()
            self.assertEqual(answer["error"]["code"], -32600, answer)
            self.assertIsNone(answer["id"])

    def test_http_batch(self):
        h = Http(self.server.http_port)
        self.addCleanup(h.close)
        h.open("2025-03-26")
        answer = h.post(BATCH)
        self.assertEqual(answer.status, 200, answer)
        self.check_answers(answer.json)
        only_notifications = h.post([{"jsonrpc": "2.0", "method": "notifications/initialized"}])
        self.assertEqual((only_notifications.status, only_notifications.body), (202, b""))
        # Notifications and a bad member: answered once, with the error
        mixed = h.post([{"jsonrpc": "2.0", "method": "notifications/x"},
                        {"jsonrpc": "1.0", "method": "y"}])
        self.assertEqual(mixed.status, 400, mixed)
        self.assertEqual(mixed.json[0]["error"]["code"], -32600, mixed)
        # A batch whose only request is cancelled ends with nothing
        other = Http(self.server.http_port)
        self.addCleanup(other.close)
        other.sid = h.sid
        gone = other.post([{"jsonrpc": "2.0", "id": "c", "method": "tools/call",
                            "params": {"name": "sleep", "arguments": {"ms": 2000}}},
                           {"jsonrpc": "2.0", "method": "notifications/cancelled",
                            "params": {"requestId": "c"}}])
        self.assertEqual((gone.status, gone.messages), (200, []), gone)
        undeliverable = control(self.server.control_ep, {"command": "stats"})["supervisor"]["http"]["undeliverable"]
        self.assertEqual(undeliverable, 0)
        later = Http(self.server.http_port)
        self.addCleanup(later.close)
        later.open("2025-06-18")
        refused = later.post(BATCH)
        self.assertEqual(refused.json["error"]["code"], -32600, refused)


if __name__ == "__main__":
    unittest.main()
