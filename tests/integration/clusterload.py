"""A node killed mid-load, measured: shared by the process-level cluster
test (test_cluster.py) and the one in containers (tests/cluster).

ZeroMQ sessions keep one request in flight each, every request to the next
live node, so a session's first answer after the kill comes as soon as a
node can give it. HTTP sessions are driven by six clients through
http_port(live, turn) (each node in turn, or HAProxy). The takeover time of
a session is from the kill to the first result of a request sent after it.
"""

import json
import os
import socket
import threading
import time

import zmq

from httptest import Http
from mcpztest import Msg, check_clients, idkey, percentile, text_of


def kill_mid_load(case, clients, victim, kill, zmq_sids, web_sids, owned, http_port, lease_ms,
                  timeout=30):
    """clients: one ZeroMQ Client per node; victim: its index; kill():
    kills it. Asserts that every request to a live node is answered once
    and every session is served after the kill; returns the report line."""
    count = len(clients)
    alive = [True] * count
    killed_at = [None]
    first_after = {}        #  sid -> seconds from the kill to its first result
    refused = {"zmq": 0, "http": 0}
    lost_with_node = []     #  requests in flight on the victim's own connections
    stop = threading.Event()
    dying = threading.Event()
    http_problems = []

    def note(sid, ok, sent_at):
        #  Only what was asked after the kill proves a takeover
        if ok and killed_at[0] is not None and sent_at > killed_at[0] and sid not in first_after:
            first_after[sid] = time.monotonic() - killed_at[0]

    def http_load(shard):
        https = {}
        turn = 0
        while not stop.is_set():
            for sid in shard:
                turn += 1
                live = [i for i in range(count) if alive[i]]
                port = http_port(live, turn)
                h = https.get(port) or https.setdefault(port, Http(port, timeout=10))
                h.sid = sid
                sent_at = time.monotonic()
                try:
                    answer = h.tool("echo", {"text": sid})
                except (ConnectionError, OSError, socket.timeout) as e:
                    h.conn.close()
                    if dying.is_set():
                        lost_with_node.append(sid)      #  in flight on the node as it died
                    else:
                        http_problems.append("%s via %d: %r" % (sid, port, e))
                    continue
                if answer.status == 200:
                    ok = text_of(answer.json["result"]) == sid
                    if not ok:
                        http_problems.append("wrong answer %r" % answer)
                    note(sid, ok, sent_at)
                elif answer.status == 503:
                    refused["http"] += 1
                elif answer.status in (502, 504) and dying.is_set():
                    lost_with_node.append(sid)          #  HAProxy: it died holding it
                else:
                    http_problems.append("%s via %d: %r" % (sid, port, answer))
                if stop.is_set():
                    break
        for h in https.values():
            h.close()

    loaders = [threading.Thread(target=http_load, args=(web_sids[k::6],), daemon=True)
               for k in range(6)]
    case.addCleanup(stop.set)
    for loader in loaders:
        loader.start()
    inflight = {}           #  (node, id key) -> (sid, sent at)
    turns = {}

    def send(sid):
        live = [i for i in range(count) if alive[i]]
        turns[sid] = turns.get(sid, 0) + 1
        node = live[turns[sid] % len(live)]
        rid = clients[node].call_tool(sid, "echo", {"text": sid})
        inflight[(node, idkey(rid))] = (sid, time.monotonic())

    for sid in zmq_sids:
        send(sid)
    poller = zmq.Poller()
    for c in clients:
        poller.register(c.sock, zmq.POLLIN)
    started = time.monotonic()
    answered = 0
    while time.monotonic() - started < timeout:
        if not killed_at[0] and answered >= 2 * len(zmq_sids):
            dying.set()
            kill()
            killed_at[0] = time.monotonic()
            alive[victim] = False
            poller.unregister(clients[victim].sock)
            for (node, key), (sid, _) in list(inflight.items()):
                if node == victim:
                    lost_with_node.append(sid)
                    del inflight[(node, key)]
                    send(sid)
            clients[victim].close()
        if killed_at[0] and all(s in first_after for s in zmq_sids) \
           and time.monotonic() - killed_at[0] > 3:
            break
        for sock, _ in poller.poll(100):
            node = [i for i, c in enumerate(clients) if c.sock is sock][0]
            while True:
                try:
                    m = Msg(sock.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    break
                clients[node]._file(m)
                rid = m.id if m.kind == "MSG" else (m.json or {}).get("id")
                sid, sent_at = inflight.pop((node, idkey(rid)), (None, 0)) if rid is not None \
                    else (None, 0)
                if sid is None:
                    continue
                answered += 1
                if m.kind == "ERR":
                    case.assertEqual(m.status, 503, m)
                    refused["zmq"] += 1
                else:
                    case.assertEqual(text_of(m.json["result"]), sid)
                    note(sid, True, sent_at)
                send(sid)
    #  The HTTP loaders go round their sessions one by one: give them the time
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(s not in first_after for s in web_sids):
        time.sleep(0.2)
    stop.set()
    for loader in loaders:
        loader.join(30)
    #  What the last sends are owed
    for (node, key), _ in inflight.items():
        clients[node].wait(json.loads(key), timeout=10)
    case.assertEqual(http_problems, [])
    #  Every request to a live node got exactly one answer
    check_clients([c for i, c in enumerate(clients) if alive[i]])
    #  No session lost: each was served after the kill, the victim's too
    missing = [s for s in zmq_sids + web_sids if s not in first_after]
    case.assertEqual(missing, [], "sessions not served after the kill")
    takeovers = sorted(first_after[s] for s in owned)
    by_front = {front: sorted(first_after[s] for s in owned if s in sids) or [0.0]
                for front, sids in (("zmq", set(zmq_sids)), ("http", set(web_sids)))}
    report = ("takeover of %d sessions after SIGKILL: p50 %.2f s, max %.2f s (zmq p50 %.2f max "
              "%.2f, http p50 %.2f max %.2f; lease %d ms); 503 answers meanwhile: zmq %d, "
              "http %d; requests lost with the killed node's own connections: %d"
              % (len(takeovers), percentile(takeovers, 50), takeovers[-1],
                 percentile(by_front["zmq"], 50), by_front["zmq"][-1],
                 percentile(by_front["http"], 50), by_front["http"][-1],
                 lease_ms, refused["zmq"], refused["http"], len(lost_with_node)))
    print("\n" + report)
    with open(os.path.join(os.environ.get("MCPZ_REPORT_DIR", "/tmp"), "mcpz-takeover.txt"), "a") as f:
        f.write(report + "\n")
    case.assertLess(takeovers[-1], 15, report)
    return report
