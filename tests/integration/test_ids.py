"""A request id answers once (issue 11's fix on the way): a second request
with the id of one in flight is refused with id null, on both fronts, and
the first one's answer is the only one that names the id."""

import time
import unittest

from httptest import Http, start_http_class_server
from mcpztest import ServerTestCase, text_of
from test_batch import Zmq


class DuplicateIds(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = start_http_class_server(cls)

    def test_zeromq(self):
        z = Zmq(self.server.endpoint)
        sid = z.open("2025-11-25")
        z.send(sid, {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                     "params": {"name": "sleep", "arguments": {"ms": 300}}})
        for method in ("ping", "tools/call"):
            z.send(sid, {"jsonrpc": "2.0", "id": 7, "method": method,
                         "params": {"name": "echo", "arguments": {"text": "x"}}})
        answers = [z.recv()[2] for _ in range(3)]
        refusals = [a for a in answers if "error" in a]
        self.assertEqual([r["id"] for r in refusals], [None, None], answers)
        results = [a for a in answers if a.get("id") == 7]
        self.assertEqual(len(results), 1, answers)
        self.assertEqual(text_of(results[0]["result"]), "slept 300 ms")
        # Once it is answered, the id is free again
        z.send(sid, {"jsonrpc": "2.0", "id": 7, "method": "ping"})
        self.assertEqual(z.recv()[2], {"jsonrpc": "2.0", "id": 7, "result": {}})

    def test_http(self):
        h = Http(self.server.http_port)
        self.addCleanup(h.close)
        h.open()
        import threading
        slow = {}

        def call():
            other = Http(self.server.http_port)
            other.sid, other.next_id = h.sid, 41
            slow["answer"] = other.tool("sleep", {"ms": 300})
            other.close()
        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(0.1)
        h.next_id = 41
        again = h.request("ping")
        self.assertIsNone(again.json["id"], again)
        self.assertEqual(again.json["error"]["code"], -32600)
        thread.join(5)
        self.assertEqual(slow["answer"].json["id"], 42)


if __name__ == "__main__":
    unittest.main()
