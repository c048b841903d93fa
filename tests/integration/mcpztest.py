"""mcpztest - helpers for the black-box integration tests of mcpz.

The tests drive a real `mcpzd` over real ZeroMQ sockets (loopback TCP and
ipc only). Nothing here knows the server's internals; everything follows
spec/mcpz-1.md (wire protocol) and spec/control.md (flags, control socket).

Pieces:

  Server      starts mcpzd in a temporary directory, waits for its `ready`
              log line, keeps draining stdout/stderr, stops it (SIGTERM,
              SIGKILL fallback) and removes the directory.
  Client      one DEALER socket speaking MCPZ/1. It tracks every request id
              it sends and every answer it gets, so a test can assert that
              each request got exactly one answer (spec/mcpz-1.md 5).
  Msg         one server message (5 frames) with its parsed JSON body.
  control()   one request/reply on the control socket.
  run_ctl()   runs mcpzctl.
  ServerTestCase  unittest.TestCase with start_server() / client() that
              clean up after themselves and check exactly-once answers.

Every wait is bounded; no call here can block forever.
"""

import atexit
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MCPZD = os.environ.get("MCPZD") or os.path.join(REPO, "build", "mcpzd")
MCPZCTL = os.environ.get("MCPZCTL") or os.path.join(REPO, "build", "mcpzctl")
PYTHON = sys.executable or "/usr/bin/python3"

SIGNATURE = b"MCPZ/1"
VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST = "2025-11-25"
DEMO_TOOLS = ("echo", "add", "sleep", "progress", "fail", "roots", "touch")

#  Default bound for one answer. Generous: the machine has two cores and
#  the suite may run next to a build.
TIMEOUT = 10.0
#  How long to keep listening for duplicate answers after the last one.
GRACE = 0.2

VERBOSE = bool(os.environ.get("MCPZ_TEST_VERBOSE"))

_SID_RE = re.compile(r"^[0-9a-f]{32}$")

CTX = zmq.Context()


@atexit.register
def _destroy_context():
    CTX.destroy(linger=0)


def _die_with_parent():
    """Runs in the child before exec: SIGKILL it when the test process dies
    (e.g. killed by ctest's timeout), so no mcpzd outlives its test."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def sid_valid(sid):
    return isinstance(sid, str) and bool(_SID_RE.match(sid))


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def tcp_endpoint():
    return "tcp://127.0.0.1:%d" % free_port()


def port_is_bound(port):
    """True when something (e.g. mcpzd) holds 127.0.0.1:port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def idkey(rid):
    """Dictionary key for a JSON-RPC id: 1, 1.0, True and "1" stay apart."""
    return json.dumps(rid, sort_keys=True)


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def text_of(result):
    """Concatenated text blocks of a CallToolResult."""
    texts = [block.get("text", "") for block in result.get("content", [])
             if isinstance(block, dict) and block.get("type") == "text"]
    return "".join(t if isinstance(t, str) else repr(t) for t in texts)


def init_params(version=LATEST, name="mcpztest", capabilities=True):
    params = {"protocolVersion": version,
              "clientInfo": {"name": name, "version": "1.0"}}
    if capabilities:
        params["capabilities"] = {}
    return params


def pg_url():
    """The test PostgreSQL's URL (ctest's fixture writes it), or None."""
    path = os.environ.get("MCPZ_TEST_PG_URL_FILE")
    if path and os.path.exists(path):
        with open(path) as f:
            return f.read().strip()
    return None


def psql(url, sql):
    out = subprocess.run(["psql", url, "-XAtc", sql], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError("psql failed: %s" % out.stderr)
    return out.stdout.strip()


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(p / 100.0 * (len(ordered) - 1)))))
    return ordered[k]


# --------------------------------------------------------------------------
# Server process

class ServerError(AssertionError):
    pass


class Server:
    """One mcpzd process in its own temporary directory.

    listen:  "tcp" (a free loopback port), "ipc" (a socket in the temp dir),
             an endpoint string, a list of them, or None to pass no --listen.
    control: True for ipc://TMP/ctl, an endpoint string, or None for none.
    store:   value of --store, or None to pass none.
    ready_probe: wait for the control socket to answer instead of the
             `ready` log line (which --log-level error/warn hides).
    args:    further command-line arguments.
    "{tmp}" in listen endpoints and args is replaced by the temp directory.
    env:     extra environment variables (added to a clean copy of ours,
             with every MCPZ_* variable removed first).
    """

    def __init__(self, args=(), listen="tcp", control=True, store="none",
                 env=None, start=True, ready_timeout=10.0, ready_probe=False):
        self.tmp = tempfile.mkdtemp(prefix="mcpz-it-")
        self.endpoints = []
        if listen == "tcp":
            self.endpoints = [tcp_endpoint()]
        elif listen == "ipc":
            self.endpoints = ["ipc://%s/mcpz.sock" % self.tmp]
        elif isinstance(listen, str):
            self.endpoints = [listen]
        elif listen:
            self.endpoints = list(listen)
        #  "{tmp}" in an endpoint or argument stands for the temp directory.
        self.endpoints = [ep.replace("{tmp}", self.tmp) for ep in self.endpoints]
        if control is True:
            self.control_path = os.path.join(self.tmp, "ctl")
            self.control_ep = "ipc://" + self.control_path
        elif isinstance(control, str):
            self.control_ep = control
            self.control_path = control[6:] if control.startswith("ipc://") else None
        else:
            self.control_ep = None
            self.control_path = None
        argv = [MCPZD]
        for ep in self.endpoints:
            argv += ["--listen", ep]
        if self.control_ep:
            argv += ["--control", self.control_ep]
        if store is not None:
            argv += ["--store", store]
        argv += [str(a).replace("{tmp}", self.tmp) for a in args]
        self.argv = argv
        self.env = clean_env(env)
        self.proc = None
        self.expect_exit = False
        self.stderr_lines = []
        self.stdout_lines = []
        self._ready = threading.Event()
        self._threads = []
        self.ready_timeout = ready_timeout
        self.ready_probe = ready_probe
        if start:
            try:
                self.start()
            except BaseException:
                try:
                    self.cleanup()  # nobody else holds this object yet
                except ServerError:
                    pass
                raise

    @property
    def endpoint(self):
        return self.endpoints[0]

    def start(self):
        if VERBOSE:
            print("starting: %s" % " ".join(self.argv), file=sys.stderr)
        self.proc = subprocess.Popen(self.argv, cwd=self.tmp, env=self.env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=_die_with_parent)
        for stream, sink, watch in ((self.proc.stderr, self.stderr_lines, True),
                                    (self.proc.stdout, self.stdout_lines, False)):
            t = threading.Thread(target=self._drain, args=(stream, sink, watch),
                                 daemon=True)
            t.start()
            self._threads.append(t)
        try:
            self.wait_ready(self.ready_timeout)
        except BaseException:
            self.expect_exit = True     # reported here; cleanup need not
            raise
        return self

    def _drain(self, stream, sink, watch):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            sink.append(line)
            if VERBOSE:
                print("mcpzd: %s" % line, file=sys.stderr)
            if watch and re.search(r"\bready\b", line):
                self._ready.set()
        stream.close()

    def wait_ready(self, timeout):
        if self.ready_probe:
            return self._probe_ready(timeout)
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.02):
            if self.proc.poll() is not None:
                time.sleep(0.1)     # let the drain threads catch the last lines
                raise ServerError("mcpzd exited with %s before ready:\n%s"
                                  % (self.proc.returncode, self.stderr_tail()))
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError("mcpzd not ready within %.0f s:\n%s"
                                  % (timeout, self.stderr_tail()))

    def _probe_ready(self, timeout):
        """Readiness without the log line (e.g. --log-level error hides the
        info-level `ready`): the control socket answers stats."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                time.sleep(0.1)
                raise ServerError("mcpzd exited with %s before ready:\n%s"
                                  % (self.proc.returncode, self.stderr_tail()))
            try:
                if control(self.control_ep, {"command": "stats"}, 0.2).get("ok"):
                    return
            except NoAnswer:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError("mcpzd control socket silent for %.0f s:\n%s"
                                  % (timeout, self.stderr_tail()))
            time.sleep(0.02)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, signum):
        self.expect_exit = True
        if self.running():
            self.proc.send_signal(signum)

    def wait(self, timeout):
        """Exit status, or None when still running after timeout seconds.
        (Waiting means the test expects an exit: clients stop treating it as
        a crash.)"""
        self.expect_exit = True
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, signum=signal.SIGTERM, timeout=5.0):
        """Signals the server and returns its exit status; SIGKILL after
        timeout (then the status is the negative signal number)."""
        self.expect_exit = True
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
            if self.wait(timeout) is None:
                self.kill()
        return self.proc.returncode

    def kill(self):
        self.expect_exit = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.wait(5)

    def join_output(self, timeout=2.0):
        for t in self._threads:
            t.join(timeout)

    def cleanup(self):
        """Stops the server (SIGTERM, SIGKILL after 5 s), removes its
        directory, then fails when it did not exit 0 on SIGTERM, had died
        on its own, or printed a sanitizer report."""
        problem = None
        if self.proc is not None:
            if self.proc.poll() is None:
                status = self.stop(signal.SIGTERM, 5.0)
                if status != 0:
                    problem = "exit status %s after SIGTERM (SIGKILL after 5 s)" % status
            elif not self.expect_exit:
                problem = "it died on its own with status %s" % self.proc.returncode
            self.expect_exit = True
            self.kill()
            self.join_output()
            reports = [l for l in self.stderr_lines
                       if "runtime error:" in l or "AddressSanitizer" in l
                       or "LeakSanitizer" in l]
            if reports and problem is None:
                problem = "sanitizer report: %s" % reports[0]
        shutil.rmtree(self.tmp, ignore_errors=True)
        if problem:
            raise ServerError("mcpzd (%s): %s\n%s"
                              % (" ".join(self.argv[1:]), problem, self.stderr_tail()))

    def stderr_text(self):
        return "\n".join(self.stderr_lines)

    def stderr_tail(self, n=40):
        return "\n".join(self.stderr_lines[-n:])

    def stats(self, timeout=5.0):
        return control(self.control_ep, {"command": "stats"}, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPZ_")}
    if extra:
        env.update(extra)
    return env


def run_mcpzd(args, env=None, timeout=10.0, cwd=None):
    """Runs mcpzd to completion (for flags that must make it exit).
    Returns (returncode, stdout, stderr); returncode None when it had to be
    killed after timeout seconds."""
    tmp = cwd or tempfile.mkdtemp(prefix="mcpz-it-")
    try:
        proc = subprocess.Popen([MCPZD] + list(args), cwd=tmp, env=clean_env(env),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        try:
            out, err = proc.communicate(timeout=timeout)
            return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=5)
            return None, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    finally:
        if cwd is None:
            shutil.rmtree(tmp, ignore_errors=True)


def run_ctl(args, timeout=20.0, cwd=None, env=None):
    """Runs mcpzctl; returns subprocess.CompletedProcess with text output.
    A hang past timeout fails the caller with subprocess.TimeoutExpired."""
    return subprocess.run([MCPZCTL] + list(args), cwd=cwd, env=clean_env(env),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


# --------------------------------------------------------------------------
# Control socket

class NoAnswer(AssertionError):
    pass


def control(endpoint, request, timeout=5.0):
    """Sends one control request (a dict, or raw bytes) over a REQ socket and
    returns the parsed JSON reply. Raises NoAnswer on timeout and
    AssertionError when the reply is not one JSON frame."""
    sock = CTX.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        data = request if isinstance(request, bytes) else dumps(request)
        sock.send(data)
        if not sock.poll(int(timeout * 1000)):
            raise NoAnswer("control socket %s: no answer to %r within %.1f s"
                           % (endpoint, data[:200], timeout))
        frames = sock.recv_multipart()
        if len(frames) != 1:
            raise AssertionError("control reply has %d frames: %r" % (len(frames), frames))
        try:
            return json.loads(frames[0])
        except ValueError:
            raise AssertionError("control reply is not JSON: %r" % frames[0][:500])
    finally:
        sock.close(linger=0)


# --------------------------------------------------------------------------
# Wire client

class Msg:
    """One message from the server: [MCPZ/1, KIND, SID, EVENT_ID, BODY]."""

    __slots__ = ("frames", "kind", "sid", "eid", "body", "json", "bad_json", "at",
                 "replay")

    def __init__(self, frames):
        self.frames = frames
        self.replay = False     # set when it is a LISTEN replay of an event
        self.at = time.monotonic()
        get = lambda i: frames[i] if len(frames) > i else b""
        self.kind = get(1).decode("latin-1")
        self.sid = get(2).decode("latin-1")
        self.eid = get(3).decode("latin-1")
        self.body = get(4)
        self.bad_json = False
        try:
            self.json = json.loads(self.body.decode("utf-8")) if self.body else None
        except ValueError:
            self.json = None
            self.bad_json = True

    def _get(self, key, default=None):
        return self.json.get(key, default) if isinstance(self.json, dict) else default

    @property
    def id(self):
        return self._get("id")

    @property
    def method(self):
        return self._get("method")

    @property
    def params(self):
        return self._get("params")

    @property
    def result(self):
        return self._get("result")

    @property
    def error(self):
        return self._get("error")

    @property
    def status(self):
        return self._get("status")

    def is_response(self):
        j = self.json
        return (self.kind == "MSG" and isinstance(j, dict) and "id" in j
                and "method" not in j and ("result" in j or "error" in j))

    def is_notification(self, method=None):
        j = self.json
        return (self.kind == "MSG" and isinstance(j, dict) and "method" in j
                and "id" not in j and (method is None or j["method"] == method))

    def __repr__(self):
        body = self.body if len(self.body) <= 400 else self.body[:400] + b"..."
        return "Msg(%s sid=%s eid=%r %s)" % (self.kind, self.sid or '""', self.eid,
                                             body.decode("utf-8", "replace"))


class Sent:
    __slots__ = ("rid", "sid", "method", "at", "client")

    def __init__(self, rid, sid, method, client):
        self.rid, self.sid, self.method, self.client = rid, sid, method, client
        self.at = time.monotonic()


_ids = itertools.count(1)


def next_id():
    """Request ids unique across every client of this process."""
    return next(_ids)


class Client:
    """A DEALER socket speaking MCPZ/1, with answer bookkeeping.

    Every request sent through request()/send_body(expect_id=...) is
    remembered; every response or ERR naming a remembered id is filed under
    it. Anything else (notifications, OK, ERR or errors with id null, answers
    to ids we did not send) lands in `inbox` in arrival order, for the test
    to take with expect()/take(). Events a LISTEN replays go to `replays`
    (listen_replay() returns them) and must equal the originals. check()
    asserts every remembered request got exactly one answer, in the right
    session, that event ids only grew, and that no unread OK/ERR/response
    is left in the inbox.
    """

    def __init__(self, endpoint, name=None, curve=None):
        self.endpoint = endpoint
        self.name = name or endpoint
        self.sock = CTX.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve:
            #  (public key, secret key, server's public key), Z85
            self.sock.curve_publickey, self.sock.curve_secretkey, self.sock.curve_serverkey = \
                [k.encode() if isinstance(k, str) else k for k in curve]
        #  Unlimited queues on our side: a burst of thousands of requests must
        #  not block us, and answers we have not read yet must not be dropped.
        self.sock.setsockopt(zmq.SNDHWM, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.connect(endpoint)
        self.sent = {}          # idkey -> Sent
        self.answers = {}       # idkey -> [Msg]
        self.inbox = []         # unmatched messages, arrival order
        self.log = []           # every message, arrival order
        self.problems = []      # protocol violations seen while reading
        self.last_eid = {}      # sid -> last event id seen on this socket
        self.events = {}        # (sid, event id) -> body, every MSG seen
        self.listening = set()  # sids with a LISTEN awaiting its OK/ERR
        self.replays = []       # MSGs replayed by LISTEN, arrival order
        self.server = None      # a Server: waits fail fast when it dies
        self.checked = True     # ServerTestCase runs check() at cleanup
        self.closed = False

    # -- sending -----------------------------------------------------------

    def send_frames(self, frames):
        self.sock.send_multipart([f if isinstance(f, bytes) else f.encode() for f in frames])

    def send(self, cmd, sid, body):
        if isinstance(body, (dict, list)):
            body = dumps(body)
        self.send_frames([SIGNATURE, cmd, sid or b"", body])

    def expect_answer(self, rid, sid, method=None):
        """Registers an id sent by hand so check() covers it."""
        key = idkey(rid)
        if key in self.sent:
            raise AssertionError("test bug: id %r sent twice" % (rid,))
        self.sent[key] = Sent(rid, sid or "", method, self)

    def send_body(self, sid, body, expect_id=None, cmd="MSG"):
        """Sends a raw MSG body (bytes or JSON value). With expect_id the
        request is tracked like request() does."""
        if expect_id is not None:
            self.expect_answer(expect_id, sid)
        self.send(cmd, sid, body)

    def request(self, sid, method, params=None, rid=None):
        """Sends a JSON-RPC request; returns its id."""
        rid = next_id() if rid is None else rid
        body = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            body["params"] = params
        self.expect_answer(rid, sid, method)
        self.send("MSG", sid, body)
        return rid

    def notify(self, sid, method, params=None):
        body = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            body["params"] = params
        self.send("MSG", sid, body)

    def call_tool(self, sid, name, arguments=None, meta=None, rid=None):
        params = {"name": name}
        if arguments is not None:
            params["arguments"] = arguments
        if meta is not None:
            params["_meta"] = meta
        return self.request(sid, "tools/call", params, rid)

    # -- receiving ---------------------------------------------------------

    def _is_replay(self, m):
        """A MSG that a pending LISTEN replays: an event this socket has
        seen already, or one that answers nothing it is waiting for."""
        if m.kind != "MSG" or m.sid not in self.listening or not m.eid.isdigit():
            return False
        if (m.sid, m.eid) in self.events:
            return True
        if m.is_response() and m.id is not None:
            key = idkey(m.id)
            return key not in self.sent or key in self.answers
        return True

    def _file(self, m):
        self.log.append(m)
        if self._is_replay(m):
            m.replay = True
            self.replays.append(m)
            old = self.events.get((m.sid, m.eid))
            if old is not None and old != m.body:
                self.problems.append("replayed event %s of %s differs from the original:"
                                     " %r then %r" % (m.eid, m.sid, old, m.body))
            self.events[(m.sid, m.eid)] = m.body
            self.last_eid[m.sid] = max(self.last_eid.get(m.sid, 0), int(m.eid))
            return
        if m.kind in ("OK", "ERR"):
            self.listening.discard(m.sid)
        if len(m.frames) != 5 or m.frames[0] != SIGNATURE:
            self.problems.append("malformed server message (%d frames): %r"
                                 % (len(m.frames), m.frames[:5]))
        if m.kind not in ("MSG", "OK", "ERR"):
            self.problems.append("unknown server message kind: %r" % (m,))
        if m.bad_json or (m.body == b"" and len(m.frames) == 5):
            self.problems.append("server body is not JSON: %r" % (m,))
        if m.sid and not sid_valid(m.sid):
            self.problems.append("server sent a malformed session id: %r" % (m,))
        if m.kind == "MSG":
            if not m.eid.isdigit():
                self.problems.append("MSG without a decimal event id: %r" % (m,))
            else:
                last = self.last_eid.get(m.sid, 0)
                if int(m.eid) <= last:
                    self.problems.append("event id %s not above %d in session %s: %r"
                                         % (m.eid, last, m.sid, m))
                self.last_eid[m.sid] = max(last, int(m.eid))
                self.events[(m.sid, m.eid)] = m.body
            if not sid_valid(m.sid):
                self.problems.append("MSG without a session id: %r" % (m,))
        elif m.eid != "":
            self.problems.append("%s with a non-empty event id: %r" % (m.kind, m))
        if m.kind == "ERR":
            j = m.json
            if not (isinstance(j, dict) and isinstance(j.get("status"), int)
                    and isinstance(j.get("message"), str) and "id" in j):
                self.problems.append("ERR body lacks status/message/id: %r" % (m,))
        key = None
        if m.is_response():
            key = idkey(m.id) if m.id is not None else None
        elif m.kind == "ERR" and isinstance(m.json, dict) and m.json.get("id") is not None:
            key = idkey(m.json["id"])
        if key is not None and key in self.sent:
            answers = self.answers.setdefault(key, [])
            answers.append(m)
            if len(answers) > 1:
                self.problems.append("request id %s answered %d times: %r"
                                     % (key, len(answers), answers))
            sent = self.sent[key]
            if sid_valid(sent.sid):
                if m.sid != sent.sid:
                    self.problems.append("answer to id %s in session %r, sent in %r: %r"
                                         % (key, m.sid, sent.sid, m))
            elif sent.sid == "" and m.kind == "MSG" and not sid_valid(m.sid):
                self.problems.append("initialize answer without a session id: %r" % (m,))
            elif m.kind == "ERR" and m.sid != "" and not sid_valid(sent.sid):
                self.problems.append("ERR echoes an invalid session id: %r" % (m,))
        else:
            self.inbox.append(m)

    def recv(self, timeout=TIMEOUT):
        """Reads one message (filing it); returns it, or None on timeout.
        Raises ServerError at once when the server process has died."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if self.sock.poll(max(0, int(min(left, 0.25) * 1000))):
                break
            _check_alive([self])
            if left <= 0.25:
                return None
        m = Msg(self.sock.recv_multipart(zmq.NOBLOCK))
        self._file(m)
        return m

    def pump(self, duration=0.0):
        """Reads everything that arrives within duration seconds; returns the
        list of messages read."""
        got = []
        deadline = time.monotonic() + duration
        while True:
            m = self.recv(max(0.0, deadline - time.monotonic()))
            if m is None:
                return got
            got.append(m)

    def answered(self, rid):
        return idkey(rid) in self.answers

    def pending(self):
        return [s for k, s in self.sent.items() if k not in self.answers]

    def wait(self, rid, timeout=TIMEOUT):
        """The (first) answer to request rid, waiting up to timeout."""
        key = idkey(rid)
        deadline = time.monotonic() + timeout
        while key not in self.answers:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoAnswer("%s: no answer to request id %r within %.1f s; inbox: %r"
                               % (self.name, rid, timeout, self.inbox[-5:]))
            self.recv(left)
        return self.answers[key][0]

    def wait_all(self, timeout=TIMEOUT):
        wait_clients([self], timeout)

    def take(self, pred=None):
        """Removes and returns the first inbox message matching pred, or None."""
        for i, m in enumerate(self.inbox):
            if pred is None or pred(m):
                return self.inbox.pop(i)
        return None

    def expect(self, pred=None, timeout=TIMEOUT, what="a message"):
        """Waits for an inbox message matching pred; removes and returns it."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.take(pred)
            if m is not None:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoAnswer("%s: no %s within %.1f s; inbox: %r"
                               % (self.name, what, timeout, self.inbox[-5:]))
            self.recv(left)

    def expect_kind(self, kind, sid=None, timeout=TIMEOUT):
        return self.expect(lambda m: m.kind == kind and (sid is None or m.sid == sid),
                           timeout, "%s%s" % (kind, " for " + sid if sid else ""))

    def expect_err(self, status=None, timeout=TIMEOUT):
        """Next unmatched ERR (any status); asserts the status when given."""
        m = self.expect(lambda m: m.kind == "ERR", timeout, "ERR")
        if status is not None and m.status != status:
            raise AssertionError("expected ERR %s, got %r" % (status, m))
        return m

    def expect_silence(self, duration=GRACE):
        """Asserts nothing arrives for duration seconds (inbox stays empty)."""
        before = len(self.inbox)
        got = self.pump(duration)
        extra = self.inbox[before:]
        if extra:
            raise AssertionError("%s: unexpected messages: %r" % (self.name, extra))
        return got

    # -- conveniences ------------------------------------------------------

    def rpc(self, sid, method, params=None, timeout=TIMEOUT):
        """Request and wait; returns the answer Msg."""
        return self.wait(self.request(sid, method, params), timeout)

    def result(self, sid, method, params=None, timeout=TIMEOUT):
        """Request, wait, assert a MSG with a result; returns the result."""
        m = self.rpc(sid, method, params, timeout)
        if m.kind != "MSG" or not isinstance(m.json, dict) or "result" not in m.json:
            raise AssertionError("%s: expected a result, got %r" % (method, m))
        return m.result

    def tool(self, sid, name, arguments=None, meta=None, timeout=TIMEOUT):
        """tools/call and wait; returns the CallToolResult (asserts a result)."""
        rid = self.call_tool(sid, name, arguments, meta)
        m = self.wait(rid, timeout)
        if m.kind != "MSG" or not isinstance(m.json, dict) or "result" not in m.json:
            raise AssertionError("tools/call %s: expected a result, got %r" % (name, m))
        return m.result

    def initialize(self, version=LATEST, params=None, rid=None, timeout=TIMEOUT):
        """Sends initialize with an empty session id; returns the answer."""
        rid = next_id() if rid is None else rid
        body = {"jsonrpc": "2.0", "id": rid, "method": "initialize",
                "params": init_params(version) if params is None else params}
        self.expect_answer(rid, "", "initialize")
        self.send("MSG", "", body)
        return self.wait(rid, timeout)

    def open(self, version=LATEST, timeout=TIMEOUT):
        """initialize + notifications/initialized; returns the session id."""
        m = self.initialize(version, timeout=timeout)
        if m.kind != "MSG" or "result" not in (m.json or {}) or not sid_valid(m.sid):
            raise AssertionError("initialize failed: %r" % (m,))
        self.notify(m.sid, "notifications/initialized")
        return m.sid

    def open_many(self, n, version=LATEST, timeout=TIMEOUT):
        """Opens n sessions with all initialize requests in flight at once."""
        rids = []
        for _ in range(n):
            rid = next_id()
            self.expect_answer(rid, "", "initialize")
            self.send("MSG", "", {"jsonrpc": "2.0", "id": rid, "method": "initialize",
                                  "params": init_params(version)})
            rids.append(rid)
        sids = []
        deadline = time.monotonic() + timeout
        for rid in rids:
            m = self.wait(rid, max(0.1, deadline - time.monotonic()))
            if m.kind != "MSG" or not sid_valid(m.sid):
                raise AssertionError("initialize failed: %r" % (m,))
            sids.append(m.sid)
        for sid in sids:
            self.notify(sid, "notifications/initialized")
        return sids

    def close_session(self, sid, timeout=TIMEOUT):
        """CLOSE; returns the reply (OK or ERR) for that session."""
        self.send("CLOSE", sid, b"")
        return self.expect(lambda m: m.kind in ("OK", "ERR") and m.sid == sid,
                           timeout, "reply to CLOSE %s" % sid)

    def listen(self, sid, last=b"", timeout=TIMEOUT):
        """LISTEN; returns the OK/ERR reply. The events it replays before
        the reply go to `replays` (see listen_replay), not to the inbox."""
        return self.listen_replay(sid, last, timeout)[0]

    def listen_replay(self, sid, last=b"", timeout=TIMEOUT):
        """LISTEN; returns (reply, [replayed MSGs before it, in order])."""
        if isinstance(last, int):
            last = str(last)
        start = len(self.replays)
        if sid_valid(sid):
            self.listening.add(sid)
        self.send("LISTEN", sid, last)
        reply = self.expect(lambda m: m.kind in ("OK", "ERR") and m.sid == sid,
                            timeout, "reply to LISTEN %s" % sid)
        self.listening.discard(sid)
        return reply, [m for m in self.replays[start:] if m.sid == sid]

    # -- verdict -----------------------------------------------------------

    def verdict(self):
        """Problems found so far (list of strings); empty when all is well."""
        problems = list(self.problems)
        for key, s in self.sent.items():
            if key not in self.answers:
                problems.append("request id %s (%s, session %r) never answered"
                                % (key, s.method, s.sid))
        for m in self.inbox:
            if m.kind in ("OK", "ERR") or m.is_response():
                problems.append("unexpected or unread message: %r" % (m,))
        return problems

    def check(self, timeout=TIMEOUT, grace=GRACE):
        """Waits for outstanding answers, listens grace seconds more for
        duplicates, and asserts exactly one answer per request."""
        check_clients([self], timeout, grace)

    def close(self):
        if not self.closed:
            self.closed = True
            self.sock.close(linger=0)


def wait_clients(clients, timeout=TIMEOUT):
    """Reads from all clients until every tracked request is answered;
    raises NoAnswer after timeout seconds."""
    poller = zmq.Poller()
    for c in clients:
        poller.register(c.sock, zmq.POLLIN)
    bysock = {c.sock: c for c in clients}
    deadline = time.monotonic() + timeout
    left_total = sum(len(c.sent) - len(c.answers) for c in clients)
    while any(len(c.answers) < len(c.sent) for c in clients):
        left = deadline - time.monotonic()
        if left <= 0:
            missing = [s for c in clients for s in c.pending()]
            raise NoAnswer("%d of %d requests unanswered after %.1f s, e.g. %s"
                           % (len(missing), left_total, timeout,
                              ", ".join("%s(%s)" % (idkey(s.rid), s.method) for s in missing[:10])))
        ready = poller.poll(int(min(left, 0.25) * 1000) + 1)
        if not ready:
            _check_alive(clients)
        for sock, _ in ready:
            c = bysock[sock]
            #  Drain everything ready on this socket before polling again.
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                c._file(Msg(frames))


def _check_alive(clients):
    for c in clients:
        server = c.server
        if server is not None and server.proc is not None and not server.running():
            if not getattr(server, "expect_exit", False):
                server.expect_exit = True   # reported now, not again at cleanup
                server.join_output(0.5)
                raise ServerError("mcpzd died with status %s while %s waited:\n%s"
                                  % (server.proc.returncode, c.name, server.stderr_tail()))


def check_clients(clients, timeout=TIMEOUT, grace=GRACE):
    clients = [c for c in clients if not c.closed]
    try:
        wait_clients(clients, timeout)
    except NoAnswer:
        pass                    # reported below, request by request
    for c in clients:
        c.pump(grace / max(1, len(clients)) if len(clients) > 1 else grace)
    problems = []
    for c in clients:
        problems += ["%s: %s" % (c.name, p) for p in c.verdict()]
    if problems:
        head = problems[:20]
        more = len(problems) - len(head)
        raise AssertionError("exactly-one-answer check failed:\n  " + "\n  ".join(head)
                             + ("\n  ... and %d more" % more if more else ""))


# --------------------------------------------------------------------------
# unittest glue

class ServerTestCase(unittest.TestCase):
    """TestCase whose servers and clients clean up after themselves.

    Servers started with start_server() are stopped (SIGTERM, then SIGKILL)
    and their directories removed; clients made with client() are checked
    for exactly-one-answer before they are closed, unless the test sets
    `client.checked = False`.
    """

    maxDiff = 4000

    def start_server(self, *args, start=True, **kw):
        """A Server (see there) stopped and removed when the test ends.
        With start=False the caller may adjust argv/env, then start()."""
        server = Server(args=args, start=False, **kw)
        self.addCleanup(server.cleanup)
        self._servers = getattr(self, "_servers", []) + [server]
        if start:
            server.start()
        return server

    @classmethod
    def start_class_server(cls, *args, **kw):
        server = Server(args=args, start=False, **kw)
        cls.addClassCleanup(server.cleanup)
        cls._class_servers = getattr(cls, "_class_servers", []) + [server]
        server.start()
        return server

    def client(self, target, name=None, curve=None):
        server = target if isinstance(target, Server) else None
        if server is None:
            for s in getattr(self, "_servers", []) + getattr(type(self), "_class_servers", []):
                if target in s.endpoints:
                    server = s
        c = Client(server.endpoint if target is server else target, name, curve)
        c.server = server
        self.addCleanup(c.close)
        self.addCleanup(self._check_client, c)
        return c

    def _check_client(self, c):
        if c.checked and not c.closed:
            c.check()

    # -- assertions --------------------------------------------------------

    def assertResult(self, m, msg=None):
        """m is a MSG carrying a JSON-RPC result; returns the result."""
        self.assertEqual(m.kind, "MSG", msg or repr(m))
        self.assertIsInstance(m.json, dict, repr(m))
        self.assertEqual(m.json.get("jsonrpc"), "2.0", repr(m))
        self.assertIn("result", m.json, msg or repr(m))
        self.assertNotIn("error", m.json, repr(m))
        return m.result

    def assertRpcError(self, m, code, rid="any"):
        """m is a MSG carrying a JSON-RPC error with code (and id unless
        rid is "any"); returns the error object."""
        self.assertEqual(m.kind, "MSG", repr(m))
        self.assertIsInstance(m.json, dict, repr(m))
        self.assertEqual(m.json.get("jsonrpc"), "2.0", repr(m))
        self.assertIn("error", m.json, repr(m))
        self.assertNotIn("result", m.json, repr(m))
        err = m.error
        self.assertIsInstance(err, dict, repr(m))
        self.assertEqual(err.get("code"), code, repr(m))
        self.assertIsInstance(err.get("message"), str, repr(m))
        self.assertIn("id", m.json, repr(m))
        if rid != "any":
            self.assertEqual(m.json["id"], rid, repr(m))
            self.assertEqual(type(m.json["id"]), type(rid), repr(m))
        return err

    def assertErr(self, m, status, rid="any", sid="any"):
        """m is an ERR with status (and id / session frame when given)."""
        self.assertEqual(m.kind, "ERR", repr(m))
        self.assertIsInstance(m.json, dict, repr(m))
        self.assertEqual(m.json.get("status"), status, repr(m))
        self.assertIsInstance(m.json.get("message"), str, repr(m))
        self.assertIn("id", m.json, repr(m))
        self.assertEqual(m.eid, "", repr(m))
        if rid != "any":
            self.assertEqual(m.json["id"], rid, repr(m))
        if sid != "any":
            self.assertEqual(m.sid, sid, repr(m))
        if status == 503:
            self.assertIn("retry_after_ms", m.json, repr(m))
            self.assertIsInstance(m.json["retry_after_ms"], (int, float), repr(m))
            self.assertGreaterEqual(m.json["retry_after_ms"], 0, repr(m))
        return m.json

    def assertToolOk(self, result):
        self.assertIsInstance(result, dict)
        self.assertIn(result.get("isError", False), (False, None), repr(result))
        self.assertIsInstance(result.get("content"), list, repr(result))
        return text_of(result)

    def assertToolError(self, result, *words):
        """result has isError true and its text names every word given."""
        self.assertIsInstance(result, dict)
        self.assertIs(result.get("isError"), True, repr(result))
        text = text_of(result)
        for w in words:
            self.assertIn(w, text, repr(result))
        return text


def main():
    unittest.main(verbosity=2 if VERBOSE else 1)


class SessionTestCase(ServerTestCase):
    """One server for the class; every test gets a client with an open
    session (self.c, self.sid), and the session must survive the test."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def setUp(self):
        self.c = self.client(self.server)
        self.sid = self.c.open()

    def tearDown(self):
        self.assertEqual(self.c.result(self.sid, "ping"), {})
