"""A soak of mcpzd (issue 14): mixed ZeroMQ and HTTP load on loopback for
a bounded time, with a PostgreSQL restart in the middle.

What it proves, or fails on:
- every ZeroMQ request is answered exactly once (a result, a JSON-RPC
  error or an ERR), including the ones whose client vanished mid-call and
  came back with LISTEN, except a cancelled call, which MCP leaves
  unanswered (an answer that raced the cancellation counts too);
- every session that was answered and not closed still works at the end
  (the newest 150 are kept, the rest closed; sessions whose client hung up
  expire after --session-ttl 60, so what stays in memory is bounded);
- RSS and open descriptors stay flat: the median of the last fifth of the
  run against the median of the fifth after warm-up (RSS within 15% or
  16 MB, descriptors within 8);
- nothing is left in flight at the end (stats).

Writes bench/soak.csv and bench/soak.svg (RSS and descriptors over time,
the PostgreSQL restart marked). Usage: soak.py [--seconds N] [--out DIR]
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import zmq  # noqa: E402

from httptest import Http  # noqa: E402
from mcpztest import REPO, Client, Server, free_port  # noqa: E402

PG_SH = os.path.join(REPO, "tests", "pg.sh")
KEPT_MAX = 150      # sessions left open at once: what stays in memory is bounded


class Tally:
    """What the load did, under one lock (threads of the soak only)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.problems = []

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def problem(self, text):
        with self.lock:
            if len(self.problems) < 50:
                self.problems.append(text)


def answered(m):
    return m.kind in ("MSG", "ERR") and (m.kind == "ERR" or m.json.get("result") is not None
                                         or m.json.get("error") is not None)


def zmq_worker(endpoint, stop, tally, kept, seed):
    """Sessions over ZeroMQ: calls of every kind, cancellations, closes,
    and a client that vanishes mid-call and comes back with LISTEN."""
    rnd = random.Random(seed)
    c = Client(endpoint, "soak-%d" % seed)
    while not stop.is_set():
        try:
            sid = c.open(timeout=15)
        except AssertionError:          # 503 while PostgreSQL is down
            tally.add("open_refused")
            c.sent.clear()
            c.answers.clear()
            c.inbox.clear()
            time.sleep(0.2)
            continue
        tally.add("opened")
        for _ in range(rnd.randint(5, 30)):
            if stop.is_set():
                break
            roll = rnd.random()
            if roll < 0.5:
                rid = c.call_tool(sid, "echo", {"text": "x" * rnd.randint(1, 4000)})
            elif roll < 0.65:
                rid = c.call_tool(sid, "add", {"a": 1, "b": 2})
            elif roll < 0.8:
                rid = c.call_tool(sid, "progress", {"steps": 3, "interval_ms": 5},
                                  meta={"progressToken": "p"})
            elif roll < 0.9:
                rid = c.call_tool(sid, "sleep", {"ms": rnd.randint(10, 200)})
            else:
                rid = c.call_tool(sid, "sleep", {"ms": 5000})
                time.sleep(0.02)
                c.notify(sid, "notifications/cancelled", {"requestId": rid, "reason": "soak"})
                tally.add("cancelled")
                c.sent.pop(json.dumps(rid), None)
                continue
            try:
                m = c.wait(rid, 20)
                tally.add("answered" if answered(m) else "odd")
            except AssertionError as e:
                tally.problem("zmq: %s" % e)
        #  Exactly one answer for each, none twice (notifications aside)
        c.inbox.clear()
        try:
            c.check(grace=0.05)
        except AssertionError as e:
            tally.problem("zmq: %s" % e)
        c.sent.clear()
        c.answers.clear()
        roll = rnd.random()
        if roll < 0.4:
            m = c.close_session(sid)
            tally.add("closed" if m.kind == "OK" else "close_refused")
        elif roll < 0.55:
            #  Vanish mid-call; a new socket collects the answer with LISTEN
            rid = c.call_tool(sid, "sleep", {"ms": 100})
            last = int(c.last_eid.get(sid, 0) or 0)
            c.checked = False
            c.close()
            tally.add("vanished")
            time.sleep(0.3)
            c = Client(endpoint, "soak-%d" % seed)
            try:
                #  The call may still wait for a worker (cancelled sleeps hold
                #  theirs): its answer is kept when it comes, LISTEN again
                deadline = time.monotonic() + 15
                while True:
                    reply, replayed = c.listen_replay(sid, last, timeout=10)
                    if (reply.kind != "OK" or any(m.id == rid for m in replayed)
                            or time.monotonic() > deadline):
                        break
                    time.sleep(0.5)
                if reply.kind == "OK" and any(m.id == rid for m in replayed):
                    tally.add("replayed")
                elif reply.kind == "OK" and not reply.json.get("complete", True):
                    tally.add("replay_incomplete")
                else:
                    tally.problem("zmq: the answer to %s never came back on LISTEN: %r %r"
                                  % (rid, reply, replayed))
            except AssertionError as e:
                tally.problem("zmq listen: %s" % e)
            with tally.lock:
                kept.append(sid)
        else:
            with tally.lock:
                kept.append(sid)
        #  The oldest kept session goes once there are enough: memory in use
        #  stays bounded, so what grows is a leak
        with tally.lock:
            oldest = kept.pop(0) if len(kept) > KEPT_MAX else None
        if oldest:
            m = c.close_session(oldest)
            tally.add("closed" if m.kind == "OK" else "close_refused")
        c.inbox.clear()
    c.checked = False
    c.close()


def http_worker(port, stop, tally, seed):
    """Sessions over HTTP: JSON and SSE answers, DELETE, and clients that
    hang up mid-request."""
    rnd = random.Random(seed)
    while not stop.is_set():
        web = Http(port, timeout=20)
        try:
            web.open()
            tally.add("http_opened")
            for _ in range(rnd.randint(3, 15)):
                if rnd.random() < 0.2:
                    answer = web.tool("progress", {"steps": 2, "interval_ms": 5}, meta={"progressToken": 1})
                else:
                    answer = web.tool("echo", {"text": "h" * rnd.randint(1, 2000)})
                tally.add("http_answered" if answer.status in (200, 503) else "http_odd")
            if rnd.random() < 0.3:
                #  Hang up while a slow call runs
                web.conn.request("POST", "/mcp", body=json.dumps(
                    {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                     "params": {"name": "sleep", "arguments": {"ms": 300}}}), headers=web.headers())
                web.conn.close()
                tally.add("http_hung_up")
            else:
                web.send("DELETE")
                tally.add("http_deleted")
        except (AssertionError, OSError, ValueError):
            tally.add("http_refused")    # 503 while PostgreSQL is down, or a drop
        finally:
            web.close()
        time.sleep(0.05)


def pg_ctl(pg_dir, url, action):
    """Stops or starts the same PostgreSQL (pg.sh start would make a new
    one: the restart must keep the database)."""
    bins = sorted(os.listdir("/usr/lib/postgresql"))
    with open(os.path.join(pg_dir, "data")) as f:
        data = f.read().strip()
    argv = ["/usr/lib/postgresql/%s/bin/pg_ctl" % bins[-1], "-D", os.path.join(data, "db"), "-w", "-t", "60"]
    if action == "stop":
        argv += ["-m", "fast", "stop"]
    else:
        port = url.rsplit(":", 1)[1].split("/")[0]
        argv += ["-l", os.path.join(data, "server.log"), "-o",
                 "-c listen_addresses=127.0.0.1 -c port=%s -c unix_socket_directories=%s" % (port, data),
                 "start"]
    if os.getuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    subprocess.run(argv, check=True, capture_output=True, timeout=90)


def sample(pid):
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return rss / 1024.0, len(os.listdir("/proc/%d/fd" % pid))


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else 0


def svg(samples, restart, path):
    """RSS (MiB) and descriptors over seconds, as an SVG of two lines."""
    width, height, pad = 720, 300, 40
    end = samples[-1][0] or 1
    top_rss = max(s[1] for s in samples) * 1.2 or 1
    top_fds = max(s[2] for s in samples) * 1.2 or 1

    def line(index, top, colour):
        points = " ".join("%.1f,%.1f" % (pad + (width - 2 * pad) * s[0] / end,
                                         height - pad - (height - 2 * pad) * s[index] / top)
                          for s in samples)
        return '<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>' % (colour, points)
    x = pad + (width - 2 * pad) * restart / end if restart else None
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
             'font-size="12">' % (width, height),
             '<rect width="100%" height="100%" fill="white"/>',
             '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (pad, height - pad, width - pad, height - pad),
             line(1, top_rss, "#1f77b4"), line(2, top_fds, "#d62728"),
             '<text x="%d" y="20" fill="#1f77b4">RSS MiB (max %.1f)</text>' % (pad, max(s[1] for s in samples)),
             '<text x="%d" y="36" fill="#d62728">open descriptors (max %d)</text>' % (pad, max(s[2] for s in samples)),
             '<text x="%d" y="%d">seconds (0 to %d)</text>' % (width // 2 - 40, height - 10, end)]
    if x:
        parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="gray" stroke-dasharray="4"/>'
                     % (x, pad, x, height - pad))
        parts.append('<text x="%.1f" y="%d" fill="gray">PostgreSQL restart</text>' % (x + 4, pad + 12))
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--out", default=os.path.join(REPO, "bench"))
    opts = parser.parse_args()
    pg_dir = tempfile.mkdtemp(prefix="mcpz-soak-pg-")
    subprocess.run([PG_SH, "start", pg_dir], check=True, capture_output=True, timeout=120)
    with open(os.path.join(pg_dir, "url")) as f:
        url = f.read().strip()
    port = free_port()
    server = Server(args=["--http", port, "--store-timeout", 1000, "--lease-ms", 60000,
                          "--session-ttl", 60, "--cleanup-interval", 10], store=url)
    stop, tally, kept, samples = threading.Event(), Tally(), [], []
    threads = [threading.Thread(target=zmq_worker, args=(server.endpoint, stop, tally, kept, n))
               for n in range(3)]
    threads += [threading.Thread(target=http_worker, args=(port, stop, tally, 10 + n)) for n in range(2)]
    started = time.monotonic()
    for t in threads:
        t.start()
    restart_at, restarted = opts.seconds / 2.0, None
    try:
        while time.monotonic() - started < opts.seconds:
            now = time.monotonic() - started
            rss, fds = sample(server.proc.pid)
            samples.append((round(now, 1), rss, fds))
            if restarted is None and now >= restart_at:
                restarted = now
                pg_ctl(pg_dir, url, "stop")
                time.sleep(3)
                pg_ctl(pg_dir, url, "start")
                tally.add("pg_outage_s", int(time.monotonic() - started - now))
            time.sleep(2)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    #  Every kept session still answers
    lost = 0
    check = Client(server.endpoint, "soak-check")
    for sid in kept:
        m = check.wait(check.request(sid, "ping"), 15)
        if m.kind != "MSG":
            lost += 1
            tally.problem("session %s lost: %r" % (sid, m))
    check.checked = False
    check.close()
    #  Calls cut off by the end (a cancelled sleep ends when its worker does)
    deadline = time.monotonic() + 15
    while True:
        inflight = sum(h["inflight"] for h in server.stats()["hosts"])
        if not inflight or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if inflight:
        tally.problem("%d calls still in flight at the end" % inflight)
    server.cleanup()
    subprocess.run([PG_SH, "stop", pg_dir], capture_output=True, timeout=120)
    warm = [s for s in samples if 0.2 * opts.seconds <= s[0] < 0.4 * opts.seconds]
    last = [s for s in samples if s[0] >= 0.8 * opts.seconds]
    rss_warm, rss_last = median([s[1] for s in warm]), median([s[1] for s in last])
    fds_warm, fds_last = median([s[2] for s in warm]), median([s[2] for s in last])
    if rss_last > max(rss_warm * 1.15, rss_warm + 16):
        tally.problem("RSS grew: %.1f MiB after warm-up, %.1f at the end" % (rss_warm, rss_last))
    if fds_last > fds_warm + 8:
        tally.problem("descriptors grew: %d after warm-up, %d at the end" % (fds_warm, fds_last))
    os.makedirs(opts.out, exist_ok=True)
    with open(os.path.join(opts.out, "soak.csv"), "w") as f:
        f.write("seconds,rss_mib,fds\n" + "".join("%s,%.1f,%d\n" % s for s in samples))
    svg(samples, restarted, os.path.join(opts.out, "soak.svg"))
    summary = {"seconds": opts.seconds, "counts": tally.counts, "kept_sessions": len(kept),
               "lost_sessions": lost, "rss_mib": {"start": samples[0][1], "warm": rss_warm,
                                                  "end": rss_last, "max": max(s[1] for s in samples)},
               "fds": {"start": samples[0][2], "warm": fds_warm, "end": fds_last,
                       "max": max(s[2] for s in samples)},
               "problems": tally.problems}
    print(json.dumps(summary, indent=1))
    with open(os.path.join(opts.out, "soak.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return 1 if tally.problems else 0


if __name__ == "__main__":
    sys.exit(main())
