/*  mcpz-bench — load generator for mcpz over MCPZ/1, and its raw baseline.

    mcpz-bench [--endpoint EP] [--sockets N] [--sessions S] [--inflight K]
               [--mix echo=W,ping=W,add=W] [--requests N | --duration SEC]
               [--open [--close]] [--open-at EP] [--raw] [--serve-raw EP] [--json]

    Call mode (default): opens S sessions spread over N DEALER sockets and
    keeps K requests in flight per session, mixing tools/call echo, ping
    and tools/call add by weight. Open mode (--open): every slot opens a
    session with initialize and, with --close, closes it, again and again;
    K is then the number of opens in flight per socket. Raw mode (--raw)
    drives a raw ZeroMQ ROUTER echo server (--serve-raw EP runs one) with
    the same frames, to measure the transport's own limit on this machine.
    --open-at EP opens the sessions through EP (another node of a cluster,
    which then owns them) and sends the calls to --endpoint: each call is
    forwarded to the owner.

    Every answer is checked: right id, right session, right content. A
    wrong answer is a failure (exit 1), never a statistic. Prints
    throughput, latency percentiles from a log-linear histogram (1.6%
    precision) and errors by kind.
*/
#include "proto/mcpz.h"

#include <czmq.h>
#include <jansson.h>
#include <inttypes.h>
#include <math.h>

#define BUCKETS 2560

typedef struct {
    char sid [MCPZ_SID_SIZE + 1];   //  "" while opening
    int socket;                 //  index of the socket it lives on
    int index;                  //  global session number
    uint64_t next_id;           //  next request id
    int inflight;
    int64_t *sent_at;           //  by id % slots: send time, µs
    uint64_t *sent_id;          //  by id % slots: which id holds the slot
    int *sent_kind;
} session_t;

enum { KIND_ECHO, KIND_PING, KIND_ADD, KIND_OPEN, KIND_CLOSE, KIND_RAW, KINDS };
static const char *const s_kind_names [KINDS] = { "echo", "ping", "add", "open", "close", "raw" };

typedef struct {
    const char *endpoint;
    const char *open_at;        //  where sessions are opened, or NULL
    int sockets, sessions, inflight;
    int weights [3];
    long requests;
    double duration;
    bool open, close, raw, json;
    //  run state
    void **socks;
    session_t *table;
    int slots;
    uint64_t histogram [BUCKETS];
    uint64_t done [KINDS];
    uint64_t errors, wrong, refused, sent;
    json_t *error_kinds;        //  "ERR 503", "-32001"... -> count
    char first_problem [256];
    int64_t started, stop_at;
    zsock_t **zsocks;
} bench_t;

static int
s_bucket (uint64_t value)
{
    if (value < 128)
        return (int) value;
    int exponent = 63 - __builtin_clzll (value) - 6;
    int bucket = 128 + (exponent - 1) * 64 + (int) ((value >> exponent) - 64);
    return bucket < BUCKETS? bucket: BUCKETS - 1;
}

static uint64_t
s_bucket_value (int bucket)
{
    if (bucket < 128)
        return (uint64_t) bucket;
    int exponent = (bucket - 128) / 64 + 1;
    return ((uint64_t) ((bucket - 128) % 64 + 64)) << exponent;
}

static double
s_percentile (bench_t *self, double p)
{
    uint64_t total = 0;
    for (int bucket = 0; bucket < BUCKETS; bucket++)
        total += self->histogram [bucket];
    uint64_t rank = (uint64_t) ceil (p / 100.0 * (double) total), seen = 0;
    for (int bucket = 0; bucket < BUCKETS; bucket++) {
        seen += self->histogram [bucket];
        if (seen >= rank && self->histogram [bucket])
            return (double) s_bucket_value (bucket);
    }
    return 0;
}

static void
s_problem (bench_t *self, const char *format, ...)
{
    self->wrong++;
    if (*self->first_problem)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (self->first_problem, sizeof (self->first_problem), format, args);
    va_end (args);
}

static void
s_count_error (bench_t *self, const char *kind)
{
    json_t *count = json_object_get (self->error_kinds, kind);
    json_object_set_new (self->error_kinds, kind, json_integer (json_integer_value (count) + 1));
}

static bool
s_more (bench_t *self)
{
    if (self->requests > 0)
        return (long) self->sent < self->requests;
    return zclock_usecs () < self->stop_at;
}

//  --------------------------------------------------------------------------
//  Sending

static void
s_send4 (bench_t *self, int socket, const char *cmd, const char *sid, const char *body)
{
    void *sock = self->socks [socket];
    zmq_send (sock, "MCPZ/1", 6, ZMQ_SNDMORE);
    zmq_send (sock, cmd, strlen (cmd), ZMQ_SNDMORE);
    zmq_send (sock, sid, strlen (sid), ZMQ_SNDMORE);
    zmq_send (sock, body, strlen (body), 0);
}

static int
s_pick (bench_t *self, uint64_t id)
{
    int total = self->weights [0] + self->weights [1] + self->weights [2];
    int roll = (int) (id * 2654435761u % (uint64_t) total);
    for (int kind = 0; kind < 3; kind++) {
        if (roll < self->weights [kind])
            return kind;
        roll -= self->weights [kind];
    }
    return KIND_PING;
}

static void
s_send_initialize (bench_t *self, session_t *session)
{
    uint64_t id = session->next_id++;
    char body [256];
    snprintf (body, sizeof (body),
              "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"initialize\",\"params\":"
              "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
              "\"clientInfo\":{\"name\":\"bench-%d\",\"version\":\"1\"}}}", id, session->index);
    int slot = (int) (id % (uint64_t) self->slots);
    session->sent_at [slot] = zclock_usecs ();
    session->sent_id [slot] = id;
    session->sent_kind [slot] = KIND_OPEN;
    session->inflight++;
    self->sent++;
    s_send4 (self, session->socket, "MSG", "", body);
}

static void
s_send_request (bench_t *self, session_t *session)
{
    uint64_t id = session->next_id++;
    //  Raw mode sends the same bodies: the echo server returns them as they are
    int kind = s_pick (self, id);
    char body [256];
    if (kind == KIND_ECHO)
        snprintf (body, sizeof (body), "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":"
                  "\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":"
                  "\"s%d-%" PRIu64 "\"}}}", id, session->index, id);
    else
    if (kind == KIND_ADD)
        snprintf (body, sizeof (body), "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":"
                  "\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"a\":%" PRIu64
                  ",\"b\":%d}}}", id, id, session->index);
    else
        snprintf (body, sizeof (body), "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64
                  ",\"method\":\"ping\"}", id);
    int slot = (int) (id % (uint64_t) self->slots);
    session->sent_at [slot] = zclock_usecs ();
    session->sent_id [slot] = id;
    session->sent_kind [slot] = kind;
    session->inflight++;
    self->sent++;
    s_send4 (self, session->socket, "MSG", session->sid, body);
}

//  --------------------------------------------------------------------------
//  Checking answers

static void
s_check_result (bench_t *self, session_t *session, int kind, uint64_t id, json_t *body)
{
    json_t *result = json_object_get (body, "result");
    if (kind == KIND_PING && !(json_is_object (result) && json_object_size (result) == 0))
        s_problem (self, "ping %" PRIu64 ": wrong result", id);
    else
    if (kind == KIND_ECHO) {
        char expected [64];
        snprintf (expected, sizeof (expected), "s%d-%" PRIu64, session->index, id);
        json_t *text = json_object_get (json_array_get (json_object_get (result, "content"), 0), "text");
        if (!json_is_string (text) || strcmp (json_string_value (text), expected))
            s_problem (self, "echo %" PRIu64 ": expected %s", id, expected);
    }
    else
    if (kind == KIND_ADD) {
        json_t *sum = json_object_get (json_object_get (result, "structuredContent"), "sum");
        if (json_integer_value (sum) != (json_int_t) (id + (uint64_t) session->index))
            s_problem (self, "add %" PRIu64 ": wrong sum", id);
    }
}

//  Files one answer; returns the session it belonged to, or NULL.
static session_t *
s_answer (bench_t *self, session_t *session, zmq_msg_t *frames, int count)
{
    if (count != 5 || zmq_msg_size (&frames [0]) != 6) {
        s_problem (self, "malformed reply (%d frames)", count);
        return NULL;
    }
    const char *kind_text = (const char *) zmq_msg_data (&frames [1]);
    bool is_err = zmq_msg_size (&frames [1]) == 3 && memcmp (kind_text, "ERR", 3) == 0;
    bool is_ok = zmq_msg_size (&frames [1]) == 2 && memcmp (kind_text, "OK", 2) == 0;
    json_t *body = json_loadb ((const char *) zmq_msg_data (&frames [4]), zmq_msg_size (&frames [4]), 0, NULL);
    json_t *id_json = json_object_get (body, "id");
    int64_t now = zclock_usecs ();
    if (is_ok) {
        //  The answer to a CLOSE: the session slot opens again
        self->done [KIND_CLOSE]++;
        session->sid [0] = 0;
        session->inflight--;
        json_decref (body);
        return session;
    }
    if (!json_is_integer (id_json)) {
        s_problem (self, "%s without a request id", is_err? "ERR": "answer");
        json_decref (body);
        return NULL;
    }
    uint64_t id = (uint64_t) json_integer_value (id_json);
    int slot = (int) (id % (uint64_t) self->slots);
    if (session->sent_id [slot] != id || !session->sent_at [slot]) {
        s_problem (self, "answer to id %" PRIu64 " that is not in flight", id);
        json_decref (body);
        return NULL;
    }
    int kind = session->sent_kind [slot];
    uint64_t latency = (uint64_t) (now - session->sent_at [slot]);
    session->sent_at [slot] = 0;
    session->inflight--;
    if (is_err) {
        int status = (int) json_integer_value (json_object_get (body, "status"));
        char kind_name [32];
        snprintf (kind_name, sizeof (kind_name), "ERR %d", status);
        s_count_error (self, kind_name);
        if (status == 503 || status == 429)
            self->refused++;
        else
            self->errors++;
        if (kind == KIND_OPEN)
            session->sid [0] = 0;
    }
    else
    if (json_object_get (body, "error")) {
        char kind_name [32];
        snprintf (kind_name, sizeof (kind_name), "JSON-RPC %lld", (long long)
                  json_integer_value (json_object_get (json_object_get (body, "error"), "code")));
        s_count_error (self, kind_name);
        self->errors++;
        s_problem (self, "JSON-RPC error for id %" PRIu64, id);
    }
    else {
        self->histogram [s_bucket (latency)]++;
        self->done [kind]++;
        if (kind == KIND_OPEN) {
            size_t size = zmq_msg_size (&frames [2]);
            if (!mcpz_sid_valid (zmq_msg_data (&frames [2]), size))
                s_problem (self, "initialize answered without a session id");
            else
                memcpy (session->sid, zmq_msg_data (&frames [2]), MCPZ_SID_SIZE + 1),
                session->sid [MCPZ_SID_SIZE] = 0;
        }
        else
        if (zmq_msg_size (&frames [2]) != MCPZ_SID_SIZE
        ||  memcmp (zmq_msg_data (&frames [2]), session->sid, MCPZ_SID_SIZE))
            s_problem (self, "answer to id %" PRIu64 " came in another session", id);
        else
            s_check_result (self, session, kind, id, body);
    }
    json_decref (body);
    return session;
}

//  Finds the session an answer belongs to: by session id, or for opens by
//  the initialize id (the bench encodes the session index in it).
static session_t *
s_find (bench_t *self, int socket, zmq_msg_t *frames, int count)
{
    if (count == 5 && zmq_msg_size (&frames [2]) == MCPZ_SID_SIZE) {
        for (int index = socket; index < self->sessions; index += self->sockets)
            if (memcmp (self->table [index].sid, zmq_msg_data (&frames [2]), MCPZ_SID_SIZE) == 0)
                return &self->table [index];
    }
    //  An initialize answer (new session id) or an ERR: by the JSON id
    json_t *body = count == 5? json_loadb ((const char *) zmq_msg_data (&frames [4]),
                                           zmq_msg_size (&frames [4]), 0, NULL): NULL;
    json_t *id = json_object_get (body, "id");
    session_t *found = NULL;
    if (json_is_integer (id)) {
        uint64_t value = (uint64_t) json_integer_value (id);
        int slot = (int) (value % (uint64_t) self->slots);
        for (int index = socket; index < self->sessions && !found; index += self->sockets)
            if (self->table [index].sent_id [slot] == value && self->table [index].sent_at [slot])
                found = &self->table [index];
    }
    json_decref (body);
    return found;
}

//  --------------------------------------------------------------------------

static void
s_refill (bench_t *self, session_t *session)
{
    //  With --close every session opened is closed, budget or not
    if (self->open && self->close && session->sid [0] && session->inflight == 0) {
        s_send4 (self, session->socket, "CLOSE", session->sid, "");
        session->inflight++;
        return;                 //  the OK frees the slot again
    }
    while (session->inflight < self->inflight && s_more (self)) {
        if (self->open) {
            session->sid [0] = 0;
            s_send_initialize (self, session);
            break;              //  one open per session slot at a time
        }
        s_send_request (self, session);
    }
}

static int
s_run (bench_t *self)
{
    zmq_pollitem_t *items = calloc ((size_t) self->sockets, sizeof (zmq_pollitem_t));
    for (int index = 0; index < self->sockets; index++)
        items [index] = (zmq_pollitem_t) { self->socks [index], 0, ZMQ_POLLIN, 0 };
    self->started = zclock_usecs ();
    self->stop_at = self->started + (int64_t) (self->duration * 1e6);
    for (int index = 0; index < self->sessions; index++)
        s_refill (self, &self->table [index]);
    int64_t quiet_since = zclock_usecs ();
    while (true) {
        int outstanding = 0;
        for (int index = 0; index < self->sessions; index++)
            outstanding += self->table [index].inflight;
        if (outstanding == 0 && !s_more (self))
            break;
        if (zmq_poll (items, self->sockets, 1000) <= 0) {
            if (zclock_usecs () - quiet_since > 10 * 1000000) {
                s_problem (self, "%d answers never came", outstanding);
                break;
            }
            continue;
        }
        quiet_since = zclock_usecs ();
        for (int socket = 0; socket < self->sockets; socket++) {
            if (!(items [socket].revents & ZMQ_POLLIN))
                continue;
            for (int batch = 0; batch < 1024; batch++) {
                zmq_msg_t frames [5];
                int count = 0, more = 1;
                while (more) {
                    zmq_msg_t *frame = count < 5? &frames [count]: NULL;
                    zmq_msg_t scratch;
                    if (!frame)
                        frame = &scratch;
                    zmq_msg_init (frame);
                    if (zmq_msg_recv (frame, self->socks [socket], count? 0: ZMQ_DONTWAIT) == -1) {
                        zmq_msg_close (frame);
                        break;
                    }
                    more = zmq_msg_more (frame);
                    if (frame == &scratch)
                        zmq_msg_close (frame);
                    count++;
                }
                if (count == 0)
                    break;
                session_t *session = s_find (self, socket, frames, count);
                if (!session && !self->raw)
                    s_problem (self, "answer for no session of this socket");
                if (self->raw && count == 4) {
                    //  The raw echo server returns the request as it was
                    json_t *body = json_loadb ((const char *) zmq_msg_data (&frames [3]),
                                               zmq_msg_size (&frames [3]), 0, NULL);
                    uint64_t id = (uint64_t) json_integer_value (json_object_get (body, "id"));
                    json_decref (body);
                    for (int index = socket; index < self->sessions && !session; index += self->sockets) {
                        int slot = (int) (id % (uint64_t) self->slots);
                        if (self->table [index].sent_id [slot] == id && self->table [index].sent_at [slot])
                            session = &self->table [index];
                    }
                    if (session) {
                        int slot = (int) (id % (uint64_t) self->slots);
                        self->histogram [s_bucket ((uint64_t) (zclock_usecs () - session->sent_at [slot]))]++;
                        session->sent_at [slot] = 0;
                        session->inflight--;
                        self->done [self->raw? KIND_RAW: session->sent_kind [slot]]++;
                    }
                    else
                        s_problem (self, "raw echo of an id not in flight");
                }
                else
                if (session)
                    session = s_answer (self, session, frames, count);
                for (int index = 0; index < (count < 5? count: 5); index++)
                    zmq_msg_close (&frames [index]);
                if (session)
                    s_refill (self, session);
            }
        }
    }
    free (items);
    return 0;
}

static void
s_report (bench_t *self)
{
    double seconds = (double) (zclock_usecs () - self->started) / 1e6;
    uint64_t answered = 0;
    for (int kind = 0; kind < KINDS; kind++)
        answered += self->done [kind];
    double rate = (double) answered / seconds;
    char *kinds = json_dumps (self->error_kinds, JSON_COMPACT);
    if (self->json) {
        printf ("{\"mode\":\"%s\",\"seconds\":%.3f,\"answered\":%" PRIu64 ",\"rate\":%.0f,"
                "\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,"
                "\"errors\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"wrong\":%" PRIu64
                ",\"opens\":%" PRIu64 ",\"closes\":%" PRIu64 ",\"error_kinds\":%s}\n",
                self->raw? "raw": self->open? "open": "call", seconds, answered, rate,
                s_percentile (self, 50), s_percentile (self, 90), s_percentile (self, 99),
                s_percentile (self, 99.9), self->errors, self->refused, self->wrong,
                self->done [KIND_OPEN], self->done [KIND_CLOSE], kinds);
        free (kinds);
        return;
    }
    printf ("answered %" PRIu64 " in %.2f s: %.0f/s\n", answered, seconds, rate);
    for (int kind = 0; kind < KINDS; kind++)
        if (self->done [kind])
            printf ("  %-6s %" PRIu64 "\n", s_kind_names [kind], self->done [kind]);
    printf ("latency us: p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f\n",
            s_percentile (self, 50), s_percentile (self, 90), s_percentile (self, 99),
            s_percentile (self, 99.9));
    printf ("errors %" PRIu64 "  refused %" PRIu64 "  wrong %" PRIu64 "  by kind %s\n",
            self->errors, self->refused, self->wrong, kinds);
    free (kinds);
    if (*self->first_problem)
        printf ("first problem: %s\n", self->first_problem);
}

//  A raw ROUTER echo server: the transport's limit on this machine.
static int
s_serve_raw (const char *endpoint)
{
    zsys_handler_set (NULL);
    void *context = zmq_ctx_new ();
    void *router = zmq_socket (context, ZMQ_ROUTER);
    int hwm = 100000;
    zmq_setsockopt (router, ZMQ_SNDHWM, &hwm, sizeof (hwm));
    zmq_setsockopt (router, ZMQ_RCVHWM, &hwm, sizeof (hwm));
    if (zmq_bind (router, endpoint) == -1) {
        fprintf (stderr, "mcpz-bench: cannot bind %s\n", endpoint);
        return 2;
    }
    while (true) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, router, 0) == -1)
            break;
        int more = zmq_msg_more (&frame);
        zmq_msg_send (&frame, router, more? ZMQ_SNDMORE: 0);
    }
    zmq_close (router);
    zmq_ctx_term (context);
    return 0;
}

static int
s_mix (bench_t *self, char *text)
{
    self->weights [0] = self->weights [1] = self->weights [2] = 0;
    for (char *part = strtok (text, ","); part; part = strtok (NULL, ",")) {
        char *equals = strchr (part, '=');
        int weight = equals? atoi (equals + 1): 1;
        if (equals)
            *equals = 0;
        int kind = streq (part, "echo")? 0: streq (part, "ping")? 1: streq (part, "add")? 2: -1;
        if (kind < 0 || weight < 0)
            return -1;
        self->weights [kind] = weight;
    }
    return self->weights [0] + self->weights [1] + self->weights [2] > 0? 0: -1;
}

int
main (int argc, char *argv [])
{
    bench_t self = { .endpoint = "tcp://127.0.0.1:5555", .sockets = 4, .sessions = 16,
                     .inflight = 8, .weights = { 1, 1, 1 }, .duration = 5 };
    for (int index = 1; index < argc; index++) {
        const char *arg = argv [index];
        const char *value = index + 1 < argc? argv [index + 1]: NULL;
        if (streq (arg, "--open")) self.open = true;
        else if (streq (arg, "--close")) self.close = true;
        else if (streq (arg, "--raw")) self.raw = true;
        else if (streq (arg, "--json")) self.json = true;
        else if (streq (arg, "--serve-raw") && value) return s_serve_raw (value);
        else if (!value) { fprintf (stderr, "mcpz-bench: %s needs a value\n", arg); return 2; }
        else if (streq (arg, "--endpoint")) self.endpoint = argv [++index];
        else if (streq (arg, "--open-at")) self.open_at = argv [++index];
        else if (streq (arg, "--sockets")) self.sockets = atoi (argv [++index]);
        else if (streq (arg, "--sessions")) self.sessions = atoi (argv [++index]);
        else if (streq (arg, "--inflight")) self.inflight = atoi (argv [++index]);
        else if (streq (arg, "--requests")) self.requests = atol (argv [++index]);
        else if (streq (arg, "--duration")) self.duration = atof (argv [++index]);
        else if (streq (arg, "--mix")) {
            if (s_mix (&self, argv [++index])) {
                fprintf (stderr, "mcpz-bench: --mix takes echo=W,ping=W,add=W\n");
                return 2;
            }
        }
        else { fprintf (stderr, "mcpz-bench: unknown flag %s\n", arg); return 2; }
    }
    if (self.sockets < 1 || self.sessions < self.sockets || self.inflight < 1) {
        fprintf (stderr, "mcpz-bench: need sockets >= 1, sessions >= sockets, inflight >= 1\n");
        return 2;
    }
    zsys_handler_set (NULL);
    zsys_set_max_sockets ((size_t) self.sockets + 16);
    self.error_kinds = json_object ();
    self.slots = self.inflight * 4 + 4;
    self.zsocks = calloc ((size_t) self.sockets * 2, sizeof (zsock_t *));
    self.socks = calloc ((size_t) self.sockets * 2, sizeof (void *));
    //  With --open-at, a second set of sockets there opens the sessions
    for (int index = 0; index < self.sockets * (self.open_at? 2: 1); index++) {
        const char *endpoint = index < self.sockets? self.endpoint: self.open_at;
        self.zsocks [index] = zsock_new (ZMQ_DEALER);
        zsock_set_sndhwm (self.zsocks [index], 0);
        zsock_set_rcvhwm (self.zsocks [index], 0);
        if (zsock_connect (self.zsocks [index], "%s", endpoint) == -1) {
            fprintf (stderr, "mcpz-bench: cannot connect to %s\n", endpoint);
            return 2;
        }
        self.socks [index] = zsock_resolve (self.zsocks [index]);
    }
    self.table = calloc ((size_t) self.sessions, sizeof (session_t));
    for (int index = 0; index < self.sessions; index++) {
        session_t *session = &self.table [index];
        session->socket = index % self.sockets;
        session->index = index;
        session->next_id = 1;
        session->sent_at = calloc ((size_t) self.slots, sizeof (int64_t));
        session->sent_id = calloc ((size_t) self.slots, sizeof (uint64_t));
        session->sent_kind = calloc ((size_t) self.slots, sizeof (int));
    }
    //  Sessions first (not timed) unless the opens are what is measured
    if (!self.open && !self.raw) {
        bench_t setup = self;
        setup.error_kinds = json_object ();
        setup.open = true;
        setup.requests = self.sessions;
        setup.json = true;
        setup.inflight = 1;
        if (self.open_at)
            setup.socks = self.socks + self.sockets;
        s_run (&setup);
        memset (self.histogram, 0, sizeof (self.histogram));
        self.wrong = setup.wrong;
        json_decref (setup.error_kinds);
        for (int index = 0; index < self.sessions; index++)
            if (!self.table [index].sid [0]) {
                fprintf (stderr, "mcpz-bench: could not open session %d\n", index);
                return 1;
            }
    }
    s_run (&self);
    s_report (&self);
    for (int index = 0; index < self.sessions; index++) {
        free (self.table [index].sent_at);
        free (self.table [index].sent_id);
        free (self.table [index].sent_kind);
    }
    for (int index = 0; index < self.sockets * 2; index++)
        zsock_destroy (&self.zsocks [index]);
    free (self.zsocks);
    free (self.socks);
    free (self.table);
    json_decref (self.error_kinds);
    return self.wrong? 1: 0;
}
