/*  supervisor — the edge of mcpz.

    Owns: the client ROUTER (every --listen endpoint), the control ROUTER,
    the session hosts, the tool pool, and the session-id generator. It holds
    no session state: a frame goes to the host that its session id hashes
    to, so any supervisor would route it the same way. It never blocks: it
    sends to hosts with ZMQ_DONTWAIT, and a full host queue is an immediate
    ERR 503 for that request.

    Takes, from clients (ROUTER, spec/mcpz-1.md):
      [peer] MCPZ/1, MSG|LISTEN|CLOSE, session id, body
    Sends to clients:
      [peer] MCPZ/1, MSG|OK|ERR, session id, event id, body
    Takes, from operators (ROUTER; REQ or DEALER clients, spec/control.md):
      [peer] ["" ] {"command": ...}     and answers on the same envelope
    Takes, from session hosts: MSG|OK|ERR for clients; STATS tag, JSON
    Sends to session hosts: NEW|MSG|LISTEN|CLOSE peer, sid, body; STATS tag
    Takes, on its pipe: $TERM.  Sends on its pipe: SHUTDOWN when asked to.
*/
#include "actors/supervisor.h"
#include "actors/cleanup.h"
#include "actors/db_worker.h"
#include "actors/session_host.h"
#include "actors/tool_pool.h"
#include "proto/control.h"
#include "proto/mcpz.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/ids.h"
#include "runtime/log.h"
#include "store/store.h"

#include <inttypes.h>
#include <sys/stat.h>

#define RETRY_QUEUE_MS    100       //  retry_after_ms on a full host queue
#define CONTROL_DEADLINE  2000      //  ms to gather figures from actors
#define BATCH             256       //  messages handled per socket per pass

//  A control request waiting for figures from the actors
typedef enum { PENDING_STATS, PENDING_CLEANUP } pending_kind_t;

typedef struct {
    pending_kind_t kind;
    zmq_msg_t envelope [3];     //  routing id and REQ delimiter
    int envelope_size;
    uint32_t tag;               //  matches the actors' replies
    int waiting;                //  replies still expected
    json_t *hosts;              //  figures per host, in arrival order
    json_t *tools;              //  figures of the tool pool
    int64_t deadline;           //  answer with what arrived by then
} pending_t;

typedef struct {
    zsock_t *pipe;              //  to mcpzd's main thread
    const config_t *config;
    tool_table_t *table;
    zsock_t *router;            //  clients
    void *router_raw;
    zsock_t *control;           //  operators
    void *control_raw;
    zsock_t *tools;             //  DEALER to the tool pool, for its figures
    zactor_t *pool;             //  the tool pool
    zactor_t **db_workers;      //  one store connection each
    char (*db_endpoints) [64];
    int db_count;
    zactor_t *cleanup;          //  the cleanup actor
    void *cleanup_raw;
    zactor_t **hosts;           //  session hosts
    void **host_raw;            //  their pipes' libzmq sockets
    int host_count;
    ids_t *ids;                 //  session-id generator
    zlistx_t *pending;          //  pending_t, control requests in progress
    uint32_t next_tag;
    int64_t started;            //  monotonic ms at start
    uint64_t refused, overloads, undeliverable;     //  figures of the edge
    bool terminated;
} supervisor_t;

static const char *const s_name = "supervisor";

//  --------------------------------------------------------------------------
//  Clients

//  Sends an ERR straight from the edge. sid may be "" when none is known.
static void
s_refuse (supervisor_t *self, zmq_msg_t *peer, const char *sid, int status,
          const char *message, json_t *id, int retry_after_ms)
{
    size_t size;
    char *body = mcpz_err_body (status, message, id, retry_after_ms, &size);
    if (!body)
        return;
    self->refused++;
    if (status == 503)
        self->overloads++;
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, peer);
    if (zmq_msg_send (&copy, self->router_raw, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&copy);
        free (body);
        self->undeliverable++;
        return;
    }
    frames_send_text (self->router_raw, MCPZ_SIGNATURE, ZMQ_SNDMORE);
    frames_send_text (self->router_raw, "ERR", ZMQ_SNDMORE);
    frames_send_text (self->router_raw, sid, ZMQ_SNDMORE);
    frames_send_text (self->router_raw, "", ZMQ_SNDMORE);
    frames_send_owned (self->router_raw, body, size, 0);
}

//  Hands frames to a host without waiting: cmd, peer, sid, body. All four
//  are consumed on success; on EAGAIN nothing was sent.
static int
s_to_host (supervisor_t *self, int host, zmq_msg_t *cmd, zmq_msg_t *peer,
           zmq_msg_t *sid, zmq_msg_t *body)
{
    void *socket = self->host_raw [host];
    if (zmq_msg_send (cmd, socket, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    //  Later parts of a multipart message never hit the HWM
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, peer);
    zmq_msg_send (&copy, socket, ZMQ_SNDMORE);
    zmq_msg_send (sid, socket, ZMQ_SNDMORE);
    zmq_msg_send (body, socket, 0);
    return 0;
}

static void
s_handle_client (supervisor_t *self)
{
    zmq_msg_t frames [5];       //  peer, signature, command, sid, body
    int count;
    if (frames_recv (self->router_raw, frames, 5, &count, ZMQ_DONTWAIT))
        return;
    int kept = count < 5? count: 5;
    mcpz_frame_t view [4];
    for (int index = 1; index < kept; index++)
        view [index - 1] = (mcpz_frame_t) { zmq_msg_data (&frames [index]),
                                            zmq_msg_size (&frames [index]) };
    mcpz_command_t command;
    const char *reason = NULL;
    int status = mcpz_decode (view, (size_t) count - 1,
                              (size_t) self->config->max_message_size, &command, &reason);
    char sid [MCPZ_SID_SIZE + 1] = "";
    if (count == 5 && mcpz_sid_valid (view [2].data, view [2].size))
        memcpy (sid, view [2].data, MCPZ_SID_SIZE);

    if (status) {
        //  Name the request when its body can be read cheaply
        json_t *id = count == 5 && status != 413?
                     mcpz_body_id (view [3].data, view [3].size): NULL;
        s_refuse (self, &frames [0], sid, status, reason, id, -1);
        json_decref (id);
        frames_close (frames, kept);
        return;
    }
    int rc;
    if (!*sid) {
        //  A new session: its id decides its host
        if (ids_next (self->ids, sid)) {
            log_error (s_name, "the kernel gave no randomness for a session id");
            s_refuse (self, &frames [0], "", 503, "cannot create a session now", NULL, RETRY_QUEUE_MS);
            frames_close (frames, kept);
            return;
        }
        zmq_msg_t new_cmd, new_sid;
        zmq_msg_init_size (&new_cmd, 3);
        memcpy (zmq_msg_data (&new_cmd), "NEW", 3);
        zmq_msg_init_size (&new_sid, MCPZ_SID_SIZE);
        memcpy (zmq_msg_data (&new_sid), sid, MCPZ_SID_SIZE);
        rc = s_to_host (self, (int) mcpz_sid_host (sid, (uint32_t) self->host_count),
                        &new_cmd, &frames [0], &new_sid, &frames [4]);
        zmq_msg_close (&new_cmd);
        zmq_msg_close (&new_sid);
        *sid = 0;               //  not a session until the host says so
    }
    else
        rc = s_to_host (self, (int) mcpz_sid_host (sid, (uint32_t) self->host_count),
                        &frames [2], &frames [0], &frames [3], &frames [4]);
    if (rc) {
        json_t *id = mcpz_body_id (zmq_msg_data (&frames [4]), zmq_msg_size (&frames [4]));
        s_refuse (self, &frames [0], sid, 503, "server overloaded", id, RETRY_QUEUE_MS);
        json_decref (id);
    }
    frames_close (frames, kept);
}

//  A host's answer for a client. A peer that is gone or not reading loses
//  the message here; it never stalls the supervisor.
static void
s_forward (supervisor_t *self, zmq_msg_t *frames)
{
    if (zmq_msg_send (&frames [1], self->router_raw, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        self->undeliverable++;
        return;
    }
    frames_send_text (self->router_raw, MCPZ_SIGNATURE, ZMQ_SNDMORE);
    zmq_msg_send (&frames [0], self->router_raw, ZMQ_SNDMORE);
    zmq_msg_send (&frames [2], self->router_raw, ZMQ_SNDMORE);
    zmq_msg_send (&frames [3], self->router_raw, ZMQ_SNDMORE);
    zmq_msg_send (&frames [4], self->router_raw, 0);
}

//  --------------------------------------------------------------------------
//  Control

static void
s_control_reply (supervisor_t *self, zmq_msg_t *envelope, int envelope_size, char *body)
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
            return;
        }
    }
    frames_send_owned (self->control_raw, body, strlen (body), 0);
}

static pending_t *
s_pending_find (supervisor_t *self, zmq_msg_t *tag_frame)
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
s_pending_destroy (pending_t **pending_p)
{
    if (*pending_p) {
        frames_close ((*pending_p)->envelope, (*pending_p)->envelope_size);
        json_decref ((*pending_p)->hosts);
        json_decref ((*pending_p)->tools);
        free (*pending_p);
        *pending_p = NULL;
    }
}

static json_int_t
s_sum (json_t *hosts, const char *field)
{
    json_int_t sum = 0;
    size_t index;
    json_t *host;
    json_array_foreach (hosts, index, host)
        sum += json_integer_value (json_object_get (host, field));
    return sum;
}

//  Answers a stats request with the figures gathered so far.
static void
s_stats_answer (supervisor_t *self, pending_t *pending)
{
    json_t *hosts = pending->hosts;
    json_t *fields = json_pack ("{s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:b,s:O,s:O*,s:{s:I,s:I,s:I}}",
        "sessions", s_sum (hosts, "sessions"),
        "requests", s_sum (hosts, "requests"),
        "errors", s_sum (hosts, "errors") + (json_int_t) self->refused,
        "overloads", s_sum (hosts, "overloads") + (json_int_t) self->overloads,
        "timeouts", s_sum (hosts, "timeouts"),
        "uptime_s", (json_int_t) ((zclock_mono () - self->started) / 1000),
        "node", self->config->node_id,
        "partial", pending->waiting > 0,
        "hosts", hosts,
        "tools", pending->tools,
        "supervisor",
            "refused", (json_int_t) self->refused,
            "overloads", (json_int_t) self->overloads,
            "undeliverable", (json_int_t) self->undeliverable);
    s_control_reply (self, pending->envelope, pending->envelope_size,
                     control_reply_ok (fields, NULL));
    json_decref (fields);
}

//  A STATS reply from a host or the pool.
static void
s_stats_arrived (supervisor_t *self, zmq_msg_t *tag, zmq_msg_t *body, bool from_pool)
{
    pending_t *pending = s_pending_find (self, tag);
    if (!pending || pending->kind != PENDING_STATS)
        return;                 //  came after the deadline
    json_t *figures = json_loadb (zmq_msg_data (body), zmq_msg_size (body), 0, NULL);
    if (from_pool) {
        json_decref (pending->tools);
        pending->tools = figures;
    }
    else
    if (figures)
        json_array_append_new (pending->hosts, figures);
    if (--pending->waiting == 0) {
        s_stats_answer (self, pending);
        zlistx_delete (self->pending, zlistx_cursor (self->pending));
    }
}

//  Remembers a control request that waits for other actors.
static pending_t *
s_pending_new (supervisor_t *self, pending_kind_t kind, zmq_msg_t *envelope,
               int envelope_size, int deadline_ms)
{
    pending_t *pending = (pending_t *) calloc (1, sizeof (pending_t));
    assert (pending);
    pending->kind = kind;
    for (int index = 0; index < envelope_size; index++) {
        zmq_msg_init (&pending->envelope [index]);
        zmq_msg_copy (&pending->envelope [index], &envelope [index]);
    }
    pending->envelope_size = envelope_size;
    pending->tag = ++self->next_tag;
    pending->hosts = json_array ();
    pending->deadline = zclock_mono () + deadline_ms;
    zlistx_add_end (self->pending, pending);
    return pending;
}

//  Asks the cleanup actor for a cycle now; its report is the answer.
static void
s_cleanup_start (supervisor_t *self, zmq_msg_t *envelope, int envelope_size)
{
    //  A cycle waits for hosts (5 s at most), then for the store twice
    int deadline = 5000 + 2 * (self->config->store_timeout + 1000) + 1000;
    pending_t *pending = s_pending_new (self, PENDING_CLEANUP, envelope, envelope_size, deadline);
    char tag [16];
    snprintf (tag, sizeof (tag), "%" PRIu32, pending->tag);
    zstr_sendx (self->cleanup, "CYCLE", tag, NULL);
}

//  The cleanup actor's report for a control request.
static void
s_cleanup_report (supervisor_t *self)
{
    zmsg_t *msg = zmsg_recv (self->cleanup);
    zframe_t *tag = msg && zmsg_size (msg) == 3 && zmsg_first (msg)? zmsg_next (msg): NULL;
    zframe_t *body = tag? zmsg_next (msg): NULL;
    zmq_msg_t tag_frame;
    zmq_msg_init_size (&tag_frame, tag? zframe_size (tag): 0);
    if (tag)
        memcpy (zmq_msg_data (&tag_frame), zframe_data (tag), zframe_size (tag));
    pending_t *pending = tag? s_pending_find (self, &tag_frame): NULL;
    zmq_msg_close (&tag_frame);
    if (pending) {
        json_t *report = json_loadb ((const char *) zframe_data (body), zframe_size (body), 0, NULL);
        json_t *fields = json_pack ("{s:o}", "report", report? report: json_object ());
        s_control_reply (self, pending->envelope, pending->envelope_size,
                         control_reply_ok (fields, NULL));
        json_decref (fields);
        zlistx_delete (self->pending, zlistx_cursor (self->pending));
    }
    zmsg_destroy (&msg);
}

//  Starts gathering figures from every host and the pool.
static void
s_stats_start (supervisor_t *self, zmq_msg_t *envelope, int envelope_size)
{
    pending_t *pending = s_pending_new (self, PENDING_STATS, envelope, envelope_size,
                                        CONTROL_DEADLINE);
    char tag [16];
    snprintf (tag, sizeof (tag), "%" PRIu32, pending->tag);
    for (int index = 0; index < self->host_count; index++)
        if (zmq_send (self->host_raw [index], "STATS", 5, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 5) {
            frames_send_text (self->host_raw [index], tag, 0);
            pending->waiting++;
        }
    if (zmq_send (zsock_resolve (self->tools), "STATS", 5, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 5) {
        frames_send_text (zsock_resolve (self->tools), tag, 0);
        pending->waiting++;
    }
}

//  Answers what is past its deadline; returns ms until the next deadline.
static long
s_pending_expire (supervisor_t *self)
{
    long timeout = -1;
    int64_t now = zclock_mono ();
    pending_t *pending = (pending_t *) zlistx_first (self->pending);
    while (pending) {
        if (pending->deadline <= now) {
            if (pending->kind == PENDING_STATS)
                s_stats_answer (self, pending);
            else
                s_control_reply (self, pending->envelope, pending->envelope_size,
                    control_reply_error ("cleanup did not finish in time", NULL));
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

static void
s_handle_control (supervisor_t *self)
{
    zmq_msg_t frames [4];
    int count;
    if (frames_recv (self->control_raw, frames, 4, &count, ZMQ_DONTWAIT))
        return;
    if (count < 2 || count > 3) {
        frames_close (frames, count < 4? count: 4);
        return;                 //  no envelope to answer on
    }
    zmq_msg_t *body = &frames [count - 1];
    control_request_t request;
    char error [256];
    if (control_parse (zmq_msg_data (body), zmq_msg_size (body), &request,
                       error, sizeof (error)))
        s_control_reply (self, frames, count - 1, control_reply_error (error, NULL));
    else
    if (request.command == CONTROL_STATS)
        s_stats_start (self, frames, count - 1);
    else
    if (request.command == CONTROL_CLEANUP)
        s_cleanup_start (self, frames, count - 1);
    else
    if (request.command == CONTROL_SHUTDOWN) {
        log_info (s_name, "shutdown asked on the control socket");
        s_control_reply (self, frames, count - 1, control_reply_ok (NULL, NULL));
        zstr_send (self->pipe, "SHUTDOWN");
    }
    else {
        snprintf (error, sizeof (error), "%s is not available in this build yet", request.name);
        s_control_reply (self, frames, count - 1, control_reply_error (error, NULL));
    }
    frames_close (frames, count);
}

//  --------------------------------------------------------------------------
//  Hosts and pool

static void
s_handle_host (supervisor_t *self, int host)
{
    zmq_msg_t frames [5];
    int count;
    if (frames_recv (self->host_raw [host], frames, 5, &count, ZMQ_DONTWAIT))
        return;
    if (count == 5)
        s_forward (self, frames);
    else
    if (count == 3 && frames_is (&frames [0], "STATS"))
        s_stats_arrived (self, &frames [1], &frames [2], false);
    frames_close (frames, count < 5? count: 5);
}

static void
s_handle_tools (supervisor_t *self)
{
    zmq_msg_t frames [3];
    int count;
    void *socket = zsock_resolve (self->tools);
    if (frames_recv (socket, frames, 3, &count, ZMQ_DONTWAIT))
        return;
    if (count == 3 && frames_is (&frames [0], "STATS"))
        s_stats_arrived (self, &frames [1], &frames [2], true);
    frames_close (frames, count < 3? count: 3);
}

//  --------------------------------------------------------------------------
//  Start and stop

static bool
s_loopback (const char *endpoint)
{
    const char *host = endpoint + 6;    //  after tcp://
    return strncmp (host, "127.", 4) == 0 || strncmp (host, "localhost:", 10) == 0
        || strncmp (host, "[::1]:", 6) == 0;
}

//  Binds the control socket; an ipc path is created mode 0600.
static int
s_bind_control (supervisor_t *self, char *error, size_t error_size)
{
    const char *endpoint = self->config->control;
    if (strncmp (endpoint, "tcp://", 6) == 0 && !s_loopback (endpoint)) {
        snprintf (error, error_size, "--control %s: a tcp control endpoint must be on loopback", endpoint);
        return -1;
    }
    self->control = zsock_new (ZMQ_ROUTER);
    if (!self->control)
        return -1;
    zsock_set_linger (self->control, 500);      //  let the last reply leave
    zsock_set_sndhwm (self->control, 1000);
    zsock_set_rcvhwm (self->control, 1000);
    zsock_set_maxmsgsize (self->control, 65536);
    //  The file is created by bind: narrow the mask so it is never open
    mode_t mask = umask (077);
    int rc = zsock_bind (self->control, "%s", endpoint);
    umask (mask);
    if (rc == -1) {
        snprintf (error, error_size, "--control %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    if (strncmp (endpoint, "ipc://", 6) == 0)
        chmod (endpoint + 6, 0600);
    self->control_raw = zsock_resolve (self->control);
    return 0;
}

static int
s_bind_clients (supervisor_t *self, char *error, size_t error_size)
{
    const config_t *config = self->config;
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router)
        return -1;
    //  A slow or vanished peer must never block a send
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_sndtimeo (self->router, 0);
    //  A peer that stops reading loses what passes --peer-queue (it waits
    //  in the session's replay ring for a LISTEN), so a client that never
    //  reads costs at most that many answers of memory. Group commits
    //  answer a thousand opens at once: 1,000 measured too few.
    zsock_set_sndhwm (self->router, config->peer_queue);
    zsock_set_rcvhwm (self->router, config->peer_queue);
    zsock_set_linger (self->router, 200);
    //  Past this size libzmq drops the connection; between the body limit
    //  and this, the client gets a 413 it can read.
    zsock_set_maxmsgsize (self->router, 4 * (int64_t) config->max_message_size + 4096);
    for (int index = 0; index < config->listen_count; index++)
        if (zsock_bind (self->router, "%s", config->listen [index]) == -1) {
            snprintf (error, error_size, "--listen %s: %s", config->listen [index],
                      zmq_strerror (zmq_errno ()));
            return -1;
        }
    self->router_raw = zsock_resolve (self->router);
    return 0;
}

//  Checks the store once before anything depends on it: a bad URL, an
//  unreachable server or a foreign database stops mcpzd at start.
static int
s_check_store (supervisor_t *self, char *error, size_t error_size)
{
    if (!store_persistent (self->config->store))
        return 0;
    store_t *store = store_open (self->config->store, self->config->node_id,
                                 self->config->store_timeout, NULL, error, error_size);
    if (!store)
        return -1;
    store_destroy (&store);
    return 0;
}

static int
s_start_store (supervisor_t *self, char *error, size_t error_size)
{
    const config_t *config = self->config;
    if (!store_persistent (config->store))
        return 0;
    self->db_count = config->db_workers;
    //  SQLite admits one writer at a time and every store request writes:
    //  five connections measured 4.3k opens/s here, one 18.8k/s (it
    //  batches what the others would wait for on the lock).
    if (strncmp (config->store, "sqlite:", 7) == 0 && self->db_count > 1) {
        log_info (s_name, "store is SQLite: one DB worker instead of %d (one writer at a time)",
                  self->db_count);
        self->db_count = 1;
    }
    self->db_workers = (zactor_t **) calloc ((size_t) self->db_count, sizeof (zactor_t *));
    self->db_endpoints = calloc ((size_t) self->db_count, sizeof (*self->db_endpoints));
    if (!self->db_workers || !self->db_endpoints)
        return -1;
    for (int index = 0; index < self->db_count; index++) {
        db_worker_endpoint (self, index, self->db_endpoints [index], sizeof (self->db_endpoints [index]));
        db_worker_args_t args = { config, index, self->db_endpoints [index] };
        self->db_workers [index] = actor_start (db_worker_actor, &args, error, error_size);
        if (!self->db_workers [index])
            return -1;
    }
    return 0;
}

static int
s_start_actors (supervisor_t *self, char *error, size_t error_size)
{
    const config_t *config = self->config;
    char endpoint [64], cleanup_endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://mcpz-tools-%p", (void *) self);
    snprintf (cleanup_endpoint, sizeof (cleanup_endpoint), "inproc://mcpz-cleanup-%p", (void *) self);
    tool_pool_args_t pool_args = { config, self->table, endpoint };
    self->pool = actor_start (tool_pool_actor, &pool_args, error, error_size);
    if (!self->pool)
        return -1;
    self->tools = zsock_new_dealer (endpoint);
    if (!self->tools || s_start_store (self, error, error_size))
        return -1;
    self->host_count = config->session_threads;
    cleanup_args_t cleanup_args = { config, cleanup_endpoint, self->host_count,
                                    self->db_endpoints, self->db_count };
    self->cleanup = actor_start (cleanup_actor, &cleanup_args, error, error_size);
    if (!self->cleanup)
        return -1;
    self->cleanup_raw = zsock_resolve (self->cleanup);
    //  Host pipes carry the request path; their bound is --host-queue,
    //  split between the sender's and receiver's HWM, which libzmq adds up
    //  on inproc. zactor sets only the send HWM of its pipe, so the
    //  receive HWM comes from the default that new sockets take.
    size_t half = (size_t) (config->host_queue + 1) / 2;
    zsys_set_pipehwm (half);
    zsys_set_rcvhwm (half);
    self->hosts = (zactor_t **) calloc ((size_t) self->host_count, sizeof (zactor_t *));
    self->host_raw = (void **) calloc ((size_t) self->host_count, sizeof (void *));
    int rc = self->hosts && self->host_raw? 0: -1;
    for (int index = 0; rc == 0 && index < self->host_count; index++) {
        session_host_args_t args = { config, self->table, index, self->host_count, endpoint,
                                     cleanup_endpoint, self->db_endpoints, self->db_count };
        self->hosts [index] = actor_start (session_host_actor, &args, error, error_size);
        if (!self->hosts [index])
            rc = -1;
        else
            self->host_raw [index] = zsock_resolve (self->hosts [index]);
    }
    zsys_set_pipehwm (1000);
    zsys_set_rcvhwm (1000);
    return rc;
}

static void
s_stop (supervisor_t *self)
{
    //  Clients of the other actors go first
    for (int index = 0; self->hosts && index < self->host_count; index++)
        zactor_destroy (&self->hosts [index]);
    free (self->hosts);
    free (self->host_raw);
    zactor_destroy (&self->cleanup);
    for (int index = 0; self->db_workers && index < self->db_count; index++)
        zactor_destroy (&self->db_workers [index]);
    free (self->db_workers);
    free (self->db_endpoints);
    zsock_destroy (&self->tools);
    zactor_destroy (&self->pool);
    zlistx_destroy (&self->pending);
    zsock_destroy (&self->control);
    zsock_destroy (&self->router);
    ids_destroy (&self->ids);
}

static int
s_start (supervisor_t *self, char *error, size_t error_size)
{
    self->started = zclock_mono ();
    self->ids = ids_new ();
    self->pending = zlistx_new ();
    if (!self->ids || !self->pending) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    zlistx_set_destructor (self->pending, (zlistx_destructor_fn *) s_pending_destroy);
    if (s_check_store (self, error, error_size)
    ||  s_start_actors (self, error, error_size)
    ||  s_bind_clients (self, error, error_size)
    ||  s_bind_control (self, error, error_size))
        return -1;
    return 0;
}

static void
s_log_ready (supervisor_t *self)
{
    char listen [1024] = "";
    for (int index = 0; index < self->config->listen_count; index++)
        snprintf (listen + strlen (listen), sizeof (listen) - strlen (listen), "%s%s",
                  index? ",": "", self->config->listen [index]);
    log_info (s_name, "ready listen=%s control=%s store=%s node=%s hosts=%d tool-threads=%d tools=%zu",
              listen, self->config->control, self->config->store, self->config->node_id,
              self->host_count, self->config->tool_threads, tool_table_size (self->table));
}

//  Handles up to a batch of waiting messages on one socket.
static void
s_drain (void *socket, supervisor_t *self, void (*handler) (supervisor_t *))
{
    for (int batch = 0; batch < BATCH; batch++) {
        int events = 0;
        size_t size = sizeof (events);
        if (zmq_getsockopt (socket, ZMQ_EVENTS, &events, &size) || !(events & ZMQ_POLLIN))
            break;
        handler (self);
    }
}

static void
s_loop (supervisor_t *self)
{
    int count = self->host_count + 5;
    zmq_pollitem_t *items = (zmq_pollitem_t *) calloc ((size_t) count, sizeof (zmq_pollitem_t));
    assert (items);
    items [0] = (zmq_pollitem_t) { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 };
    items [1] = (zmq_pollitem_t) { self->router_raw, 0, ZMQ_POLLIN, 0 };
    items [2] = (zmq_pollitem_t) { self->control_raw, 0, ZMQ_POLLIN, 0 };
    items [3] = (zmq_pollitem_t) { zsock_resolve (self->tools), 0, ZMQ_POLLIN, 0 };
    items [4] = (zmq_pollitem_t) { self->cleanup_raw, 0, ZMQ_POLLIN, 0 };
    for (int index = 0; index < self->host_count; index++)
        items [index + 5] = (zmq_pollitem_t) { self->host_raw [index], 0, ZMQ_POLLIN, 0 };

    while (!self->terminated) {
        long timeout = s_pending_expire (self);
        if (zmq_poll (items, count, timeout) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (self->pipe);
            self->terminated = !command || streq (command, "$TERM");
            zstr_free (&command);
        }
        //  Answers first: they free room in every queue behind them
        for (int index = 0; index < self->host_count; index++)
            if (items [index + 5].revents & ZMQ_POLLIN) {
                void *socket = self->host_raw [index];
                for (int batch = 0; batch < BATCH; batch++) {
                    int events = 0;
                    size_t size = sizeof (events);
                    if (zmq_getsockopt (socket, ZMQ_EVENTS, &events, &size)
                    || !(events & ZMQ_POLLIN))
                        break;
                    s_handle_host (self, index);
                }
            }
        if (items [1].revents & ZMQ_POLLIN)
            s_drain (self->router_raw, self, s_handle_client);
        if (items [2].revents & ZMQ_POLLIN)
            s_drain (self->control_raw, self, s_handle_control);
        if (items [3].revents & ZMQ_POLLIN)
            s_drain (zsock_resolve (self->tools), self, s_handle_tools);
        if (items [4].revents & ZMQ_POLLIN)
            s_drain (self->cleanup_raw, self, s_cleanup_report);
    }
    free (items);
}

void
supervisor_actor (zsock_t *pipe, void *args)
{
    supervisor_args_t *start = (supervisor_args_t *) args;
    supervisor_t self = { .pipe = pipe, .config = start->config, .table = start->table };
    char error [512] = "";
    if (s_start (&self, error, sizeof (error))) {
        s_stop (&self);
        actor_ready (pipe, *error? error: "cannot start");
        return;
    }
    actor_ready (pipe, NULL);
    s_log_ready (&self);
    s_loop (&self);
    s_stop (&self);
    log_info (s_name, "stopped");
}
