/*  supervisor — the edge of mcpz.

    Owns: the client ROUTER (every --listen endpoint), the session-id
    generator, and every other actor (session hosts, tool pool, DB workers,
    cleanup, control). It holds no session state: a frame goes to the host
    that its session id hashes to, so any supervisor would route it the same
    way. It never blocks: it sends to hosts with ZMQ_DONTWAIT, and a full
    host queue is an immediate ERR 503 for that request. Operator work runs
    in the control actor, off this hot path.

    Takes, from clients (ROUTER, spec/mcpz-1.md):
      [peer] MCPZ/1, MSG|LISTEN|CLOSE, session id, body
    Sends to clients:
      [peer] MCPZ/1, MSG|OK|ERR, session id, event id, body
    Takes, from session hosts: MSG|OK|ERR for clients; UPDATED "", "", "", uri
    (sent on to every host); STATS tag, JSON
    Takes from session hosts also ABANDONED (after the answers to ABANDON).
    Sends to session hosts: NEW|MSG|LISTEN|CLOSE peer, sid, body, principal
    (whom the front authenticated: the User-Id of the client's ZAP
    handshake, the HTTP edge's bearer token, "" for none); UPDATED "", "",
    uri; STATS tag
    Takes, from the control actor's pipe: FIGURES tag (answers FIGURES tag,
    JSON), CATALOG tag, change (an operator's disable or enable: answers
    CATALOG tag, JSON, and sends CATALOG "", "", the whole disabled set to
    every host, never waiting on one), DRAIN, SHUTDOWN.
    Takes, on its own pipe: SHUTDOWN (drain, then stop), RELOAD (credentials
    are read again: SIGHUP), $TERM.
    Sends on its pipe: SHUTDOWN once a shutdown has drained.

    Drain: new sessions get ERR 503; existing ones are served. Shutdown
    drains, then waits (polling the hosts every 100 ms, at most
    --drain-timeout) until no call is in flight and no store request is
    pending, so every answered session is in the store, then says SHUTDOWN.
*/
#include "actors/supervisor.h"
#include "actors/cleanup.h"
#include "actors/control.h"
#include "actors/db_worker.h"
#include "actors/http/edge.h"
#include "actors/lease.h"
#include "actors/link.h"
#include "actors/peers.h"
#include "actors/session_host.h"
#include "actors/tool_pool.h"
#include "actors/upstream/upstream.h"
#include "actors/zap.h"
#include "proto/jsonw.h"
#include "proto/mcpz.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/ids.h"
#include "runtime/log.h"
#include "store/store.h"

#include <dirent.h>
#include <inttypes.h>
#include <sys/resource.h>

#define RETRY_QUEUE_MS    100       //  retry_after_ms on a full host queue
#define RETRY_DRAIN_MS    1000      //  retry_after_ms while draining
#define BATCH             256       //  messages handled per socket per pass
#define DRAIN_POLL_MS     100       //  how often a shutdown checks the hosts
#define CATALOG_RETRY_MS  10        //  how soon a busy host is offered the disabled set again
#define FENCE_ITEM        31        //  s_offer's bit for the lease's state
#define ABANDON_ITEM      30        //  s_offer's bit for "answer what you hold, 503"
#define ABANDON_MS        2000      //  how long hosts and the edge get to answer it

//  ERR statuses the edge counts apart
static const int s_statuses [] = { 400, 404, 413, 503 };
#define STATUSES 4

typedef struct {
    zsock_t *pipe;              //  to mcpzd's main thread
    const config_t *config;
    catalog_t *table;
    zhashx_t *hidden [LISTS];   //  rows an operator disabled, by list
    char upstream_endpoint [64];    //  upstream N binds this and "-N"
    uint32_t *stale;            //  per host: what it has not got as it is now (s_offer)
    int offers_pending;         //  offers still to make
    zactor_t *upstreams [CONFIG_MAX_UPSTREAMS];
    char *upstream_lists [CONFIG_MAX_UPSTREAMS];    //  each one's lists, as it sent them last
    int upstream_count;
    zsock_t *router;            //  clients
    void *router_raw;
    peers_t *peers;             //  its connections, counted and bounded
    size_t http_connections;    //  the HTTP edge's share of the descriptors
    zactor_t *pool;             //  the tool pool
    zactor_t **db_workers;      //  one store connection each
    char (*db_endpoints) [64];
    int db_count;
    zactor_t *cleanup;          //  the cleanup actor
    zactor_t *control;          //  the control actor
    zactor_t *zap;              //  judges CURVE clients and nodes, NULL when none
    zactor_t **hosts;           //  session hosts
    void **host_raw;            //  their pipes' libzmq socket
    int host_count;
    ids_t *ids;                 //  session-id generator
    http_edge_t *http;          //  the HTTP front, or NULL without --http
    link_t *link;               //  the node link, or NULL without a store
    zactor_t *lease;            //  the lease actor, or NULL without a store
    char incarnation [MCPZ_SID_SIZE + 1];   //  this process, random
    int64_t lease_until;        //  monotonic ms: hosts serve nothing past it; 0: lost
    const char *lease_state;    //  held, lost or taken; NULL without a store
    int64_t started_wall;       //  ms since the epoch
    int64_t leased_at;          //  monotonic ms the first lease was asked for
    int64_t started;            //  monotonic ms at start
    uint64_t refused, overloads, undeliverable;     //  figures of the edge
    uint64_t refusals [STATUSES];
    bool draining;              //  new sessions get 503
    bool stopping;              //  a shutdown is draining
    bool closed;                //  drained: every new frame is refused (503)
    int64_t stop_deadline;      //  monotonic ms: stop whatever is in flight
    int64_t abandon_deadline;   //  monotonic ms, once hosts were told to abandon
    int abandoning;             //  hosts yet to say they answered what they held
    int64_t next_check;         //  monotonic ms: next look at the hosts
    int busy_hosts;             //  hosts that reported work in flight
    int waiting_hosts;          //  hosts yet to report this round
    bool terminated;
} supervisor_t;

static const char *const s_name = "supervisor";

static void
    s_mark_stale (supervisor_t *self, int item);

static void
s_free (void *data, void *hint)
{
    free (data);
}

//  --------------------------------------------------------------------------
//  Clients

//  Sends one message to a client of either front: MSG|ANS|OK|ERR, peer,
//  sid, event id, body (frames are consumed or closed by the caller). A
//  peer that is gone or not reading loses the message here (it waits in
//  the session's replay ring); the supervisor never stalls on it.
static void
s_to_client (supervisor_t *self, zmq_msg_t *frames)
{
    if (self->http && http_edge_owns (&frames [1])) {
        http_edge_deliver (self->http, frames);
        return;
    }
    if (self->link && link_owns (&frames [1])) {
        link_answer (self->link, frames);
        return;
    }
    //  MCPZ/1 has no word for an END, nor for a priming event (an event id
    //  with no message: an HTTP stream's place to resume from)
    if (frames_is (&frames [0], "END") || (zmq_msg_size (&frames [4]) == 0 && frames_is (&frames [0], "MSG")))
        return;
    peers_sent (self->peers, &frames [1], zmq_msg_size (&frames [4]) + zmq_msg_size (&frames [3]) + 16);
    if (zmq_msg_send (&frames [1], self->router_raw, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        self->undeliverable++;
        return;
    }
    frames_send_text (self->router_raw, MCPZ_SIGNATURE, ZMQ_SNDMORE);
    //  An answer is a MSG on the wire (the same three bytes, rewritten in
    //  place rather than sent as a new frame)
    if (frames_is (&frames [0], "ANS"))
        memcpy (zmq_msg_data (&frames [0]), "MSG", 3);
    zmq_msg_send (&frames [0], self->router_raw, ZMQ_SNDMORE);
    zmq_msg_send (&frames [2], self->router_raw, ZMQ_SNDMORE);
    zmq_msg_send (&frames [3], self->router_raw, ZMQ_SNDMORE);
    zmq_msg_send (&frames [4], self->router_raw, 0);
}

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
    for (int index = 0; index < STATUSES; index++)
        if (s_statuses [index] == status)
            self->refusals [index]++;
    zmq_msg_t frames [5];
    zmq_msg_init_size (&frames [0], 3);
    memcpy (zmq_msg_data (&frames [0]), "ERR", 3);
    zmq_msg_init (&frames [1]);
    zmq_msg_copy (&frames [1], peer);
    zmq_msg_init_size (&frames [2], strlen (sid));
    memcpy (zmq_msg_data (&frames [2]), sid, strlen (sid));
    zmq_msg_init (&frames [3]);
    zmq_msg_init_data (&frames [4], body, size, s_free, NULL);
    s_to_client (self, frames);
    frames_close (frames, 5);
}

//  As s_refuse, naming the request that a body holds.
static void
s_refuse_body (supervisor_t *self, zmq_msg_t *peer, const char *sid, int status,
               const char *message, zmq_msg_t *body, int retry_after_ms)
{
    json_t *id = mcpz_body_id (zmq_msg_data (body), zmq_msg_size (body));
    s_refuse (self, peer, sid, status, message, id, retry_after_ms);
    json_decref (id);
}

static void
s_set_text (zmq_msg_t *frame, const char *text)
{
    zmq_msg_close (frame);
    zmq_msg_init_size (frame, strlen (text));
    memcpy (zmq_msg_data (frame), text, strlen (text));
}

//  Hands a client's frames to the host its session id hashes to, without
//  waiting: command, peer, sid, body, principal, moved when sent (the
//  caller closes them). An empty sid is a new session: it gets its id here, and NEW.
//  Refuses with 503 when draining, closed or the host's queue is full:
//  every frame routed gets its one answer.
static void
s_route (supervisor_t *self, zmq_msg_t *command, zmq_msg_t *peer, zmq_msg_t *sid_frame,
         zmq_msg_t *body, zmq_msg_t *principal)
{
    char sid [MCPZ_SID_SIZE + 1] = "";
    if (zmq_msg_size (sid_frame) == MCPZ_SID_SIZE)
        memcpy (sid, zmq_msg_data (sid_frame), MCPZ_SID_SIZE);
    if (self->closed) {
        s_refuse_body (self, peer, sid, 503, "server is shutting down", body,
                       RETRY_DRAIN_MS);
        return;
    }
    if (!*sid) {
        char new_sid [MCPZ_SID_SIZE + 1];
        if (self->lease && self->lease_until == 0) {
            s_refuse_body (self, peer, "", 503, "this node holds no lease: open the session elsewhere",
                           body, RETRY_DRAIN_MS);
            return;
        }
        if (self->draining) {
            s_refuse_body (self, peer, "", 503, "server is draining: open the session elsewhere",
                           body, RETRY_DRAIN_MS);
            return;
        }
        if (ids_next (self->ids, new_sid)) {
            log_error (s_name, "the kernel gave no randomness for a session id");
            s_refuse (self, peer, "", 503, "cannot create a session now", NULL, RETRY_QUEUE_MS);
            return;
        }
        s_set_text (command, "NEW");
        s_set_text (sid_frame, new_sid);
    }
    else
    if (self->link && link_forward_known (self->link, command, peer, sid_frame, body, principal))
        return;
    void *socket = self->host_raw [mcpz_sid_host (zmq_msg_data (sid_frame), (uint32_t) self->host_count)];
    if (zmq_msg_send (command, socket, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        //  Not a session until the host says so: a refused NEW names none
        s_refuse_body (self, peer, sid, 503, "server overloaded", body, RETRY_QUEUE_MS);
        return;
    }
    //  Later parts of a multipart message never hit the HWM
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, peer);
    zmq_msg_send (&copy, socket, ZMQ_SNDMORE);
    zmq_msg_send (sid_frame, socket, ZMQ_SNDMORE);
    zmq_msg_send (body, socket, ZMQ_SNDMORE);
    zmq_msg_send (principal, socket, 0);
}

//  The HTTP edge's frames, and those other nodes forward, take the same
//  road as the ZeroMQ front's.
static void
s_route_frames (void *owner, zmq_msg_t *frames)
{
    s_route ((supervisor_t *) owner, &frames [0], &frames [1], &frames [2], &frames [3], &frames [4]);
}

static void
s_deliver (void *owner, zmq_msg_t *frames)
{
    s_to_client ((supervisor_t *) owner, frames);
}

static void
s_request_ended (void *owner, zmq_msg_t *peer)
{
    supervisor_t *self = (supervisor_t *) owner;
    if (self->link)
        link_request_ended (self->link, peer);
}

static void
s_refuse_for_link (void *owner, zmq_msg_t *peer, const char *sid, int status, const char *reason,
                   zmq_msg_t *body)
{
    s_refuse_body ((supervisor_t *) owner, peer, sid, status, reason, body, RETRY_QUEUE_MS);
}

static bool
s_handle_client (supervisor_t *self)
{
    zmq_msg_t frames [5];       //  peer, signature, command, sid, body
    int count;
    if (frames_recv (self->router_raw, frames, 5, &count, ZMQ_DONTWAIT))
        return false;
    int kept = count < 5? count: 5;
    peers_received (self->peers, frames, kept);
    if (http_edge_owns (&frames [0])) {
        //  libzmq gives no peer such an id; one that claimed it could be
        //  answered in an HTTP client's place
        frames_close (frames, kept);
        return true;
    }
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
    }
    else {
        //  Set by our ZAP handler when the front authenticates (zap.c)
        const char *user = zmq_msg_gets (&frames [4], "User-Id");
        zmq_msg_t principal;
        zmq_msg_init_size (&principal, user? strlen (user): 0);
        if (user)
            memcpy (zmq_msg_data (&principal), user, strlen (user));
        s_route (self, &frames [2], &frames [0], &frames [3], &frames [4], &principal);
        zmq_msg_close (&principal);
    }
    frames_close (frames, kept);
    return true;
}

//  --------------------------------------------------------------------------
//  Drain and shutdown

static void
s_figures (supervisor_t *self, const char *tag)
{
    json_t *refusals = json_object ();
    for (int index = 0; index < STATUSES; index++) {
        char status [8];
        snprintf (status, sizeof (status), "%d", s_statuses [index]);
        json_object_set_new (refusals, status, json_integer ((json_int_t) self->refusals [index]));
    }
    json_t *figures = json_pack ("{s:I,s:I,s:I,s:I,s:b,s:b,s:o}",
        "uptime_s", (json_int_t) ((zclock_mono () - self->started) / 1000),
        "refused", (json_int_t) self->refused, "overloads", (json_int_t) self->overloads,
        "undeliverable", (json_int_t) self->undeliverable,
        "draining", self->draining, "stopping", self->stopping,
        "refusals", refusals);
    if (self->http)
        json_object_set_new (figures, "http", http_edge_figures (self->http));
    json_object_set_new (figures, "connections", peers_figures (self->peers));
    if (self->link) {
        json_t *link = link_figures (self->link);
        json_object_set_new (link, "lease", json_string (self->lease_state));
        json_object_set_new (link, "node", json_string (self->config->node_id));
        json_object_set_new (link, "advertise", json_string (self->config->node_advertise));
        json_object_set_new (figures, "cluster", link);
    }
    char *text = json_dumps (figures, JSON_COMPACT);
    json_decref (figures);
    //  Never wait on the control actor: a reply it cannot take now makes its
    //  answer partial, never a stall of the edge
    frames_send_strings (zsock_resolve (self->control), "FIGURES", tag, text? text: "{}", NULL);
    free (text);
}

static void
s_drain_start (supervisor_t *self)
{
    if (!self->draining)
        log_info (s_name, "draining: new sessions are refused, open ones are served");
    self->draining = true;
}

static void
s_shutdown_start (supervisor_t *self)
{
    s_drain_start (self);
    if (self->stopping)
        return;
    self->stopping = true;
    self->stop_deadline = zclock_mono () + self->config->drain_timeout;
    self->next_check = zclock_mono ();
    log_info (s_name, "shutting down: waiting up to %d ms for work in flight",
              self->config->drain_timeout);
}

static void
s_shutdown_done (supervisor_t *self, const char *why)
{
    log_info (s_name, "shutdown: %s", why);
    //  What other nodes still owe answers for gets its answer from here
    if (self->link)
        link_abandon_all (self->link);
    self->stopping = false;
    //  Anything routed now could not finish before the hosts stop: refuse
    //  it at the edge, so it still gets its one answer
    self->closed = true;
    zstr_send (self->pipe, "SHUTDOWN");
}

//  The drain timed out: every request still in flight gets its one answer
//  (503) before the process goes. New frames are refused at the edge; each
//  host answers what it holds and says ABANDONED after those answers, on
//  the same pipe; then the HTTP edge writes them out.
static void
s_abandon (supervisor_t *self)
{
    log_info (s_name, "drain timeout: answering the work in flight with 503");
    self->closed = true;
    self->abandoning = self->host_count;
    self->abandon_deadline = zclock_mono () + ABANDON_MS;
    s_mark_stale (self, ABANDON_ITEM);
}

//  Every DRAIN_POLL_MS while stopping, asks the hosts what is in flight.
static void
s_shutdown_check (supervisor_t *self)
{
    int64_t now = zclock_mono ();
    if (self->abandon_deadline) {
        if ((self->abandoning > 0 || (self->http && http_edge_pending (self->http) > 0))
        &&  now < self->abandon_deadline)
            return;
        s_shutdown_done (self, self->abandoning > 0? "drain timeout; some hosts did not answer in time":
                                                     "drain timeout; work in flight was answered 503");
        return;
    }
    if (now >= self->stop_deadline) {
        s_abandon (self);
        return;
    }
    if (self->waiting_hosts > 0 || now < self->next_check)
        return;
    self->next_check = now + DRAIN_POLL_MS;
    self->busy_hosts = 0;
    for (int index = 0; index < self->host_count; index++)
        if (zmq_send (self->host_raw [index], "STATS", 5, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 5) {
            frames_send_text (self->host_raw [index], "drain", 0);
            self->waiting_hosts++;
        }
        else
            self->busy_hosts++;         //  too busy to even ask
}

static void
s_host_figures (supervisor_t *self, zmq_msg_t *body)
{
    if (self->waiting_hosts == 0)
        return;
    json_t *figures = json_loadb (zmq_msg_data (body), zmq_msg_size (body), 0, NULL);
    if (json_integer_value (json_object_get (figures, "inflight"))
      + json_integer_value (json_object_get (figures, "store_ops"))
      + json_integer_value (json_object_get (figures, "loading")) > 0)
        self->busy_hosts++;
    json_decref (figures);
    //  Frames forwarded to other nodes are work in flight too
    if (--self->waiting_hosts > 0 || self->busy_hosts > 0 || !self->stopping
    ||  (self->link && link_owed (self->link) > 0))
        return;
    //  All idle. Frames routed before this round may still be on their way
    //  to a host that already answered: close the edge, then ask once more.
    //  Host pipes are first in, first out, so an idle answer to a round
    //  asked after closing proves every routed frame was handled and its
    //  answer forwarded ahead of it.
    if (!self->closed) {
        self->closed = true;
        self->next_check = 0;
    }
    else
        s_shutdown_done (self, "nothing in flight");
}

//  --------------------------------------------------------------------------
//  Hosts and actors

//  News for every host (a resource changed: UPDATED uri from a host,
//  RESOURCE "NAME uri" from an upstream), as command, "", "", body. A host
//  too busy to take it now misses it: news is not worth stalling the
//  supervisor for.
static void
s_broadcast (supervisor_t *self, const char *command, const void *body, size_t size)
{
    for (int index = 0; index < self->host_count; index++) {
        void *socket = self->host_raw [index];
        if (zmq_send (socket, command, strlen (command), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
            self->undeliverable++;
            continue;
        }
        zmq_send (socket, "", 0, ZMQ_SNDMORE);
        zmq_send (socket, "", 0, ZMQ_SNDMORE);
        zmq_send (socket, body, size, 0);
    }
}

//  The whole disabled set, {"tool": [names], "resource": [...], ...}
static char *
s_catalog_text (supervisor_t *self)
{
    json_t *set = json_object ();
    for (int kind = 0; kind < LISTS; kind++) {
        json_t *names = json_array ();
        for (void *item = zhashx_first (self->hidden [kind]); item; item = zhashx_next (self->hidden [kind]))
            json_array_append_new (names, json_string ((const char *) zhashx_cursor (self->hidden [kind])));
        json_object_set_new (set, catalog_kind_name ((list_kind_t) kind), names);
    }
    char *body = json_dumps (set, JSON_COMPACT);
    json_decref (set);
    return body;
}

//  What every host must hold as it is now, to every host that has not got
//  it: the disabled set (CATALOG, bit 0), each upstream's lists
//  (UPSTREAM, bit 1 + its index), whole each time, until when the node
//  holds its lease (FENCE, FENCE_ITEM: monotonic ms, 0 when lost), and at
//  a shutdown's drain timeout ABANDON (ABANDON_ITEM). Never waits: a host
//  that is busy sending to the supervisor must never find it waiting on it
//  in turn; a host with a full queue gets it on a later pass.
static void
s_offer (supervisor_t *self)
{
    char *catalog = NULL;
    self->offers_pending = 0;
    for (int index = 0; index < self->host_count; index++)
        for (int item = 0; item <= FENCE_ITEM; item++) {
            uint32_t bit = 1u << item;
            if (!(self->stale [index] & bit))
                continue;
            if (item == 0 && !catalog)
                catalog = s_catalog_text (self);
            char until [24];
            snprintf (until, sizeof (until), "%" PRId64, self->lease_until);
            const char *body = item == FENCE_ITEM? until: item == ABANDON_ITEM? "":
                               item? self->upstream_lists [item - 1]: catalog;
            const char *command = item == FENCE_ITEM? "FENCE": item == ABANDON_ITEM? "ABANDON":
                                  item? "UPSTREAM": "CATALOG";
            void *socket = self->host_raw [index];
            if (body && zmq_send (socket, command, strlen (command), ZMQ_SNDMORE | ZMQ_DONTWAIT) != -1) {
                //  Later parts of a multipart message never hit the HWM
                zmq_send (socket, "", 0, ZMQ_SNDMORE);
                zmq_send (socket, "", 0, ZMQ_SNDMORE);
                zmq_send (socket, body, strlen (body), 0);
                self->stale [index] &= ~bit;
            }
            else
                self->offers_pending++;
        }
    free (catalog);
}

static void
s_mark_stale (supervisor_t *self, int item)
{
    for (int index = 0; index < self->host_count; index++)
        self->stale [index] |= 1u << item;
    s_offer (self);
}

//  True when an upstream lists the row as sessions see it: NAME_x for a
//  tool or prompt, its URI or template (as it is, or NAME+URI) otherwise
static bool
s_upstream_has (supervisor_t *self, list_kind_t kind, const char *name)
{
    static const char *const keys [LISTS] = { "tools", "resources", "resourceTemplates", "prompts" };
    const char *field = kind == LIST_RESOURCES? "uri": kind == LIST_TEMPLATES? "uriTemplate": "name";
    bool found = false;
    for (int index = 0; index < self->upstream_count && !found; index++) {
        const char *upstream = self->config->upstreams [index].name;
        size_t length = strlen (upstream);
        char separator = kind == LIST_TOOLS || kind == LIST_PROMPTS? '_': '+';
        bool prefixed = strncmp (name, upstream, length) == 0 && name [length] == separator;
        json_t *lists = self->upstream_lists [index]? json_loads (self->upstream_lists [index], 0, NULL): NULL;
        size_t at;
        json_t *item;
        json_array_foreach (json_object_get (lists, keys [kind]), at, item) {
            const char *own = json_string_value (json_object_get (item, field));
            if (own && ((prefixed && streq (own, name + length + 1)) || (separator == '+' && streq (own, name))))
                found = true;
        }
        json_decref (lists);
    }
    return found;
}

//  An operator's disable or enable (control actor): checked against the
//  catalog and the upstreams' lists, kept, and sent to every host when it
//  changes something.
static void
s_catalog (supervisor_t *self, const char *tag, zmq_msg_t *body)
{
    json_t *change = json_loadb ((const char *) zmq_msg_data (body), zmq_msg_size (body), 0, NULL);
    const char *action = json_string_value (json_object_get (change, "action"));
    const char *kind_name = json_string_value (json_object_get (change, "kind"));
    const char *name = json_string_value (json_object_get (change, "name"));
    int kind = catalog_kind (kind_name);
    json_t *outcome;
    if (!action || !name || kind < 0 || !(catalog_has (self->table, (list_kind_t) kind, name)
                                          || s_upstream_has (self, (list_kind_t) kind, name))) {
        char error [160];
        //  Cut on a character boundary: a cut one is not a JSON string
        int shown = name? (int) jsonw_utf8_prefix (name, strlen (name), 100): 0;
        snprintf (error, sizeof (error), "no such %s: %.*s", kind_name? kind_name: "row", shown, name? name: "");
        outcome = json_pack ("{s:s}", "error", error);
    }
    else {
        bool disable = streq (action, "disable");
        bool hidden = zhashx_lookup (self->hidden [kind], name) != NULL;
        if (disable && !hidden)
            zhashx_insert (self->hidden [kind], name, (void *) 1);
        else
        if (!disable && hidden)
            zhashx_delete (self->hidden [kind], name);
        if (disable != hidden) {
            log_info (s_name, "%s %s %sd by an operator", kind_name, name, action);
            s_mark_stale (self, 0);
        }
        outcome = json_pack ("{s:b}", "changed", disable != hidden);
    }
    char *text = outcome? json_dumps (outcome, JSON_COMPACT): NULL;
    frames_send_strings (zsock_resolve (self->control), "CATALOG", tag, text? text: "{}", NULL);
    free (text);
    json_decref (outcome);
    json_decref (change);
}

static bool
s_handle_host (supervisor_t *self, int host)
{
    zmq_msg_t frames [6];
    int count;
    if (frames_recv (self->host_raw [host], frames, 6, &count, ZMQ_DONTWAIT))
        return false;
    if (count == 5 && frames_is (&frames [0], "UPDATED"))
        s_broadcast (self, "UPDATED", zmq_msg_data (&frames [4]), zmq_msg_size (&frames [4]));
    else
    if (count == 6 && frames_is (&frames [0], "FWD")) {
        if (self->link)
            link_forward (self->link, frames);
    }
    else
    if (count == 5)
        s_to_client (self, frames);
    else
    if (count == 3 && frames_is (&frames [0], "STATS"))
        s_host_figures (self, &frames [2]);
    else
    if (count == 1 && frames_is (&frames [0], "ABANDONED"))
        self->abandoning--;
    frames_close (frames, count < 6? count: 6);
    return true;
}

static bool
s_handle_control (supervisor_t *self)
{
    zmq_msg_t frames [3];
    int count;
    if (frames_recv (zsock_resolve (self->control), frames, 3, &count, ZMQ_DONTWAIT))
        return false;
    char tag [16];
    if (count == 2 && frames_is (&frames [0], "FIGURES") && frames_text (&frames [1], tag, sizeof (tag)))
        s_figures (self, tag);
    else
    if (count == 3 && frames_is (&frames [0], "CATALOG") && frames_text (&frames [1], tag, sizeof (tag)))
        s_catalog (self, tag, &frames [2]);
    else
    if (frames_is (&frames [0], "DRAIN"))
        s_drain_start (self);
    else
    if (frames_is (&frames [0], "SHUTDOWN"))
        s_shutdown_start (self);
    frames_close (frames, count < 3? count: 3);
    return true;
}

//  --------------------------------------------------------------------------
//  Start and stop

//  Descriptors this process holds now
static size_t
s_open_descriptors (void)
{
    size_t count = 0;
    DIR *dir = opendir ("/proc/self/fd");
    while (dir && readdir (dir))
        count++;
    if (dir)
        closedir (dir);
    return count;
}

//  Client connections share what the descriptor limit leaves once every
//  actor is up, less a reserve for what comes and goes later (store
//  reconnects, upstream processes, files): libzmq must never find no
//  descriptor for an accept (it aborts). The HTTP edge gets half when on.
static int
s_share_descriptors (supervisor_t *self, peers_limits_t *limits, char *error, size_t error_size)
{
    struct rlimit limit;
    size_t most = getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY?
                  (size_t) limit.rlim_cur: 1048576;
    size_t reserve = most / 8 > 64? most / 8: 64;
    size_t used = s_open_descriptors () + reserve;
    if (used + 16 > most) {
        snprintf (error, error_size, "%zu file descriptors leave too few for clients (raise ulimit -n)",
                  most);
        return -1;
    }
    size_t left = most - used;
    size_t http = *self->config->http? left / 2: 0;
    if (http > (size_t) self->config->http_max_connections)
        http = (size_t) self->config->http_max_connections;
    self->http_connections = http;
    limits->max_connections = left - http;
    if (self->config->max_connections && (size_t) self->config->max_connections < limits->max_connections)
        limits->max_connections = (size_t) self->config->max_connections;
    log_info (s_name, "descriptors: %zu; client connections at most %zu over ZeroMQ, %zu over HTTP",
              most, limits->max_connections, http);
    return 0;
}

static int
s_bind_clients (supervisor_t *self, char *error, size_t error_size)
{
    const config_t *config = self->config;
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router)
        return -1;
    peers_limits_t limits = { 0, (size_t) config->peer_inflight_bytes, (size_t) config->peer_queue_bytes };
    if (s_share_descriptors (self, &limits, error, error_size)
    ||  !(self->peers = peers_new (zsock_resolve (self->router), limits, error, error_size)))
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
    if (*config->curve_cert
    &&  zap_serve (self->router, config->curve_cert, ZAP_DOMAIN_CLIENTS, error, error_size))
        return -1;
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
//  unreachable server or a foreign database stops mcpzd at start. Then
//  takes this node's lease: nothing is served without it.
static int
s_check_store (supervisor_t *self, char *error, size_t error_size)
{
    if (!store_persistent (self->config->store))
        return 0;
    self->lease_state = "held";
    return lease_take (self->config, self->incarnation, self->config->node_advertise,
                       self->started_wall, &self->leased_at, error, error_size);
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

//  One actor per upstream, its endpoint the prefix and its index
static int
s_start_upstreams (supervisor_t *self, char *error, size_t error_size)
{
    for (int index = 0; index < self->config->upstream_count; index++) {
        char endpoint [96];
        snprintf (endpoint, sizeof (endpoint), "%s-%d", self->upstream_endpoint, index);
        upstream_args_t args = { self->config, &self->config->upstreams [index], endpoint };
        self->upstreams [index] = actor_start (upstream_actor, &args, error, error_size);
        if (!self->upstreams [index])
            return -1;
        self->upstream_count++;
    }
    return 0;
}

//  An upstream's LISTS: every host gets them
static bool
s_handle_upstream (supervisor_t *self, int index)
{
    zmq_msg_t frames [3];
    int count;
    if (frames_recv (zsock_resolve (self->upstreams [index]), frames, 3, &count, ZMQ_DONTWAIT))
        return false;
    if (count == 3 && frames_is (&frames [0], "UPDATED")) {
        //  "NAME uri": each host finds the URI its sessions know it by
        size_t name = zmq_msg_size (&frames [1]), uri = zmq_msg_size (&frames [2]);
        char *body = (char *) malloc (name + 1 + uri);
        if (body) {
            memcpy (body, zmq_msg_data (&frames [1]), name);
            body [name] = ' ';
            memcpy (body + name + 1, zmq_msg_data (&frames [2]), uri);
            s_broadcast (self, "RESOURCE", body, name + 1 + uri);
        }
        free (body);
        frames_close (frames, 3);
        return true;
    }
    if (count == 2 && frames_is (&frames [0], "LISTS")) {
        free (self->upstream_lists [index]);
        self->upstream_lists [index] = strndup ((const char *) zmq_msg_data (&frames [1]), zmq_msg_size (&frames [1]));
        s_mark_stale (self, 1 + index);
    }
    frames_close (frames, count < 3? count: 3);
    return true;
}

//  The lease actor's news: the lease held, lost or taken (hosts fence or
//  serve again), and the live nodes (the link loses those gone)
static bool
s_handle_lease (supervisor_t *self)
{
    zmq_msg_t frames [3];
    int count;
    if (frames_recv (zsock_resolve (self->lease), frames, 3, &count, ZMQ_DONTWAIT))
        return false;
    char tag [24], *peers = NULL;
    if (count == 3 && frames_is (&frames [0], "LEASE") && frames_text (&frames [2], tag, sizeof (tag))) {
        bool held = frames_is (&frames [1], "held");
        self->lease_state = held? "held": frames_is (&frames [1], "taken")? "taken": "lost";
        self->lease_until = held? strtoll (tag, NULL, 10): 0;
        s_mark_stale (self, FENCE_ITEM);
    }
    else
    if (count == 3 && frames_is (&frames [0], "PEERS") && frames_text (&frames [1], tag, sizeof (tag))
    && (peers = strndup ((const char *) zmq_msg_data (&frames [2]), zmq_msg_size (&frames [2]))))
        link_peers (self->link, peers, strtoll (tag, NULL, 10));
    free (peers);
    frames_close (frames, count < 3? count: 3);
    return true;
}

static int
s_start_actors (supervisor_t *self, char *error, size_t error_size)
{
    const config_t *config = self->config;
    char endpoint [64], cleanup_endpoint [64], control_endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://mcpz-tools-%p", (void *) self);
    snprintf (cleanup_endpoint, sizeof (cleanup_endpoint), "inproc://mcpz-cleanup-%p", (void *) self);
    snprintf (control_endpoint, sizeof (control_endpoint), "inproc://mcpz-control-%p", (void *) self);
    tool_pool_args_t pool_args = { config, self->table, endpoint };
    self->pool = actor_start (tool_pool_actor, &pool_args, error, error_size);
    if (!self->pool || s_start_store (self, error, error_size))
        return -1;
    if (self->db_count) {
        lease_args_t lease_args = { config, self->incarnation, config->node_advertise,
                                    self->started_wall, self->leased_at, self->db_endpoints,
                                    self->db_count };
        self->lease = actor_start (lease_actor, &lease_args, error, error_size);
        if (!self->lease)
            return -1;
    }
    self->host_count = config->session_threads;
    cleanup_args_t cleanup_args = { config, cleanup_endpoint, self->host_count,
                                    self->db_endpoints, self->db_count };
    self->cleanup = actor_start (cleanup_actor, &cleanup_args, error, error_size);
    if (!self->cleanup)
        return -1;
    snprintf (self->upstream_endpoint, sizeof (self->upstream_endpoint), "inproc://mcpz-upstream-%p",
              (void *) self);
    if (s_start_upstreams (self, error, error_size))
        return -1;
    control_args_t control_args = { config, control_endpoint, self->host_count, endpoint,
                                    cleanup_endpoint, self->db_endpoints, self->db_count,
                                    self->upstream_endpoint, self->upstream_count };
    self->control = actor_start (control_actor, &control_args, error, error_size);
    if (!self->control)
        return -1;
    //  Host pipes carry the request path; their bound is --host-queue,
    //  split between the sender's and receiver's HWM, which libzmq adds up
    //  on inproc. zactor sets only the send HWM of its pipe, so the
    //  receive HWM comes from the default that new sockets take.
    size_t half = (size_t) (config->host_queue + 1) / 2;
    zsys_set_pipehwm (half);
    zsys_set_rcvhwm (half);
    self->hosts = (zactor_t **) calloc ((size_t) self->host_count, sizeof (zactor_t *));
    self->host_raw = (void **) calloc ((size_t) self->host_count, sizeof (void *));
    self->stale = (uint32_t *) calloc ((size_t) self->host_count, sizeof (uint32_t));
    int rc = self->hosts && self->host_raw && self->stale? 0: -1;
    for (int index = 0; rc == 0 && index < self->host_count; index++) {
        session_host_args_t args = { config, self->table, index, self->host_count, endpoint,
                                     cleanup_endpoint, control_endpoint, self->db_endpoints,
                                     self->db_count, self->upstream_endpoint };
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
    http_edge_destroy (&self->http);
    //  Clients of the other actors go first
    for (int index = 0; self->hosts && index < self->host_count; index++)
        zactor_destroy (&self->hosts [index]);
    free (self->hosts);
    free (self->host_raw);
    link_destroy (&self->link);
    zactor_destroy (&self->control);
    for (int index = 0; index < self->upstream_count; index++) {
        zactor_destroy (&self->upstreams [index]);
        free (self->upstream_lists [index]);
    }
    zactor_destroy (&self->cleanup);
    //  Gives the lease up through the DB workers, so they go after it
    zactor_destroy (&self->lease);
    for (int index = 0; self->db_workers && index < self->db_count; index++)
        zactor_destroy (&self->db_workers [index]);
    free (self->db_workers);
    free (self->db_endpoints);
    zactor_destroy (&self->pool);
    peers_destroy (&self->peers);
    zsock_destroy (&self->router);
    //  Last: while a CURVE socket lives, a missing handler would let anyone in
    zactor_destroy (&self->zap);
    ids_destroy (&self->ids);
    for (int kind = 0; kind < LISTS; kind++)
        zhashx_destroy (&self->hidden [kind]);
    free (self->stale);
}

static int
s_start (supervisor_t *self, char *error, size_t error_size)
{
    self->started = zclock_mono ();
    self->started_wall = store_now_ms ();
    self->ids = ids_new ();
    bool made = self->ids != NULL && ids_next (self->ids, self->incarnation) == 0;
    for (int kind = 0; kind < LISTS; kind++)
        made &= (self->hidden [kind] = zhashx_new ()) != NULL;
    if (!made) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    if (*self->config->curve_cert || *self->config->node_curve_cert) {
        //  First: libzmq lets every CURVE client in while no handler is bound
        self->zap = actor_start (zap_actor, (void *) self->config, error, error_size);
        if (!self->zap)
            return -1;
    }
    if (s_check_store (self, error, error_size)
    ||  s_start_actors (self, error, error_size)
    ||  s_bind_clients (self, error, error_size))
        return -1;
    if (self->lease) {
        //  Before any frame: hosts serve until then, unless told later
        self->lease_until = self->leased_at + self->config->lease_ms
                          - lease_margin_ms (self->config->lease_ms);
        s_mark_stale (self, FENCE_ITEM);
    }
    if (store_persistent (self->config->store)) {
        link_hooks_t hooks = { s_route_frames, s_deliver, s_refuse_for_link, self };
        self->link = link_new (self->config, self->incarnation, hooks, error, error_size);
        if (!self->link)
            return -1;
    }
    if (*self->config->http) {
        self->http = http_edge_new (self->config, self->http_connections, s_route_frames, self,
                                    error, error_size);
        if (!self->http)
            return -1;
        if (self->link)
            http_edge_tell_ends (self->http, s_request_ended);
    }
    return 0;
}

static void
s_log_ready (supervisor_t *self)
{
    char listen [1024] = "";
    for (int index = 0; index < self->config->listen_count; index++)
        snprintf (listen + strlen (listen), sizeof (listen) - strlen (listen), "%s%s",
                  index? ",": "", self->config->listen [index]);
    log_info (s_name, "ready listen=%s http=%s control=%s store=%s node=%s hosts=%d tool-threads=%d tools=%zu",
              listen, *self->config->http? self->config->http: "off", self->config->control,
              self->config->store, self->config->node_id,
              self->host_count, self->config->tool_threads, catalog_size (self->table, LIST_TOOLS));
}

//  Handles up to a batch of waiting messages on one socket. Reading until
//  EAGAIN costs nothing; asking ZMQ_EVENTS first costs a getpid(2) inside
//  libzmq per message (its fork check).
static void
s_drain (supervisor_t *self, bool (*handler) (supervisor_t *))
{
    for (int batch = 0; batch < BATCH && !self->terminated && handler (self); batch++)
        ;
}

//  SIGHUP: every credential file is read again
static void
s_reload (supervisor_t *self)
{
    if (self->zap)
        zstr_send (self->zap, "RELOAD");
    char error [512];
    if (self->http && http_edge_reload (self->http, error, sizeof (error)))
        log_error (s_name, "%s: the HTTP credentials stay as they were", error);
    else
    if (self->http)
        log_info (s_name, "HTTP credentials read again");
}

static void
s_handle_pipe (supervisor_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "SHUTDOWN"))
        s_shutdown_start (self);
    else
    if (streq (command, "RELOAD"))
        s_reload (self);
    zstr_free (&command);
}

static void
s_loop (supervisor_t *self)
{
    //  Fixed items first, then the hosts and upstreams, then what only
    //  some nodes have: the lease, the node link, and the HTTP edge's
    //  descriptor, polled last
    int upstreams = self->host_count + 3;
    int lease = upstreams + self->upstream_count;
    int outbound = lease + (self->lease? 1: 0);
    int monitor = outbound + (self->link? 1: 0);
    int inbound = monitor + (self->link? 1: 0);
    int http_item = inbound + (self->link && link_inbound (self->link)? 1: 0);
    int peers_item = http_item + (self->http? 1: 0);
    int count = peers_item + 1;
    zmq_pollitem_t *items = (zmq_pollitem_t *) calloc ((size_t) count, sizeof (zmq_pollitem_t));
    assert (items);
    items [0] = (zmq_pollitem_t) { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 };
    items [1] = (zmq_pollitem_t) { self->router_raw, 0, ZMQ_POLLIN, 0 };
    items [2] = (zmq_pollitem_t) { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 };
    for (int index = 0; index < self->host_count; index++)
        items [index + 3] = (zmq_pollitem_t) { self->host_raw [index], 0, ZMQ_POLLIN, 0 };
    for (int index = 0; index < self->upstream_count; index++)
        items [upstreams + index] = (zmq_pollitem_t) { zsock_resolve (self->upstreams [index]), 0, ZMQ_POLLIN, 0 };
    if (self->lease)
        items [lease] = (zmq_pollitem_t) { zsock_resolve (self->lease), 0, ZMQ_POLLIN, 0 };
    if (self->link) {
        items [outbound] = (zmq_pollitem_t) { link_outbound (self->link), 0, ZMQ_POLLIN, 0 };
        items [monitor] = (zmq_pollitem_t) { link_monitor (self->link), 0, ZMQ_POLLIN, 0 };
    }
    if (self->link && link_inbound (self->link))
        items [inbound] = (zmq_pollitem_t) { link_inbound (self->link), 0, ZMQ_POLLIN, 0 };
    if (self->http)
        items [http_item] = (zmq_pollitem_t) { NULL, http_edge_fd (self->http), ZMQ_POLLIN, 0 };
    items [peers_item] = (zmq_pollitem_t) { peers_monitor (self->peers), 0, ZMQ_POLLIN, 0 };

    //  It sleeps whenever it has nothing to do: the session hosts poll a
    //  while after work (--host-spin-us), and with both polling on two
    //  cores the client's own thread waited for a core (p50 over HTTP at
    //  one connection 140 us with a 40 us spin here, 100 us without)
    while (!self->terminated) {
        if (self->stopping)
            s_shutdown_check (self);
        long timeout = self->stopping? DRAIN_POLL_MS: -1;
        long http = self->http? http_edge_timeout (self->http): -1;
        if (http >= 0 && (timeout < 0 || http < timeout))
            timeout = http;
        long parked = self->link? link_timeout (self->link): -1;
        if (parked >= 0 && (timeout < 0 || parked < timeout))
            timeout = parked;
        long sweep = peers_timeout (self->peers);
        if (timeout < 0 || sweep < timeout)
            timeout = sweep;
        if (self->offers_pending) {
            s_offer (self);
            if (self->offers_pending && (timeout < 0 || timeout > CATALOG_RETRY_MS))
                timeout = CATALOG_RETRY_MS;
        }
        if (zmq_poll (items, count, timeout) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
        //  The lease before anything it may fence
        if (self->lease && (items [lease].revents & ZMQ_POLLIN))
            while (s_handle_lease (self))
                ;
        //  Answers first: they free room in every queue behind them
        for (int index = 0; index < self->host_count; index++)
            if (items [index + 3].revents & ZMQ_POLLIN)
                for (int batch = 0; batch < BATCH && s_handle_host (self, index); batch++)
                    ;
        if (self->link && (items [outbound].revents & ZMQ_POLLIN))
            link_handle_outbound (self->link);
        if (self->link && (items [monitor].revents & ZMQ_POLLIN))
            link_handle_monitor (self->link);
        for (int index = 0; index < self->upstream_count; index++)
            if (items [upstreams + index].revents & ZMQ_POLLIN)
                while (s_handle_upstream (self, index))
                    ;
        //  The control actor's word before clients': an operator who was
        //  told "draining" may open a session next, and it must be refused
        if (items [2].revents & ZMQ_POLLIN)
            s_drain (self, s_handle_control);
        if (items [1].revents & ZMQ_POLLIN)
            s_drain (self, s_handle_client);
        if (self->link && link_inbound (self->link) && (items [inbound].revents & ZMQ_POLLIN))
            link_handle_inbound (self->link);
        if (self->link && parked >= 0)
            link_run (self->link);
        if (items [peers_item].revents & ZMQ_POLLIN)
            peers_handle_monitor (self->peers);
        peers_sweep (self->peers);
        //  After the hosts' answers: their responses leave in this run
        if (self->http && ((items [http_item].revents & ZMQ_POLLIN) || http == 0
                           || http_edge_timeout (self->http) == 0))
            http_edge_run (self->http);
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
