/*  control — an actor that answers the operator's control socket
    (spec/control.md). It keeps the edge's hot path free of operator work:
    every command is answered by asking the actors that own the data, in
    parallel, and gathering their replies with a deadline. No actor shares
    its state; a figure arrives as a message or not at all, and a reply
    says "partial" when some did not.

    Owns: the control socket (ROUTER; REQ or DEALER clients), the requests
    in progress, a ROUTER that session hosts connect to (identity host-N),
    and DEALERs to the tool pool, the DB workers and the cleanup actor.

    Takes, from operators: one frame {"command": NAME, ...}; answers one
    frame {"ok": true, ...} or {"ok": false, "error": "..."}.
    Sends to hosts:   STATS tag | LIST tag, cursor, limit | INFO tag, id |
                      KILL tag, id
    Takes from hosts: STATS tag, JSON | LISTED tag, JSON | INFO tag, JSON
                      or "" | KILLED tag, ok|missing|reason
    Sends STATS tag to the pool, to each DB worker and to cleanup; CYCLE tag
    to cleanup (answered REPORT tag, JSON).
    Sends on its pipe to the supervisor: FIGURES tag (answered FIGURES tag,
    JSON), CATALOG tag, change JSON (answered CATALOG tag, JSON), DRAIN,
    SHUTDOWN.  Takes $TERM.

    Binding the control socket safely is in control/endpoint.c; merging the
    actors' figures into Prometheus text in control/figures.c.
*/
#include "actors/control.h"
#include "actors/control/endpoint.h"
#include "actors/control/figures.h"
#include "proto/control.h"
#include "proto/mcpz.h"
#include "proto/metrics.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/log.h"

#include <inttypes.h>

#define GATHER_MS   2000        //  deadline for figures from the actors
#define PENDING_MAX 64          //  requests gathering figures at once

typedef struct {
    control_request_t request;
    zmq_msg_t envelope [3];     //  routing id and REQ delimiter
    int envelope_size;
    uint32_t tag;               //  matches the actors' replies
    int waiting;                //  replies still expected
    int64_t deadline;           //  answer with what arrived by then
    figures_t figures;          //  replies of the actors
    char *result;               //  KILLED status
} pending_t;

typedef struct {
    zsock_t *pipe;
    const config_t *config;
    zsock_t *control;           //  operators
    ino_t control_file;         //  its ipc socket file, to remove at the end
    void *control_raw;
    zsock_t *hosts;             //  session hosts
    void *hosts_raw;
    int host_count;
    zsock_t *tools, *db, *cleanup;  //  the other actors
    zsock_t *upstreams;         //  one DEALER to every upstream
    int upstream_count;
    int db_count;
    zlistx_t *pending;          //  pending_t
    uint32_t next_tag;
    bool terminated;
} desk_t;

static const char *const s_name = "control";

//  --------------------------------------------------------------------------
//  Replies to operators

static void
s_reply (desk_t *self, zmq_msg_t *envelope, int envelope_size, char *body)
{
    if (!body)
        return;
    for (int index = 0; index < envelope_size; index++) {
        zmq_msg_t copy;
        zmq_msg_init (&copy);
        zmq_msg_copy (&copy, &envelope [index]);
        if (zmq_msg_send (&copy, self->control_raw, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&copy);
            free (body);
            return;             //  the operator is gone
        }
    }
    frames_send_owned (self->control_raw, body, strlen (body), 0);
}

static void
s_reply_ok (desk_t *self, pending_t *pending, json_t *fields)
{
    s_reply (self, pending->envelope, pending->envelope_size, control_reply_ok (fields, NULL));
    json_decref (fields);
}

static void
s_reply_error (desk_t *self, pending_t *pending, const char *error)
{
    s_reply (self, pending->envelope, pending->envelope_size, control_reply_error (error, NULL));
}

//  --------------------------------------------------------------------------
//  Requests in progress

static void
s_pending_destroy (pending_t **pending_p)
{
    if (*pending_p) {
        pending_t *pending = *pending_p;
        frames_close (pending->envelope, pending->envelope_size);
        json_decref (pending->figures.hosts);
        json_decref (pending->figures.db);
        json_decref (pending->figures.upstreams);
        json_decref (pending->figures.tools);
        json_decref (pending->figures.cleanup);
        json_decref (pending->figures.supervisor);
        free (pending->result);
        free (pending);
        *pending_p = NULL;
    }
}

static pending_t *
s_pending_find (desk_t *self, zmq_msg_t *tag_frame)
{
    char text [16];
    if (!frames_text (tag_frame, text, sizeof (text)))
        return NULL;
    uint32_t tag = (uint32_t) strtoul (text, NULL, 10);
    for (pending_t *pending = (pending_t *) zlistx_first (self->pending); pending;
         pending = (pending_t *) zlistx_next (self->pending))
        if (pending->tag == tag)
            return pending;
    return NULL;
}

static void
s_send_tagged (void *socket, const char *identity, const char *command, pending_t *pending,
               const char *arg1, const char *arg2, int *sent)
{
    char tag [16];
    snprintf (tag, sizeof (tag), "%" PRIu32, pending->tag);
    if (identity && zmq_send (socket, identity, strlen (identity), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return;                 //  that host is not connected: nothing to wait for
    if (zmq_send (socket, command, strlen (command), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return;
    frames_send_text (socket, tag, arg1? ZMQ_SNDMORE: 0);
    if (arg1)
        frames_send_text (socket, arg1, arg2? ZMQ_SNDMORE: 0);
    if (arg2)
        frames_send_text (socket, arg2, 0);
    (*sent)++;
}

static void
s_to_host (desk_t *self, pending_t *pending, int host, const char *command,
           const char *arg1, const char *arg2)
{
    char identity [16];
    snprintf (identity, sizeof (identity), "host-%d", host);
    s_send_tagged (self->hosts_raw, identity, command, pending, arg1, arg2, &pending->waiting);
}

static void
s_to_all_hosts (desk_t *self, pending_t *pending, const char *command,
                const char *arg1, const char *arg2)
{
    for (int host = 0; host < self->host_count; host++)
        s_to_host (self, pending, host, command, arg1, arg2);
}

//  Each upstream's figures
static void
s_ask_upstreams (desk_t *self, pending_t *pending)
{
    for (int index = 0; index < self->upstream_count; index++)
        s_send_tagged (zsock_resolve (self->upstreams), NULL, "STATS", pending, NULL, NULL, &pending->waiting);
}

//  The figures every stats-like answer gathers: hosts, pool, DB workers,
//  cleanup, upstreams, supervisor.
static void
s_ask_everyone (desk_t *self, pending_t *pending)
{
    s_to_all_hosts (self, pending, "STATS", NULL, NULL);
    s_send_tagged (zsock_resolve (self->tools), NULL, "STATS", pending, NULL, NULL, &pending->waiting);
    //  The DEALER deals one to each worker
    for (int index = 0; index < self->db_count; index++)
        s_send_tagged (zsock_resolve (self->db), NULL, "STATS", pending, NULL, NULL, &pending->waiting);
    s_send_tagged (zsock_resolve (self->cleanup), NULL, "STATS", pending, NULL, NULL, &pending->waiting);
    s_ask_upstreams (self, pending);
    char tag [16];
    snprintf (tag, sizeof (tag), "%" PRIu32, pending->tag);
    if (frames_send_strings (zsock_resolve (self->pipe), "FIGURES", tag, NULL) == 0)
        pending->waiting++;
}

//  disable or enable: the supervisor keeps the set and tells every host
static void
s_ask_supervisor (desk_t *self, pending_t *pending)
{
    control_request_t *request = &pending->request;
    json_t *change = json_pack ("{s:s,s:s,s:s}", "action", request->name,
                                "kind", request->kind, "name", request->target);
    char *body = change? json_dumps (change, JSON_COMPACT): NULL;
    json_decref (change);
    char tag [16];
    snprintf (tag, sizeof (tag), "%" PRIu32, pending->tag);
    if (body && frames_send_strings (zsock_resolve (self->pipe), "CATALOG", tag, body, NULL) == 0)
        pending->waiting++;
    free (body);
}

//  --------------------------------------------------------------------------
//  Answers

static void
s_answer_stats (desk_t *self, pending_t *pending)
{
    json_t *hosts = pending->figures.hosts;
    json_t *supervisor = pending->figures.supervisor? pending->figures.supervisor: json_object ();
    json_t *fields = json_pack ("{s:I,s:I,s:I,s:I,s:I,s:O*,s:s,s:b,s:O,s:O*,s:O,s:O*,s:O}",
        "sessions", figures_sum (hosts, "sessions"),
        "requests", figures_sum (hosts, "requests"),
        "errors", figures_sum (hosts, "errors") + json_integer_value (json_object_get (supervisor, "refused")),
        "overloads", figures_sum (hosts, "overloads") + json_integer_value (json_object_get (supervisor, "overloads")),
        "timeouts", figures_sum (hosts, "timeouts"),
        "uptime_s", json_object_get (supervisor, "uptime_s"),
        "node", self->config->node_id,
        "partial", pending->waiting > 0,
        "hosts", hosts,
        "tools", pending->figures.tools,
        "db", pending->figures.db,
        "cleanup", pending->figures.cleanup,
        "supervisor", supervisor);
    if (!pending->figures.supervisor)
        json_decref (supervisor);
    //  Per-host request matrices and histograms are for metrics
    size_t index;
    json_t *host;
    json_array_foreach (json_object_get (fields, "hosts"), index, host) {
        json_object_del (host, "methods");
        json_object_del (host, "latency");
    }
    s_reply_ok (self, pending, fields);
}

//  sessions: every host sends its page of ids above the cursor, in order;
//  the smallest "limit" of them all make this page. Ordering by id keeps
//  pages stable while sessions come and go: a new one lands before or
//  after the cursor, never shifting what is still to come.
static int
s_by_id (const void *a, const void *b)
{
    json_t *left = *(json_t **) a, *right = *(json_t **) b;
    return strcmp (json_string_value (json_object_get (left, "id")),
                   json_string_value (json_object_get (right, "id")));
}

static void
s_answer_sessions (desk_t *self, pending_t *pending)
{
    size_t total = 0, index;
    json_t *page, *item;
    bool more = false;
    json_array_foreach (pending->figures.hosts, index, page) {
        total += json_array_size (json_object_get (page, "sessions"));
        more = more || json_is_true (json_object_get (page, "more"));
    }
    json_t **all = (json_t **) calloc (total + 1, sizeof (json_t *));
    size_t count = 0;
    json_array_foreach (pending->figures.hosts, index, page) {
        size_t at;
        json_array_foreach (json_object_get (page, "sessions"), at, item)
            all [count++] = item;
    }
    qsort (all, count, sizeof (json_t *), s_by_id);
    size_t limit = (size_t) pending->request.limit;
    json_t *sessions = json_array ();
    for (index = 0; index < count && index < limit; index++)
        json_array_append (sessions, all [index]);
    more = more || count > limit;
    json_t *last = json_array_get (sessions, json_array_size (sessions) - 1);
    json_t *cursor = more && last? json_incref (json_object_get (last, "id")): json_null ();
    free (all);
    s_reply_ok (self, pending, json_pack ("{s:o,s:o,s:b}", "sessions", sessions,
                                          "next_cursor", cursor, "partial", pending->waiting > 0));
}

static void
s_answer_session (desk_t *self, pending_t *pending)
{
    json_t *info = json_array_get (pending->figures.hosts, 0);
    if (json_is_object (info))
        s_reply_ok (self, pending, json_incref (info));
    else
        s_reply_error (self, pending, pending->waiting? "the session's host did not answer in time":
                       "no such session on this node");
}

static void
s_answer_kill (desk_t *self, pending_t *pending)
{
    const char *result = pending->result? pending->result: "the session's host did not answer in time";
    if (streq (result, "ok"))
        s_reply_ok (self, pending, json_pack ("{s:s}", "killed", pending->request.id));
    else
        s_reply_error (self, pending, streq (result, "missing")? "no such session on this node": result);
}

//  The supervisor's word on a disable or enable
static void
s_answer_catalog (desk_t *self, pending_t *pending)
{
    json_t *outcome = pending->figures.supervisor;
    const char *error = json_string_value (json_object_get (outcome, "error"));
    if (!outcome)
        s_reply_error (self, pending, "the supervisor did not answer in time");
    else
    if (error)
        s_reply_error (self, pending, error);
    else
        s_reply_ok (self, pending, json_pack ("{s:s,s:s,s:b,s:O}", "kind", pending->request.kind,
            "name", pending->request.target, "enabled", pending->request.command == CONTROL_ENABLE,
            "changed", json_object_get (outcome, "changed")));
}

static void
s_answer_cleanup (desk_t *self, pending_t *pending)
{
    if (pending->figures.cleanup)
        s_reply_ok (self, pending, json_pack ("{s:O}", "report", pending->figures.cleanup));
    else
        s_reply_error (self, pending, "cleanup did not finish in time");
}

static void
s_answer_metrics (desk_t *self, pending_t *pending)
{
    char *text = figures_metrics (&pending->figures, pending->waiting > 0);
    if (text)
        s_reply_ok (self, pending, json_pack ("{s:s}", "text", text));
    else
        s_reply_error (self, pending, "out of memory");
    free (text);
}

static void
s_answer (desk_t *self, pending_t *pending)
{
    switch (pending->request.command) {
        case CONTROL_STATS:    s_answer_stats (self, pending); break;
        case CONTROL_SESSIONS: s_answer_sessions (self, pending); break;
        case CONTROL_SESSION:  s_answer_session (self, pending); break;
        case CONTROL_KILL:     s_answer_kill (self, pending); break;
        case CONTROL_DISABLE:
        case CONTROL_ENABLE:   s_answer_catalog (self, pending); break;
        case CONTROL_UPSTREAMS:
            s_reply_ok (self, pending, json_pack ("{s:O,s:b}", "upstreams", pending->figures.upstreams,
                        "partial", pending->waiting > 0));
            break;
        case CONTROL_CLEANUP:  s_answer_cleanup (self, pending); break;
        case CONTROL_METRICS:  s_answer_metrics (self, pending); break;
        default:               s_reply_error (self, pending, "internal error"); break;
    }
}

//  A reply from an actor for a pending request; the request is answered
//  when it was the last one expected.
static void
s_arrived (desk_t *self, zmq_msg_t *tag, const char *source, zmq_msg_t *body)
{
    pending_t *pending = s_pending_find (self, tag);
    if (!pending)
        return;                 //  came after its deadline
    json_t *json = body? json_loadb (zmq_msg_data (body), zmq_msg_size (body), 0, NULL): NULL;
    if (streq (source, "host")) {
        if (json)
            json_array_append (pending->figures.hosts, json);
    }
    else
    if (streq (source, "killed"))
        pending->result = body? strndup ((char *) zmq_msg_data (body), zmq_msg_size (body)): NULL;
    else
    if (streq (source, "db"))
        json_array_append (pending->figures.db, json? json: json_null ());
    else
    if (streq (source, "upstream")) {
        if (json)
            json_array_append (pending->figures.upstreams, json);
    }
    else {
        json_t **slot = streq (source, "tools")? &pending->figures.tools:
                        streq (source, "cleanup")? &pending->figures.cleanup: &pending->figures.supervisor;
        json_decref (*slot);
        *slot = json_incref (json);
    }
    json_decref (json);
    if (--pending->waiting <= 0) {
        s_answer (self, pending);
        zlistx_delete (self->pending, zlistx_cursor (self->pending));
    }
}

//  Answers what is past its deadline; returns ms to the next deadline.
static long
s_expire (desk_t *self)
{
    long timeout = -1;
    int64_t now = zclock_mono ();
    pending_t *pending = (pending_t *) zlistx_first (self->pending);
    while (pending) {
        if (pending->deadline <= now) {
            s_answer (self, pending);
            zlistx_delete (self->pending, zlistx_cursor (self->pending));
            pending = (pending_t *) zlistx_first (self->pending);
            continue;
        }
        long left = (long) (pending->deadline - now);
        if (timeout < 0 || left < timeout)
            timeout = left;
        pending = (pending_t *) zlistx_next (self->pending);
    }
    return timeout;
}

//  --------------------------------------------------------------------------
//  Operator requests

static void
s_start (desk_t *self, pending_t *pending)
{
    control_request_t *request = &pending->request;
    char limit [16];
    switch (request->command) {
        case CONTROL_STATS:
        case CONTROL_METRICS:
            s_ask_everyone (self, pending);
            break;
        case CONTROL_SESSIONS:
            snprintf (limit, sizeof (limit), "%d", request->limit);
            s_to_all_hosts (self, pending, "LIST", request->cursor, limit);
            break;
        case CONTROL_SESSION:
            s_to_host (self, pending, (int) mcpz_sid_host (request->id, (uint32_t) self->host_count),
                       "INFO", request->id, NULL);
            break;
        case CONTROL_KILL:
            s_to_host (self, pending, (int) mcpz_sid_host (request->id, (uint32_t) self->host_count),
                       "KILL", request->id, NULL);
            //  A kill waits for the row's delete, as CLOSE does
            pending->deadline = zclock_mono () + self->config->store_timeout * 2 + GATHER_MS;
            break;
        case CONTROL_DISABLE:
        case CONTROL_ENABLE:
            s_ask_supervisor (self, pending);
            break;
        case CONTROL_UPSTREAMS:
            s_ask_upstreams (self, pending);
            break;
        case CONTROL_CLEANUP:
            s_send_tagged (zsock_resolve (self->cleanup), NULL, "CYCLE", pending, NULL, NULL,
                           &pending->waiting);
            //  A cycle waits for hosts (5 s at most), then for the store twice;
            //  one already running finishes first
            pending->deadline = zclock_mono () + 2 * (5000 + 2 * (self->config->store_timeout + 1000)) + 1000;
            break;
        default:
            break;
    }
    if (pending->waiting == 0) {
        s_answer (self, pending);
        s_pending_destroy (&pending);
        return;
    }
    zlistx_add_end (self->pending, pending);
}

static bool
s_handle_operator (desk_t *self)
{
    zmq_msg_t frames [4];
    int count;
    if (frames_recv (self->control_raw, frames, 4, &count, ZMQ_DONTWAIT))
        return false;
    int received = count < 4? count: 4;
    if (count < 2) {
        frames_close (frames, received);
        return true;                 //  no envelope we could answer on
    }
    //  A request is one frame after the peer's identity (and a REQ
    //  socket's empty frame); more get an error, never silence
    bool too_many = count > 3;
    int envelope = !too_many? count - 1: zmq_msg_size (&frames [1]) == 0? 2: 1;
    zmq_msg_t *body = &frames [count - 1 < 3? count - 1: 3];
    pending_t *pending = (pending_t *) calloc (1, sizeof (pending_t));
    assert (pending);
    for (int index = 0; index < envelope; index++) {
        zmq_msg_init (&pending->envelope [index]);
        zmq_msg_move (&pending->envelope [index], &frames [index]);
    }
    pending->envelope_size = envelope;
    pending->tag = ++self->next_tag;
    pending->deadline = zclock_mono () + GATHER_MS;
    pending->figures.hosts = json_array ();
    pending->figures.db = json_array ();
    pending->figures.upstreams = json_array ();
    char error [256];
    control_request_t *request = &pending->request;
    if (too_many)
        s_reply_error (self, pending, "a control request is one frame (after a REQ socket's empty frame)");
    else
    if (zmq_msg_size (body) > CONTROL_REQUEST_MAX)
        s_reply_error (self, pending, "a control request is at most 65536 bytes");
    else
    if (control_parse (zmq_msg_data (body), zmq_msg_size (body), request, error, sizeof (error)))
        s_reply_error (self, pending, error);
    else
    if (request->cursor [0] && !mcpz_sid_valid (request->cursor, strlen (request->cursor)))
        s_reply_error (self, pending, "sessions: \"cursor\" is not one this server gave out");
    else
    if (request->command == CONTROL_DRAIN) {
        if (frames_send_strings (zsock_resolve (self->pipe), "DRAIN", NULL))
            s_reply_error (self, pending, "the supervisor is busy, try again");
        else
            s_reply_ok (self, pending, json_pack ("{s:b}", "draining", 1));
    }
    else
    if (request->command == CONTROL_SHUTDOWN) {
        log_info (s_name, "shutdown asked on the control socket");
        if (frames_send_strings (zsock_resolve (self->pipe), "SHUTDOWN", NULL))
            s_reply_error (self, pending, "the supervisor is busy, try again");
        else
            s_reply_ok (self, pending, json_pack ("{s:b}", "draining", 1));
    }
    else
    if (request->command == CONTROL_CONFIG) {
        char *text = config_describe (self->config);
        json_t *settings = text? json_loads (text, 0, NULL): NULL;
        free (text);
        s_reply_ok (self, pending, json_pack ("{s:o}", "settings", settings? settings: json_object ()));
    }
    else
    if (zlistx_size (self->pending) >= PENDING_MAX)
        s_reply_error (self, pending, "too many control requests in progress, try again");
    else {
        s_start (self, pending);
        pending = NULL;         //  s_start keeps or frees it
    }
    s_pending_destroy (&pending);
    frames_close (frames, received);
    return true;
}

//  --------------------------------------------------------------------------
//  Replies from actors

static bool
s_handle_host (desk_t *self)
{
    zmq_msg_t frames [4];       //  identity, command, tag, body
    int count;
    if (frames_recv (self->hosts_raw, frames, 4, &count, ZMQ_DONTWAIT))
        return false;
    if (count == 4 && frames_is (&frames [1], "KILLED"))
        s_arrived (self, &frames [2], "killed", &frames [3]);
    else
    if (count == 4)
        s_arrived (self, &frames [2], "host", &frames [3]);
    frames_close (frames, count < 4? count: 4);
    return true;
}

//  The pool and cleanup answer COMMAND tag JSON; DB workers tag OK JSON.
static bool
s_handle_dealer (desk_t *self, zsock_t *socket, const char *source)
{
    zmq_msg_t frames [3];
    int count;
    if (frames_recv (zsock_resolve (socket), frames, 3, &count, ZMQ_DONTWAIT))
        return false;
    bool db = streq (source, "db");
    if (count == 3)
        s_arrived (self, &frames [db? 0: 1], source, &frames [2]);
    frames_close (frames, count < 3? count: 3);
    return true;
}

static bool
s_handle_pipe (desk_t *self)
{
    zmq_msg_t frames [3];
    int count;
    if (frames_recv (zsock_resolve (self->pipe), frames, 3, &count, ZMQ_DONTWAIT))
        return false;
    if (frames_is (&frames [0], "$TERM"))
        self->terminated = true;
    else
    if (count == 3 && (frames_is (&frames [0], "FIGURES") || frames_is (&frames [0], "CATALOG")))
        s_arrived (self, &frames [1], "supervisor", &frames [2]);
    frames_close (frames, count < 3? count: 3);
    return true;
}

//  --------------------------------------------------------------------------
//  Start

static int
s_setup (desk_t *self, control_args_t *args, char *error, size_t error_size)
{
    self->config = args->config;
    self->host_count = args->host_count;
    self->db_count = args->db_count;
    self->pending = zlistx_new ();
    self->hosts = zsock_new (ZMQ_ROUTER);
    self->tools = zsock_new (ZMQ_DEALER);
    self->cleanup = zsock_new (ZMQ_DEALER);
    self->db = zsock_new (ZMQ_DEALER);
    self->upstreams = zsock_new (ZMQ_DEALER);
    self->upstream_count = args->upstream_count;
    if (!self->pending || !self->hosts || !self->tools || !self->cleanup || !self->db || !self->upstreams)
        return -1;
    //  One DEALER deals one STATS to each upstream
    for (int index = 0; index < args->upstream_count; index++)
        if (zsock_connect (self->upstreams, "%s-%d", args->upstreams, index) == -1)
            return -1;
    zlistx_set_destructor (self->pending, (zlistx_destructor_fn *) s_pending_destroy);
    zsock_set_router_mandatory (self->hosts, 1);
    zsock_set_sndtimeo (self->hosts, 0);
    zsock_set_identity (self->cleanup, "control");
    if (zsock_bind (self->hosts, "%s", args->endpoint) == -1
    ||  zsock_connect (self->tools, "%s", args->tools_endpoint) == -1
    ||  zsock_connect (self->cleanup, "%s", args->cleanup_endpoint) == -1)
        return -1;
    for (int index = 0; index < args->db_count; index++)
        if (zsock_connect (self->db, "%s", args->db_endpoints [index]) == -1)
            return -1;
    self->hosts_raw = zsock_resolve (self->hosts);
    self->control = control_endpoint_bind (self->config, &self->control_file, error, error_size);
    if (!self->control)
        return -1;
    self->control_raw = zsock_resolve (self->control);
    return 0;
}

static void
s_drain (desk_t *self, void *socket, bool (*handler) (desk_t *))
{
    for (int batch = 0; batch < 256 && !self->terminated && handler (self); batch++)
        ;
}

static bool s_handle_tools (desk_t *self)   { return s_handle_dealer (self, self->tools, "tools"); }
static bool s_handle_db (desk_t *self)      { return s_handle_dealer (self, self->db, "db"); }
static bool s_handle_cleanup (desk_t *self) { return s_handle_dealer (self, self->cleanup, "cleanup"); }
static bool s_handle_upstreams (desk_t *self) { return s_handle_dealer (self, self->upstreams, "upstream"); }

static void
s_teardown (desk_t *self)
{
    zlistx_destroy (&self->pending);
    control_endpoint_close (&self->control, self->config, self->control_file);
    zsock_destroy (&self->hosts);
    zsock_destroy (&self->tools);
    zsock_destroy (&self->cleanup);
    zsock_destroy (&self->db);
    zsock_destroy (&self->upstreams);
}

void
control_actor (zsock_t *pipe, void *args)
{
    desk_t self = { .pipe = pipe };
    char error [512] = "";
    if (s_setup (&self, (control_args_t *) args, error, sizeof (error))) {
        s_teardown (&self);
        actor_ready (pipe, *error? error: "cannot start the control actor");
        return;
    }
    actor_ready (pipe, NULL);
    zmq_pollitem_t items [] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { self.control_raw, 0, ZMQ_POLLIN, 0 },
        { self.hosts_raw, 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self.tools), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self.cleanup), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self.db), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self.upstreams), 0, ZMQ_POLLIN, 0 }
    };
    while (!self.terminated) {
        long timeout = s_expire (&self);
        if (zmq_poll (items, 7, timeout) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN)
            s_drain (&self, items [0].socket, s_handle_pipe);
        if (items [2].revents & ZMQ_POLLIN)
            s_drain (&self, self.hosts_raw, s_handle_host);
        if (items [3].revents & ZMQ_POLLIN)
            s_drain (&self, items [3].socket, s_handle_tools);
        if (items [4].revents & ZMQ_POLLIN)
            s_drain (&self, items [4].socket, s_handle_cleanup);
        if (items [5].revents & ZMQ_POLLIN)
            s_drain (&self, items [5].socket, s_handle_db);
        if (items [6].revents & ZMQ_POLLIN)
            s_drain (&self, items [6].socket, s_handle_upstreams);
        if (items [1].revents & ZMQ_POLLIN)
            s_drain (&self, self.control_raw, s_handle_operator);
    }
    s_teardown (&self);
}
