/*  session_host — an actor that owns a table of MCP sessions.

    Owns: its sessions (session_t, touched by this thread only) and, through
    the files of actors/host/, everything they have in flight. It never
    blocks on anything but handing an answer to the supervisor, which never
    blocks itself and always drains: tool calls go to the tool pool and
    store requests to the DB workers, and both come back as messages.

    Where a message goes (one file per concern, all on this thread):

      from                    message                      handled in
      supervisor (pipe)       NEW peer, sid, body          host/lifecycle.c
                              MSG peer, sid, body          host/methods.c
                              MSGOK peer, sid, body        host/methods.c
                              LISTEN peer, sid, event id   host/lifecycle.c
                              RESUME peer, sid, event id   host/lifecycle.c
                              CLOSE peer, sid, ""          host/lifecycle.c
                              UPDATED "", "", uri          host/subscriptions.c
                              CATALOG "", "", change       host/lists.c
                              FENCE "", "", lease-until    host/lifecycle.c
                              ABANDON "", "", ""           here
                              STATS tag                    host/operator.c
                              $TERM                        here
      tool pool (DEALER)      PROGRESS, LOG, DONE, BUSY,   host/calls.c
                              ASK, DETACH, UPDATED         host/asks.c, calls.c
      DB workers (DEALER)     tag, OK|MISSING|ERR, …       host/ops.c
      cleanup (DEALER)        SWEEP, DROP                  host/sweep.c
      control (DEALER)        STATS, LIST, INFO, KILL      host/operator.c

    Sends, on its pipe: MSG|ANS|OK|ERR peer, session id, event id, body
    for the client (host/host.c), STATS tag, figures, and ABANDONED. What it sends to
    the other actors is listed in the file that sends it.

    MSGOK is a MSG whose sender waits for an answer even when it holds no
    request: OK once its notifications and responses are taken (an HTTP
    POST of notifications is answered 202 then). RESUME is a LISTEN that
    replays one stream only: the events after the given one that went to
    the same peer (MCP Streamable HTTP's Last-Event-ID). ANS is a MSG that
    answers a request, the last message of it. None of these says which
    front a frame came from; the supervisor and the edges decide that.

    A frame naming a session this host does not hold is, with a persistent
    store, held while the session is loaded from the store (host/ops.c),
    then routed here again; without one it gets ERR 404. Deadlines of tool
    calls and of store requests bound every poll.
*/
#include "actors/session_host.h"
#include "actors/cleanup.h"
#include "actors/host/asks.h"
#include "actors/host/calls.h"
#include "actors/host/host.h"
#include "actors/host/lifecycle.h"
#include "actors/host/lists.h"
#include "actors/host/operator.h"
#include "actors/host/ops.h"
#include "actors/host/replay.h"
#include "actors/host/subscriptions.h"
#include "actors/host/sweep.h"
#include "actors/host/upstreams.h"
#include "proto/mcp.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/log.h"
#include "runtime/table.h"

#include <sodium.h>

//  A shutdown's drain timed out: whatever waits here is answered 503, then
//  the supervisor hears it is (on the same pipe, after those answers).
static void
s_abandon (host_t *self)
{
    self->abandoned = true;
    calls_abandon (self);
    ops_abandon (self);
    frames_send_text (self->raw, "ABANDONED", 0);
}

//  News from the supervisor for every session (count 4, no peer):
//  handled here, true; else false.
static bool
s_news (host_t *self, zmq_msg_t *frames)
{
    if (frames_is (&frames [0], "UPDATED"))
        subscriptions_updated (self, &frames [3]);
    else
    if (frames_is (&frames [0], "CATALOG"))
        lists_change (self, &frames [3]);
    else
    if (frames_is (&frames [0], "UPSTREAM"))
        upstreams_change (self, &frames [3]);
    else
    if (frames_is (&frames [0], "RESOURCE"))
        upstreams_updated (self, &frames [3]);
    else
    if (frames_is (&frames [0], "FENCE")) {
        char until [24];
        if (frames_text (&frames [3], until, sizeof (until)))
            lifecycle_lease (self, strtoll (until, NULL, 10));
    }
    else
    if (frames_is (&frames [0], "ABANDON"))
        s_abandon (self);
    else
        return false;
    return true;
}

void
host_route (host_t *self, zmq_msg_t *frames, int count)
{
    if (count == 4 && s_news (self, frames))
        return;
    if (count == 2 && frames_is (&frames [0], "STATS")) {
        operator_stats (self, self->raw, &frames [1]);
        return;
    }
    if (count >= 1 && frames_is (&frames [0], "$TERM")) {
        self->terminated = true;
        return;
    }
    if (count != HOST_CLIENT_FRAMES) {
        log_error (self->name, "malformed message from the supervisor (%d frames)", count);
        return;
    }
    //  The lease ran out before word of its renewal came: nothing more is
    //  served, this frame neither
    if (self->db && !self->fenced && zclock_mono () >= self->lease_until)
        lifecycle_fence (self, true);
    zmq_msg_t *peer = &frames [1];
    char sid [MCPZ_SID_SIZE + 1] = "";
    frames_text (&frames [2], sid, sizeof (sid));
    session_t *session = *sid? (session_t *) zhashx_lookup (self->sessions, sid): NULL;
    //  Another principal's session is, to this one, no session at all
    if (session && !session_allows (session, zmq_msg_data (&frames [4]), zmq_msg_size (&frames [4])))
        session = NULL;
    else
    if (session) {
        session->last_activity_ms = zclock_mono ();
        session_heard (session, peer);
    }

    if (self->fenced)
        host_refuse_body (self, peer, frames_is (&frames [0], "NEW")? "": sid, 503,
                          "this node holds no lease: try another node",
                          &frames [3], RETRY_STORE_MS);
    else
    if (frames_is (&frames [0], "NEW"))
        lifecycle_open (self, peer, sid, &frames [3], &frames [4]);
    else
    if (!session && self->db && !zhashx_lookup (self->sessions, sid))
        ops_load (self, frames, sid);
    else
    if (!session || !session_live (session))
        host_refuse_body (self, peer, sid, 404, "unknown session", &frames [3], -1);
    else
    if (frames_is (&frames [0], "MSG"))
        methods_handle_msg (self, peer, session, &frames [3]);
    else
    if (frames_is (&frames [0], "MSGOK")) {
        //  The sender waits to hear that notifications were taken
        if (methods_handle_msg (self, peer, session, &frames [3]) == 0)
            host_send (self, "OK", peer, sid, NULL, strdup ("{}"), 2);
    }
    else
    if (frames_is (&frames [0], "CLOSE"))
        lifecycle_close (self, peer, session);
    else
    if (frames_is (&frames [0], "LISTEN"))
        lifecycle_listen (self, peer, session, &frames [3]);
    else
    if (frames_is (&frames [0], "RESUME"))
        lifecycle_resume (self, peer, session, &frames [3]);
    else
        log_error (self->name, "malformed message from the supervisor (%d frames)", count);
}

//  Store requests a host may have queued towards the DB workers
#define DB_HWM 10000

//  A DEALER connected to each of count endpoints, or NULL. High-water
//  marks are set first (they apply only to later connects); 0 keeps
//  CZMQ's default.
static zsock_t *
s_dealer (const char *identity, int sndhwm, int rcvhwm, const char **endpoints, int count)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer)
        return NULL;
    if (identity)
        zsock_set_identity (dealer, identity);
    if (sndhwm)
        zsock_set_sndhwm (dealer, sndhwm);
    if (rcvhwm)
        zsock_set_rcvhwm (dealer, rcvhwm);
    for (int index = 0; index < count; index++)
        if (zsock_connect (dealer, "%s", endpoints [index]) == -1)
            zsock_destroy (&dealer);
    return dealer;
}

static int
s_connect (host_t *self, session_host_args_t *args)
{
    char identity [16];
    cleanup_host_identity (args->index, identity, sizeof (identity));
    self->tools = s_dealer (NULL, self->config->tool_queue, 100000, &args->tools_endpoint, 1);
    self->cleanup = s_dealer (identity, 0, 0, &args->cleanup_endpoint, 1);
    self->control = s_dealer (identity, 0, 0, &args->control_endpoint, 1);
    if (!self->tools || !self->cleanup || !self->control || upstreams_setup (self, args->upstreams))
        return -1;
    self->tools_raw = zsock_resolve (self->tools);
    self->cleanup_raw = zsock_resolve (self->cleanup);
    self->control_raw = zsock_resolve (self->control);
    if (args->db_count == 0)
        return 0;
    const char *db [args->db_count];
    for (int index = 0; index < args->db_count; index++)
        db [index] = args->db_endpoints [index];
    self->db = s_dealer (NULL, DB_HWM, DB_HWM, db, args->db_count);
    self->db_raw = self->db? zsock_resolve (self->db): NULL;
    return self->db? 0: -1;
}

static int
s_start (host_t *self, session_host_args_t *args)
{
    self->config = args->config;
    self->table = args->table;
    //  What upstreams offer comes and goes while mcpz runs
    self->capabilities = catalog_capabilities (self->table)
                       | (self->config->upstream_count? MCP_CAP_RESOURCES | MCP_CAP_PROMPTS | MCP_CAP_COMPLETIONS: 0);
    snprintf (self->name, sizeof (self->name), "host %d", args->index);
    self->max_sessions = ((size_t) args->config->max_sessions + (size_t) args->count - 1)
                       / (size_t) args->count;
    self->max_client_sessions = ((size_t) args->config->max_client_sessions + (size_t) args->count - 1)
                              / (size_t) args->count;
    randombytes_buf (self->opener_key, sizeof (self->opener_key));
    self->host_count = (size_t) args->count;
    //  Sessions are keyed by their own id buffer: no key copies
    self->sessions = table_new ((zhashx_destructor_fn *) session_destroy, false);
    self->openers = table_new (table_free, true);
    if (!self->sessions || !self->openers || replay_setup (self) || calls_setup (self) || asks_setup (self) || ops_setup (self))
        return -1;
    return s_connect (self, args);
}

//  Most frames any message to a host has (a DB worker's LOAD answer)
#define MAX_FRAMES 8

typedef void (handler_fn) (host_t *self, zmq_msg_t *frames, int count);

//  Reads every waiting message of one socket, up to a batch, and hands
//  each to its handler: a busy socket costs one poll per batch rather than
//  one per message. Frames past MAX_FRAMES are read and dropped; count
//  says how many came, so a handler refuses a message of the wrong shape.
static void
s_drain (host_t *self, void *socket, handler_fn *handler)
{
    //  Reading until EAGAIN costs nothing; asking ZMQ_EVENTS first costs a
    //  getpid(2) inside libzmq per message (its fork check)
    for (int batch = 0; batch < 256 && !self->terminated; batch++) {
        zmq_msg_t frames [MAX_FRAMES];
        int count;
        if (frames_recv (socket, frames, MAX_FRAMES, &count, ZMQ_DONTWAIT))
            break;
        handler (self, frames, count);
        frames_close (frames, count < MAX_FRAMES? count: MAX_FRAMES);
    }
}

static void
s_stop (host_t *self)
{
    host_tracking_destroy (&self->ops, &self->loading, &self->op_timers);
    asks_destroy (self);
    lists_destroy (self);
    upstreams_destroy (self);
    host_tracking_destroy (&self->calls, &self->by_request, &self->timers);
    zhashx_destroy (&self->sessions);
    zhashx_destroy (&self->openers);
    replay_destroy (self);
    zsock_destroy (&self->db);
    zsock_destroy (&self->cleanup);
    zsock_destroy (&self->control);
    zsock_destroy (&self->tools);
}

//  ms until the nearest deadline of a call or a store request, or -1
static long
s_expire (host_t *self)
{
    long timeout = calls_expire (self);
    long ops = ops_expire (self);
    return ops >= 0 && (timeout < 0 || ops < timeout)? ops: timeout;
}

void
session_host_actor (zsock_t *pipe, void *args)
{
    host_t self = { .pipe = pipe, .raw = zsock_resolve (pipe) };
    if (s_start (&self, (session_host_args_t *) args)) {
        s_stop (&self);
        actor_ready (pipe, "session host cannot start");
        return;
    }
    actor_ready (pipe, NULL);
    zmq_pollitem_t items [5 + CONFIG_MAX_UPSTREAMS] = {
        { self.raw, 0, ZMQ_POLLIN, 0 },
        { self.tools_raw, 0, ZMQ_POLLIN, 0 },
        { self.cleanup_raw, 0, ZMQ_POLLIN, 0 },
        { self.control_raw, 0, ZMQ_POLLIN, 0 },
        { self.db_raw, 0, ZMQ_POLLIN, 0 }
    };
    //  Upstreams answer as the tool pool does, after the DB item (if any)
    int upstreams = self.db? 5: 4;
    for (int index = 0; index < self.upstream_count; index++)
        items [upstreams + index] = (zmq_pollitem_t) { self.upstream_raw [index], 0, ZMQ_POLLIN, 0 };
    int item_count = upstreams + self.upstream_count;
    bool worked = false;
    while (!self.terminated) {
        //  After a pass with work, the next message is often microseconds
        //  away (a client's next request, a worker's answer): polling
        //  without sleeping for a moment saves the wake-up, the largest
        //  cost of a request at low load on these machines
        int ready = 0;
        int64_t until = worked? zclock_usecs () + self.config->host_spin_us: 0;
        while (ready == 0 && zclock_usecs () < until)
            ready = zmq_poll (items, item_count, 0);
        if (ready == 0)
            ready = zmq_poll (items, item_count, s_expire (&self));
        worked = ready > 0;
        if (ready == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        //  Answers first: they free room in the queues behind them
        if (items [1].revents & ZMQ_POLLIN)
            s_drain (&self, self.tools_raw, calls_handle_pool);
        for (int index = 0; index < self.upstream_count; index++)
            if (items [upstreams + index].revents & ZMQ_POLLIN)
                s_drain (&self, self.upstream_raw [index], calls_handle_pool);
        if (self.db && (items [4].revents & ZMQ_POLLIN))
            s_drain (&self, self.db_raw, ops_handle_db);
        if (items [2].revents & ZMQ_POLLIN)
            s_drain (&self, self.cleanup_raw, sweep_handle);
        if (items [3].revents & ZMQ_POLLIN)
            s_drain (&self, self.control_raw, operator_handle);
        if (items [0].revents & ZMQ_POLLIN)
            s_drain (&self, self.raw, host_route);
    }
    s_stop (&self);
}
