/*  ops — store requests of a session host, with a persistent store.

    Owns: the store requests in flight (op_t) with their deadlines, and the
    frames waiting for a session being loaded.
    Sends to DB workers (DEALER, round-robin):
      CREATE tag, id, version, created-ms, client-info, capabilities, principal,
      deadline;  LOAD tag, id, not-before-ms, deadline;  DELETE tag, id, epoch,
      deadline (monotonic ms: the worker does not start one past it)
    Takes their answers: tag, OK|OWNED|MISSING|ERR, ...  (see db_worker.c)
    Sends to the supervisor: FWD peer, sid, "COMMAND\tNODE\tENDPOINT", body,
    principal for each frame of a session another live node owns.

    A session is answered only once its row is committed, closed only once
    its row is deleted, and a frame naming a session this host does not
    hold claims it from the store first (frames wait meanwhile, bounded per
    session and per host). A session another live node owns is that
    node's: its frames go back to the supervisor to be forwarded. A request
    without an answer by its deadline counts as the store being
    unavailable; its late answer is dropped.
*/
#include "actors/host/ops.h"
#include "actors/host/calls.h"
#include "actors/host/host.h"
#include "actors/host/lifecycle.h"
#include "actors/host/operator.h"
#include "proto/mcp.h"
#include "runtime/frames.h"
#include "runtime/log.h"
#include "store/store.h"

#include <inttypes.h>

//  Frames that may wait for one session being loaded, and sessions that
//  may be loading at once on one host; past them, ERR 503.
#define LOAD_QUEUE     64
#define LOADS_MAX      4096

typedef enum { OP_CREATE, OP_DELETE, OP_LOAD } op_kind_t;

typedef struct {
    zmq_msg_t frames [HOST_CLIENT_FRAMES];
} queued_t;

//  A store request waiting for its answer
typedef struct {
    uint64_t tag;               //  host-unique; also the hash key
    op_kind_t kind;
    char sid [MCPZ_SID_SIZE + 1];
    char *kill_tag;             //  DELETE for an operator's kill: its tag
    int64_t received;           //  CREATE: µs when initialize arrived
    heap_node_t timer;          //  deadline: a lost answer must not leave
                                //  a request, or the session, waiting forever
    zmq_msg_t peer;             //  CREATE and DELETE: who gets the answer
    json_t *id;                 //  CREATE: the initialize request's id
    zlistx_t *queued;           //  LOAD: frames for the session, in order
    uint64_t fence_count;       //  LOAD: the host's fences when it was asked
} op_t;

static void
s_op_destroy (op_t **op_p)
{
    if (*op_p) {
        op_t *op = *op_p;
        zmq_msg_close (&op->peer);
        json_decref (op->id);
        free (op->kill_tag);
        for (queued_t *queued = op->queued? (queued_t *) zlistx_first (op->queued): NULL;
             queued; queued = (queued_t *) zlistx_next (op->queued)) {
            frames_close (queued->frames, HOST_CLIENT_FRAMES);
            free (queued);
        }
        zlistx_destroy (&op->queued);
        free (op);
        *op_p = NULL;
    }
}

int
ops_setup (host_t *self)
{
    //  loading indexes the LOADs by their session id
    return host_tracking_new (&self->ops, (zhashx_destructor_fn *) s_op_destroy,
                              &self->loading, &self->op_timers);
}

//  Sends a store request: command, tag, then the given text frames. Returns
//  the new op, registered, or NULL when the DB queue is full.
static op_t *
s_op_start (host_t *self, op_kind_t kind, const char *command, const char *sid,
            const char **args, int arg_count)
{
    op_t *op = (op_t *) calloc (1, sizeof (op_t));
    if (!op)
        return NULL;
    op->tag = ++self->next_tag;
    op->kind = kind;
    memcpy (op->sid, sid, MCPZ_SID_SIZE + 1);
    zmq_msg_init (&op->peer);
    if (zmq_send (self->db_raw, command, strlen (command), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        s_op_destroy (&op);
        return NULL;
    }
    //  A store call is bounded by --store-timeout; one reconnect and retry
    //  may double that
    op->timer.deadline = zclock_mono () + 2 * (int64_t) self->config->store_timeout + 1000;
    frames_send_copy (self->db_raw, &op->tag, sizeof (op->tag), ZMQ_SNDMORE);
    frames_send_text (self->db_raw, sid, ZMQ_SNDMORE);
    for (int index = 0; index < arg_count; index++)
        frames_send_text (self->db_raw, args [index], ZMQ_SNDMORE);
    //  Past it the client hears 503, and the worker must not do it after all
    char deadline [24];
    snprintf (deadline, sizeof (deadline), "%" PRId64, op->timer.deadline);
    frames_send_text (self->db_raw, deadline, 0);
    if (heap_push (self->op_timers, &op->timer)) {
        //  No deadline, no request: a late answer is counted and dropped
        s_op_destroy (&op);
        return NULL;
    }
    zhashx_insert (self->ops, &op->tag, op);
    return op;
}

int
ops_persist (host_t *self, session_t *session, zmq_msg_t *peer, json_t *id, int64_t received)
{
    char version [8], created [24];
    snprintf (version, sizeof (version), "%d", session->version);
    snprintf (created, sizeof (created), "%" PRId64, session->created_ms);
    char *client = json_dumps (session->client_info, JSON_COMPACT);
    char *capabilities = json_dumps (session->capabilities, JSON_COMPACT);
    op_t *op = NULL;
    if (client && capabilities) {
        const char *args [] = { version, created, client, capabilities,
                                session->principal? session->principal: "" };
        op = s_op_start (self, OP_CREATE, "CREATE", session->id, args, 5);
    }
    free (client);
    free (capabilities);
    if (!op)
        return -1;
    zmq_msg_copy (&op->peer, peer);
    op->id = json_incref (id);
    op->received = received;
    session->state = SESSION_PERSISTING;
    return 0;
}

int
ops_delete (host_t *self, session_t *session, zmq_msg_t *peer, const char *kill_tag)
{
    char epoch [16];
    snprintf (epoch, sizeof (epoch), "%" PRIu32, session_epoch (session));
    const char *args [] = { epoch };
    op_t *op = s_op_start (self, OP_DELETE, "DELETE", session->id, args, 1);
    if (!op)
        return -1;
    if (peer)
        zmq_msg_copy (&op->peer, peer);
    if (kill_tag)
        op->kill_tag = strdup (kill_tag);
    calls_end_session (self, session, 404, "session closed");
    session->state = SESSION_CLOSING;
    return 0;
}

void
ops_load (host_t *self, zmq_msg_t *frames, const char *sid)
{
    op_t *op = (op_t *) zhashx_lookup (self->loading, sid);
    if (!op && zhashx_size (self->loading) < LOADS_MAX) {
        char not_before [24];
        snprintf (not_before, sizeof (not_before), "%" PRId64,
                  store_now_ms () - (int64_t) self->config->session_ttl * 1000);
        const char *args [] = { not_before };
        op = s_op_start (self, OP_LOAD, "LOAD", sid, args, 1);
        if (op) {
            op->queued = zlistx_new ();
            op->fence_count = self->fence_count;
            zhashx_insert (self->loading, op->sid, op);
        }
    }
    queued_t *queued = op && zlistx_size (op->queued) < LOAD_QUEUE?
                       (queued_t *) calloc (1, sizeof (queued_t)): NULL;
    if (!queued) {
        host_refuse_body (self, &frames [1], sid, 503, "session is loading, too many waiting",
                          &frames [3], RETRY_QUEUE_MS);
        return;
    }
    for (int index = 0; index < HOST_CLIENT_FRAMES; index++) {
        zmq_msg_init (&queued->frames [index]);
        zmq_msg_move (&queued->frames [index], &frames [index]);
    }
    zlistx_add_end (op->queued, queued);
}

//  A LOAD's OK answer (version, created, client, capabilities, epoch,
//  principal) as a session this host now holds. Returns false when it
//  cannot be kept.
static bool
s_resume (host_t *self, op_t *op, zmq_msg_t *frames)
{
    char version [8], epoch [16], created [24];
    frames_text (&frames [2], version, sizeof (version));
    frames_text (&frames [3], created, sizeof (created));
    frames_text (&frames [6], epoch, sizeof (epoch));
    json_t *client = json_loadb (zmq_msg_data (&frames [4]), zmq_msg_size (&frames [4]), 0, NULL);
    json_t *capabilities = json_loadb (zmq_msg_data (&frames [5]), zmq_msg_size (&frames [5]), 0, NULL);
    int index = atoi (version);
    session_t *session = session_new (op->sid, index >= 0 && index < MCP_VERSION_COUNT? index: 0,
                                      client? client: json_object (),
                                      capabilities? capabilities: json_object (),
                                      (uint32_t) strtoul (epoch, NULL, 10), zclock_mono ());
    if (session)
        session->created_ms = strtoll (created, NULL, 10);
    char *principal = frames_strdup (&frames [7]);
    if (session && (!principal || session_set_principal (session, principal)))
        session_destroy (&session);
    free (principal);
    if (!session || zhashx_insert (self->sessions, session->id, session)) {
        session_destroy (&session);
        return false;
    }
    //  Its client is known again only when the front named one
    if (zmq_msg_size (&frames [7]))
        lifecycle_count (self, session, lifecycle_opener (self, NULL, &frames [7]));
    self->loads++;
    log_debug (self->name, "session %s resumed, epoch %s", op->sid, epoch);
    return true;
}

//  Hands a frame of a session another node owns to the supervisor, which
//  forwards it over the node link. An owner without a link cannot be
//  reached: the frame is refused.
static void
s_forward (host_t *self, zmq_msg_t *frames, const char *sid, const char *owner,
           const char *endpoint)
{
    char route [600];
    char command [16] = "";
    frames_text (&frames [0], command, sizeof (command));
    if (!*endpoint || self->fenced) {
        char reason [320];
        snprintf (reason, sizeof (reason), "session is served by node %.255s, %s", owner,
                  *endpoint? "and this node holds no lease": "which takes no forwarded frames");
        host_refuse_body (self, &frames [1], sid, 503, reason, &frames [3], RETRY_STORE_MS);
        return;
    }
    snprintf (route, sizeof (route), "%s\t%s\t%s", command, owner, endpoint);
    if (frames_send_text (self->raw, "FWD", ZMQ_SNDMORE) == -1)
        return;
    self->forwarded++;
    zmq_msg_send (&frames [1], self->raw, ZMQ_SNDMORE);
    frames_send_text (self->raw, sid, ZMQ_SNDMORE);
    frames_send_text (self->raw, route, ZMQ_SNDMORE);
    zmq_msg_send (&frames [3], self->raw, ZMQ_SNDMORE);
    zmq_msg_send (&frames [4], self->raw, 0);
}

//  The store answered a LOAD: the session continues here or on its owner,
//  or its frames are refused, in the order they came.
static void
s_loaded (host_t *self, op_t *op, zmq_msg_t *frames, int count)
{
    zhashx_delete (self->loading, op->sid);
    //  A node that lost its lease meanwhile serves nothing it claimed, even
    //  when it holds it again: another node may have claimed it in between
    bool ok = frames && count == 8 && frames_is (&frames [1], "OK") && !self->fenced
           && op->fence_count == self->fence_count;
    bool owned = frames && count == 4 && frames_is (&frames [1], "OWNED");
    bool missing = frames && frames_is (&frames [1], "MISSING");
    char owner [256] = "", endpoint [256] = "";
    if (owned) {
        frames_text (&frames [2], owner, sizeof (owner));
        frames_text (&frames [3], endpoint, sizeof (endpoint));
    }
    if (ok)
        ok = s_resume (self, op, frames);
    else
    if (missing)
        self->load_misses++;
    else
    if (!owned)
        self->store_errors++;
    for (queued_t *queued = (queued_t *) zlistx_first (op->queued); queued;
         queued = (queued_t *) zlistx_next (op->queued)) {
        if (ok)
            host_route (self, queued->frames, HOST_CLIENT_FRAMES);
        else
        if (owned)
            s_forward (self, queued->frames, op->sid, owner, endpoint);
        else
            host_refuse_body (self, &queued->frames [1], op->sid, missing? 404: 503,
                              missing? "unknown session": "store unavailable",
                              &queued->frames [3], missing? -1: RETRY_STORE_MS);
    }
}

static void
s_created (host_t *self, op_t *op, session_t *session, bool ok)
{
    if (ok && !self->fenced) {
        session->state = SESSION_INITIALIZING;
        lifecycle_opened (self, session, &op->peer, op->id, op->received);
        return;
    }
    self->store_errors++;
    lifecycle_uncount (self, session);
    zhashx_delete (self->sessions, op->sid);
    host_refuse (self, &op->peer, "", 503, "store unavailable", op->id, RETRY_STORE_MS);
    host_outcome (self, METHOD_INITIALIZE, OUTCOME_REFUSED, 0);
}

static void
s_deleted (host_t *self, op_t *op, session_t *session, bool ok)
{
    if (ok) {
        lifecycle_end (self, session);
        self->closed++;
        if (op->kill_tag)
            operator_killed (self, op->kill_tag, "ok");
        else
            host_send (self, "OK", &op->peer, op->sid, NULL, strdup ("{}"), 2);
        return;
    }
    //  The row may still be there: keep the session, the client retries;
    //  unless this node lost its lease meanwhile: then it is not ours
    self->store_errors++;
    session->state = SESSION_READY;
    if (self->fenced)
        lifecycle_end (self, session);
    if (op->kill_tag)
        operator_killed (self, op->kill_tag, "store unavailable, try again");
    else
        host_refuse (self, &op->peer, op->sid, 503, "store unavailable", NULL, RETRY_STORE_MS);
}

//  A store request's end: the DB worker's answer (frames), or its deadline
//  (frames NULL), which counts as the store being unavailable.
static void
s_op_finish (host_t *self, op_t *op, zmq_msg_t *frames, int count)
{
    bool ok = frames && frames_is (&frames [1], "OK");
    if (!ok && !self->abandoned
    &&  !(frames && (frames_is (&frames [1], "MISSING") || frames_is (&frames [1], "OWNED")))) {
        char reason [256] = "no answer in time";
        if (frames && count >= 3)
            frames_text (&frames [2], reason, sizeof (reason));
        log_limited (&self->store_trouble, LEVEL_WARN, self->name, "store request for session %s failed: %s",
                     op->sid, reason);
    }
    heap_remove (self->op_timers, &op->timer);
    session_t *session = (session_t *) zhashx_lookup (self->sessions, op->sid);
    if (op->kind == OP_LOAD)
        s_loaded (self, op, frames, count);
    else
    if (op->kind == OP_CREATE && session)
        s_created (self, op, session, ok);
    else
    if (op->kind == OP_DELETE && session)
        s_deleted (self, op, session, ok);
}

static void
s_expired (host_t *self, heap_node_t *node)
{
    op_t *op = (op_t *) ((char *) node - offsetof (op_t, timer));
    uint64_t tag = op->tag;
    s_op_finish (self, op, NULL, 0);
    zhashx_delete (self->ops, &tag);
}

void
ops_abandon (host_t *self)
{
    op_t *op;
    while ((op = (op_t *) zhashx_first (self->ops)))
        s_expired (self, &op->timer);
}

long
ops_expire (host_t *self)
{
    return host_expire (self, self->op_timers, s_expired);
}

void
ops_handle_db (host_t *self, zmq_msg_t *frames, int count)
{
    op_t *op = count >= 2? (op_t *) host_tracked (self->ops, &frames [0]): NULL;
    if (op) {
        uint64_t tag = op->tag;
        s_op_finish (self, op, frames, count);
        zhashx_delete (self->ops, &tag);
    }
    else
        self->late_store++;     //  its deadline passed and it was answered already
}
