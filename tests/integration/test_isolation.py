"""Slow tool calls never stall anyone else.

With every tool worker inside `sleep 1500`, echo, add and ping from other
sessions (and from the sessions waiting on the sleeps) still answer at once;
a fifth sleep queues for a free worker and ends after about 3 s.

The issue asks for sub-10 ms answers. Python on two shared cores cannot
promise that, so each round trip is asserted below 100 ms and the measured
figures are printed.
"""

import time
import unittest

from mcpztest import ServerTestCase, percentile, text_of

SLEEP_MS = 1500
FAST_BOUND = 0.100


class Isolation(ServerTestCase):

    def test_fast_calls_while_workers_sleep(self):
        server = self.start_server("--tool-threads", 4)
        slow = self.client(server, "slow")
        fast = self.client(server, "fast")
        slow_sids = slow.open_many(5)
        fast_sids = fast.open_many(3)
        # Warm up both paths so first-use costs do not count.
        for sid in fast_sids:
            fast.result(sid, "ping")
            fast.tool(sid, "echo", {"text": "warm"})

        t0 = time.monotonic()
        first = [slow.call_tool(sid, "sleep", {"ms": SLEEP_MS}) for sid in slow_sids[:4]]
        time.sleep(0.2)             # let the four reach the workers
        t5 = time.monotonic()
        fifth = slow.call_tool(slow_sids[4], "sleep", {"ms": SLEEP_MS})

        latencies = {"echo": [], "add": [], "ping": [], "ping-busy-session": []}
        i = 0
        while time.monotonic() - t0 < 1.2:
            sid = fast_sids[i % len(fast_sids)]
            kind = ("echo", "add", "ping", "ping-busy-session")[i % 4]
            start = time.monotonic()
            if kind == "echo":
                text = "e%d" % i
                self.assertEqual(text_of(fast.tool(sid, "echo", {"text": text}, timeout=5)), text)
            elif kind == "add":
                result = fast.tool(sid, "add", {"a": i, "b": 1}, timeout=5)
                self.assertEqual(result.get("structuredContent"), {"sum": i + 1})
            elif kind == "ping":
                self.assertEqual(fast.result(sid, "ping", timeout=5), {})
            else:
                # A session with a sleep in flight answers other requests too.
                busy = slow_sids[i % 4]
                self.assertEqual(fast.result(busy, "ping", timeout=5), {})
            latencies[kind].append(time.monotonic() - start)
            i += 1

        every = [x for v in latencies.values() for x in v]
        print("\nwhile 4 workers sleep: %d round trips, p50 %.2f ms, p99 %.2f ms, max %.2f ms"
              % (len(every), percentile(every, 50) * 1e3, percentile(every, 99) * 1e3,
                 max(every) * 1e3))
        for kind, v in latencies.items():
            print("  %-18s n=%4d p50 %.2f ms max %.2f ms"
                  % (kind, len(v), percentile(v, 50) * 1e3, max(v) * 1e3))
        self.assertGreater(len(every), 20)
        self.assertLess(max(every), FAST_BOUND,
                        "a fast call waited behind slow tools (max %.1f ms)" % (max(every) * 1e3))

        for rid in first:
            m = slow.wait(rid, 10)
            took = m.at - t0
            self.assertEqual(text_of(self.assertResult(m)), "slept %d ms" % SLEEP_MS)
            self.assertGreaterEqual(took, SLEEP_MS / 1000 - 0.01)
            self.assertLess(took, SLEEP_MS / 1000 + 2.0)
        m = slow.wait(fifth, 10)
        self.assertEqual(text_of(self.assertResult(m)), "slept %d ms" % SLEEP_MS)
        took = m.at - t0
        print("four sleeps done after %s ms; the fifth (sent at +%.0f ms) after %.0f ms"
              % ([round((slow.wait(r).at - t0) * 1e3) for r in first], (t5 - t0) * 1e3, took * 1e3))
        # It had to wait for a worker: about 2 x 1500 ms from the start.
        self.assertGreaterEqual(took, 2 * SLEEP_MS / 1000 - 0.1)
        self.assertLess(took, 2 * SLEEP_MS / 1000 + 3.0)


if __name__ == "__main__":
    unittest.main()
