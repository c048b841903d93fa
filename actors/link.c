/*  link — frames of sessions other nodes own, forwarded to them, and their
    answers brought back. Run by the supervisor's thread (see link.h).

    Owns: two ROUTER sockets, the nodes it knows, which node owns each
    session it forwarded for (a cache: the store is the truth), and every
    forwarded frame still waiting for its last answer.

    On the wire (TCP between nodes, nothing else on it):
      to the owner    [node id] MCPZN/1, command, seq, peer, session id, body,
                      principal (whom the sender's front authenticated)
      back            [incarnation] kind, seq, peer, session id, event id, body
    The outbound ROUTER connects to each node under the node's id and names
    itself by this process's incarnation, so answers meant for an earlier
    process of the same node never reach this one. seq (8 bytes) numbers
    forwarded frames: it says which one an answer belongs to.

    The owner takes a forwarded frame as one of a peer of its own (0, 'N',
    the sender's incarnation's length and bytes, seq, the client's peer):
    its hosts answer it like any other and the supervisor hands the
    answers here (link_answer). A frame whose session the owner does not
    hold after all is answered MOVED with where the session is, and sent
    there once more.

    Exactly one last answer: a ZeroMQ client's MSG goes as MSGOK, so every
    forwarded frame gets one last answer (ANS, OK, ERR or END) and the
    sender knows when nothing more is owed; the OK that a notification
    earns is the link's, not the client's. A forwarded frame whose node is
    lost (its lease lapsed) before that gets 503 here, once; whatever that
    node sends later is dropped. Past PENDING_MAX waiting frames, 503.
*/
#include "actors/link.h"
#include "actors/zap.h"
#include "proto/mcpz.h"
#include "runtime/frames.h"
#include "runtime/log.h"
#include "runtime/table.h"

#include <inttypes.h>

#define SIGNATURE       "MCPZN/1"
#define PENDING_MAX     100000      //  forwarded frames waiting for their last answer
#define ROUTES_MAX      200000      //  sessions whose owner is remembered
#define PARKED_MAX      1024        //  forwards waiting for a node's connection
#define CONNECT_GRACE   1000        //  ms a new connection may take
#define PARK_RETRY      5           //  ms between tries while one waits
#define HOPS_MAX        2           //  sends of one frame (the first and one MOVED)
#define BATCH           256
#define RETRY_MS        100         //  retry_after_ms of the link's 503s
#define STREAMS_MAX     10000       //  open HTTP streams remembered, to end them with their node
#define SWEEP_MS        1000        //  how often forwards past their deadline are looked for
#define PEER_MIN        13          //  0, 'N', length, one byte, seq, one byte

static const char *const s_name = "link";

typedef struct {
    char id [256];
    char endpoint [256];        //  as connected to: an address, once PEERS resolved it
    char rid [16];              //  this connection's routing id, new for each
    char incarnation [64];
    int64_t known_since;        //  monotonic ms
    int64_t connected_at;       //  monotonic ms of the connect
    bool up;                    //  connected now (the monitor says)
} node_t;

typedef struct {
    char sid [MCPZ_SID_SIZE + 1];
    node_t *node;
} route_t;

typedef struct {
    uint64_t seq;               //  the key
    node_t *node;
    char command [8];           //  as forwarded
    bool swallow_ok;            //  a ZeroMQ MSG sent as MSGOK
    bool stream;                //  an HTTP GET: its stream outlives its OK
    bool established;           //  that stream's OK came: nothing more is owed
    bool parked;                //  waits in self->parked for a connection
    int64_t sent_at;            //  monotonic ms of the first send
    char peer_key [65];         //  an open stream's peer, hex, "" when not indexed
    size_t held;                //  bytes of its body counted in self->held
    int hops;
    int64_t parked_until;       //  monotonic ms
    zmq_msg_t peer, sid, body, principal;   //  kept to answer it, or send it again
} forward_t;

struct _link_t {
    const config_t *config;
    link_hooks_t hooks;
    char incarnation [64];
    zsock_t *in, *out;
    void *in_raw, *out_raw;
    void *monitor;              //  PAIR: the outbound socket's disconnections
    zhashx_t *nodes;            //  id -> node_t
    zhashx_t *routes;           //  session id -> route_t
    zhashx_t *pending;          //  seq -> forward_t
    zlistx_t *parked;           //  forward_t, owned by pending
    zhashx_t *open_streams;     //  peer (hex) -> forward_t of an open stream, owned by pending
    uint64_t next_seq;
    uint32_t connections;       //  connections made: each has a routing id of its own
    size_t streams;             //  established streams in pending
    size_t held;                //  bytes of bodies kept by pending forwards
    int64_t deadline_ms;        //  past it a forward's node owes no answer any more
    int64_t next_sweep;         //  monotonic ms
    uint64_t forwarded, served, moved, lost, refused, undeliverable, late;
};

static void
s_forward_destroy (forward_t **forward_p)
{
    if (*forward_p) {
        zmq_msg_close (&(*forward_p)->peer);
        zmq_msg_close (&(*forward_p)->sid);
        zmq_msg_close (&(*forward_p)->body);
        zmq_msg_close (&(*forward_p)->principal);
        free (*forward_p);
        *forward_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Peers of the link (on the owner)

bool
link_owns (zmq_msg_t *peer)
{
    const unsigned char *data = (const unsigned char *) zmq_msg_data (peer);
    return zmq_msg_size (peer) >= PEER_MIN && data [0] == 0 && data [1] == 'N';
}

//  The parts of a link peer: the sender's routing id, seq, the client's peer
static bool
s_peer_parts (zmq_msg_t *peer, const unsigned char **rid, size_t *rid_size,
              const unsigned char **rest, size_t *rest_size)
{
    if (!link_owns (peer))
        return false;
    const unsigned char *data = (const unsigned char *) zmq_msg_data (peer);
    size_t size = zmq_msg_size (peer);
    *rid_size = data [2];
    if (*rid_size == 0 || 3 + *rid_size + 8 >= size)
        return false;
    *rid = data + 3;
    *rest = data + 3 + *rid_size;
    *rest_size = size - 3 - *rid_size;
    return true;
}

//  A forwarded frame from another node: [rid] MCPZN/1, command, seq, peer,
//  sid, body, principal. Served here as a frame of a peer of the link's own.
static bool
s_take_forwarded (link_t *self)
{
    zmq_msg_t frames [8];
    int count;
    if (frames_recv (self->in_raw, frames, 8, &count, ZMQ_DONTWAIT))
        return false;
    size_t rid = count >= 1? zmq_msg_size (&frames [0]): 0, peer = count >= 5? zmq_msg_size (&frames [4]): 0;
    bool valid = count == 8 && frames_is (&frames [1], SIGNATURE)
              && (frames_is (&frames [2], "MSG") || frames_is (&frames [2], "MSGOK")
                  || frames_is (&frames [2], "LISTEN") || frames_is (&frames [2], "RESUME")
                  || frames_is (&frames [2], "CLOSE"))
              && zmq_msg_size (&frames [3]) == 8 && rid > 0 && rid < 256
              && peer > 0 && peer <= 255
              && mcpz_sid_valid (zmq_msg_data (&frames [5]), zmq_msg_size (&frames [5]))
              && zmq_msg_size (&frames [6]) <= (size_t) self->config->max_message_size
              && zmq_msg_size (&frames [7]) <= MCPZ_PRINCIPAL_MAX;
    if (!valid) {
        //  Nodes share one build: anything else on the link is not a node
        log_warn (s_name, "dropped a malformed frame on the node link (%d parts)", count);
        frames_close (frames, count < 8? count: 8);
        return true;
    }
    zmq_msg_t routed [5];
    zmq_msg_init (&routed [0]);
    zmq_msg_move (&routed [0], &frames [2]);
    zmq_msg_init_size (&routed [1], 3 + rid + 8 + peer);
    unsigned char *data = (unsigned char *) zmq_msg_data (&routed [1]);
    data [0] = 0;
    data [1] = 'N';
    data [2] = (unsigned char) rid;
    memcpy (data + 3, zmq_msg_data (&frames [0]), rid);
    memcpy (data + 3 + rid, zmq_msg_data (&frames [3]), 8);
    memcpy (data + 3 + rid + 8, zmq_msg_data (&frames [4]), peer);
    zmq_msg_init (&routed [2]);
    zmq_msg_move (&routed [2], &frames [5]);
    zmq_msg_init (&routed [3]);
    zmq_msg_move (&routed [3], &frames [6]);
    zmq_msg_init (&routed [4]);
    zmq_msg_move (&routed [4], &frames [7]);
    self->served++;
    self->hooks.route (self->hooks.owner, routed);
    frames_close (routed, 5);
    frames_close (frames, 8);
    return true;
}

void
link_handle_inbound (link_t *self)
{
    for (int batch = 0; batch < BATCH && s_take_forwarded (self); batch++)
        ;
}

//  Sends kind, seq, client peer, sid, event, body back to the sender.
static void
s_send_back (link_t *self, const char *kind, zmq_msg_t *peer, zmq_msg_t *sid, zmq_msg_t *event,
             zmq_msg_t *body)
{
    const unsigned char *rid, *rest;
    size_t rid_size, rest_size;
    if (!self->in_raw || !s_peer_parts (peer, &rid, &rid_size, &rest, &rest_size))
        return;
    //  A sender that is gone, or not reading, loses it: the session's ring
    //  keeps it for a replay
    if (zmq_send (self->in_raw, rid, rid_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        self->undeliverable++;
        return;
    }
    frames_send_text (self->in_raw, kind, ZMQ_SNDMORE);
    zmq_send (self->in_raw, rest, 8, ZMQ_SNDMORE);
    zmq_send (self->in_raw, rest + 8, rest_size - 8, ZMQ_SNDMORE);
    zmq_msg_send (sid, self->in_raw, ZMQ_SNDMORE);
    zmq_msg_send (event, self->in_raw, ZMQ_SNDMORE);
    zmq_msg_send (body, self->in_raw, 0);
}

void
link_answer (link_t *self, zmq_msg_t *frames)
{
    char kind [8] = "";
    frames_text (&frames [0], kind, sizeof (kind));
    s_send_back (self, kind, &frames [1], &frames [2], &frames [3], &frames [4]);
}

//  --------------------------------------------------------------------------
//  Nodes and routes (on the sender)

//  The node of this id, made and connected when new. A known node moves to
//  another endpoint only when the live nodes' list says so (moved): an
//  endpoint from the store is the node's advertised name, which the list
//  has resolved to an address.
static node_t *
s_node (link_t *self, const char *id, const char *endpoint, bool moved)
{
    node_t *node = (node_t *) zhashx_lookup (self->nodes, id);
    if (node && moved && !streq (node->endpoint, endpoint)) {
        zmq_disconnect (self->out_raw, node->endpoint);
        node->connected_at = 0;
        node->up = false;
        snprintf (node->endpoint, sizeof (node->endpoint), "%s", endpoint);
    }
    if (!node) {
        node = (node_t *) calloc (1, sizeof (node_t));
        if (!node)
            return NULL;
        snprintf (node->id, sizeof (node->id), "%s", id);
        snprintf (node->endpoint, sizeof (node->endpoint), "%s", endpoint);
        node->known_since = zclock_mono ();
        zhashx_insert (self->nodes, node->id, node);
    }
    if (!node->connected_at) {
        //  A routing id of its own: the pipe of an earlier connection to
        //  the node may still be going away, and libzmq aborts on a
        //  routing id that is still in use
        snprintf (node->rid, sizeof (node->rid), "link-%" PRIu32, ++self->connections);
        zmq_setsockopt (self->out_raw, ZMQ_CONNECT_ROUTING_ID, node->rid, strlen (node->rid));
        if (zmq_connect (self->out_raw, node->endpoint) == -1)
            log_warn (s_name, "cannot connect to node %s at %s: %s", node->id, node->endpoint,
                      zmq_strerror (zmq_errno ()));
        else
            log_info (s_name, "connecting to node %s at %s", node->id, node->endpoint);
        node->connected_at = zclock_mono ();
    }
    return node;
}

static node_t *
s_node_by_rid (link_t *self, zmq_msg_t *frame)
{
    char rid [16];
    if (!frames_text (frame, rid, sizeof (rid)))
        return NULL;
    for (node_t *node = (node_t *) zhashx_first (self->nodes); node;
         node = (node_t *) zhashx_next (self->nodes))
        if (streq (node->rid, rid))
            return node;
    return NULL;
}

static void
s_remember (link_t *self, zmq_msg_t *sid, node_t *node)
{
    char text [MCPZ_SID_SIZE + 1];
    if (!frames_text (sid, text, sizeof (text)))
        return;
    route_t *route = (route_t *) zhashx_lookup (self->routes, text);
    if (route) {
        route->node = node;
        return;
    }
    //  A cache: when full, start again (each entry costs one store lookup)
    if (zhashx_size (self->routes) >= ROUTES_MAX)
        zhashx_purge (self->routes);
    route = (route_t *) calloc (1, sizeof (route_t));
    if (!route)
        return;
    memcpy (route->sid, text, sizeof (route->sid));
    route->node = node;
    zhashx_insert (self->routes, route->sid, route);
}

//  --------------------------------------------------------------------------
//  Forwarding (on the sender)

static void
s_refuse (link_t *self, forward_t *forward, int status, const char *reason)
{
    char sid [MCPZ_SID_SIZE + 1] = "";
    frames_text (&forward->sid, sid, sizeof (sid));
    self->refused++;
    self->hooks.refuse (self->hooks.owner, &forward->peer, sid, status, reason, &forward->body);
}

static void
s_finish (link_t *self, forward_t *forward)
{
    uint64_t seq = forward->seq;
    self->held -= forward->held;
    if (forward->established)
        self->streams--;
    if (*forward->peer_key)
        zhashx_delete (self->open_streams, forward->peer_key);
    if (forward->parked) {
        void *handle = zlistx_find (self->parked, forward);
        if (handle)
            zlistx_delete (self->parked, handle);
    }
    zhashx_delete (self->pending, &seq);
}

//  Sends a forward to its node. 0 when sent; -1 when the node cannot take
//  it now (not connected yet, or its queue is full).
static int
s_send (link_t *self, forward_t *forward)
{
    node_t *node = forward->node;
    //  Nothing waits for a node that is not connected: ZeroMQ would queue
    //  it until the node came back, long after the client gave up
    if (!node->up) {
        errno = EHOSTUNREACH;
        return -1;
    }
    if (zmq_send (self->out_raw, node->rid, strlen (node->rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    frames_send_text (self->out_raw, SIGNATURE, ZMQ_SNDMORE);
    frames_send_text (self->out_raw, forward->command, ZMQ_SNDMORE);
    zmq_send (self->out_raw, &forward->seq, sizeof (forward->seq), ZMQ_SNDMORE);
    zmq_msg_t *kept [] = { &forward->peer, &forward->sid, &forward->body, &forward->principal };
    for (int index = 0; index < 4; index++) {
        zmq_msg_t copy;
        zmq_msg_init (&copy);
        zmq_msg_copy (&copy, kept [index]);
        zmq_msg_send (&copy, self->out_raw, index < 3? ZMQ_SNDMORE: 0);
    }
    return 0;
}

//  A node that cannot be reached may be dead: the session's next frame
//  asks the store again, which hands it over once the node's lease lapsed
static void
s_forget_route (link_t *self, forward_t *forward)
{
    char sid [MCPZ_SID_SIZE + 1];
    route_t *route = frames_text (&forward->sid, sid, sizeof (sid))?
                     (route_t *) zhashx_lookup (self->routes, sid): NULL;
    if (route && route->node == forward->node)
        zhashx_delete (self->routes, sid);
}

//  Sends it, parks it while a new connection comes up, or refuses it.
static void
s_dispatch (link_t *self, forward_t *forward)
{
    if (s_send (self, forward) == 0) {
        self->forwarded++;
        return;
    }
    bool unreachable = zmq_errno () == EHOSTUNREACH;
    bool connecting = unreachable && zclock_mono () - forward->node->connected_at < CONNECT_GRACE;
    if (connecting && !forward->parked && zlistx_size (self->parked) < PARKED_MAX) {
        forward->parked = true;
        forward->parked_until = forward->node->connected_at + CONNECT_GRACE;
        zlistx_add_end (self->parked, forward);
        return;
    }
    if (connecting && forward->parked)
        return;
    if (unreachable)
        s_forget_route (self, forward);
    s_refuse (self, forward, 503, unreachable? "the node serving this session cannot be reached":
                                               "the node serving this session is overloaded");
    s_finish (self, forward);
}

//  A new forward of a client's frame to node.
static void
s_forward_new (link_t *self, zmq_msg_t *command, zmq_msg_t *peer, zmq_msg_t *sid,
               zmq_msg_t *body, zmq_msg_t *principal, node_t *node)
{
    //  Bodies are kept to answer for them: bounded in count and bytes
    bool room = zhashx_size (self->pending) < PENDING_MAX
             && self->held + zmq_msg_size (body) <= (size_t) self->config->link_buffer_bytes;
    forward_t *forward = room? (forward_t *) calloc (1, sizeof (forward_t)): NULL;
    if (!forward) {
        char text [MCPZ_SID_SIZE + 1] = "";
        frames_text (sid, text, sizeof (text));
        self->refused++;
        self->hooks.refuse (self->hooks.owner, peer, text, 503, "server overloaded", body);
        return;
    }
    forward->seq = ++self->next_seq;
    forward->node = node;
    forward->sent_at = zclock_mono ();
    frames_text (command, forward->command, sizeof (forward->command));
    //  A ZeroMQ client's MSG owes no answer for notifications; the link
    //  needs one for everything it waits for
    if (streq (forward->command, "MSG")) {
        memcpy (forward->command, "MSGOK", 6);
        forward->swallow_ok = true;
    }
    forward->stream = streq (forward->command, "RESUME");
    zmq_msg_init (&forward->peer);
    zmq_msg_copy (&forward->peer, peer);
    zmq_msg_init (&forward->sid);
    zmq_msg_copy (&forward->sid, sid);
    zmq_msg_init (&forward->body);
    zmq_msg_copy (&forward->body, body);
    zmq_msg_init (&forward->principal);
    zmq_msg_copy (&forward->principal, principal);
    forward->held = zmq_msg_size (body);
    self->held += forward->held;
    zhashx_insert (self->pending, &forward->seq, forward);
    s_dispatch (self, forward);
}

bool
link_forward_known (link_t *self, zmq_msg_t *command, zmq_msg_t *peer, zmq_msg_t *sid,
                    zmq_msg_t *body, zmq_msg_t *principal)
{
    char text [MCPZ_SID_SIZE + 1];
    if (link_owns (peer) || !frames_text (sid, text, sizeof (text)))
        return false;           //  a frame forwarded here is served here
    route_t *route = (route_t *) zhashx_lookup (self->routes, text);
    if (!route)
        return false;
    s_forward_new (self, command, peer, sid, body, principal, route->node);
    return true;
}

//  "COMMAND\tNODE\tENDPOINT" into its parts (NODE and ENDPOINT may be
//  given without COMMAND: MOVED's body)
static bool
s_split_route (zmq_msg_t *frame, char *node, char *endpoint, size_t size)
{
    char text [600];
    if (!frames_text (frame, text, sizeof (text)))
        return false;
    char *tab = strrchr (text, '\t');
    if (!tab || !tab [1])
        return false;
    *tab = 0;
    char *start = strrchr (text, '\t');
    start = start? start + 1: text;
    if (!*start || strlen (start) >= size || strlen (tab + 1) >= size)
        return false;
    memcpy (node, start, strlen (start) + 1);
    memcpy (endpoint, tab + 1, strlen (tab + 1) + 1);
    return true;
}

void
link_forward (link_t *self, zmq_msg_t *frames)
{
    char node_id [256], endpoint [256];
    if (!s_split_route (&frames [3], node_id, endpoint, sizeof (node_id)))
        return;
    if (link_owns (&frames [1])) {
        //  Forwarded here, owned elsewhere: the sender sends it there
        self->moved++;
        char moved [520];
        snprintf (moved, sizeof (moved), "%s\t%s", node_id, endpoint);
        zmq_msg_t event, body;
        zmq_msg_init (&event);
        zmq_msg_init_size (&body, strlen (moved));
        memcpy (zmq_msg_data (&body), moved, strlen (moved));
        s_send_back (self, "MOVED", &frames [1], &frames [2], &event, &body);
        zmq_msg_close (&event);
        zmq_msg_close (&body);
        return;
    }
    node_t *node = s_node (self, node_id, endpoint, false);
    if (!node) {
        self->hooks.refuse (self->hooks.owner, &frames [1], "", 503, "out of memory", &frames [4]);
        return;
    }
    s_remember (self, &frames [2], node);
    const char *route = (const char *) zmq_msg_data (&frames [3]);
    const char *tab = (const char *) memchr (route, '\t', zmq_msg_size (&frames [3]));
    zmq_msg_t verb;
    zmq_msg_init_size (&verb, tab? (size_t) (tab - route): 0);
    memcpy (zmq_msg_data (&verb), route, zmq_msg_size (&verb));
    s_forward_new (self, &verb, &frames [1], &frames [2], &frames [4], &frames [5], node);
    zmq_msg_close (&verb);
}

//  MOVED: the node did not hold the session; send it where it said, once
static void
s_moved (link_t *self, forward_t *forward, zmq_msg_t *where)
{
    char node_id [256], endpoint [256];
    bool named = forward->hops + 1 < HOPS_MAX && s_split_route (where, node_id, endpoint, sizeof (node_id));
    //  Named this node: it owns the session now, and serves its next frame
    node_t *node = named && !streq (node_id, self->config->node_id)?
                   s_node (self, node_id, endpoint, false): NULL;
    if (!node) {
        s_forget_route (self, forward);
        s_refuse (self, forward, 503, "the session is moving between nodes: retry");
        s_finish (self, forward);
        return;
    }
    s_remember (self, &forward->sid, node);
    forward->hops++;
    forward->node = node;
    s_dispatch (self, forward);
}

//  An HTTP GET's stream is open: it is remembered only to end it if its
//  node is lost, until its client leaves (link_request_ended). Past
//  STREAMS_MAX the oldest are forgotten (such a stream then stays open,
//  idle, should its node die).
static void
s_established (link_t *self, forward_t *forward)
{
    if (forward->established)
        return;
    forward->established = true;
    zmq_msg_close (&forward->body);
    zmq_msg_init (&forward->body);
    self->held -= forward->held;
    forward->held = 0;
    //  Indexed by its client's peer: when the client leaves, the front says so
    size_t size = zmq_msg_size (&forward->peer);
    if (size * 2 < sizeof (forward->peer_key)) {
        const unsigned char *bytes = (const unsigned char *) zmq_msg_data (&forward->peer);
        for (size_t index = 0; index < size; index++)
            sprintf (forward->peer_key + 2 * index, "%02x", bytes [index]);
        if (zhashx_insert (self->open_streams, forward->peer_key, forward))
            *forward->peer_key = 0;
    }
    if (++self->streams <= STREAMS_MAX)
        return;
    forward_t *oldest = NULL;
    for (forward_t *item = (forward_t *) zhashx_first (self->pending); item;
         item = (forward_t *) zhashx_next (self->pending))
        if (item->established && (!oldest || item->seq < oldest->seq))
            oldest = item;
    s_finish (self, oldest);
}

static void s_end_stream (link_t *self, forward_t *forward);

static void
s_end_streams (link_t *self, node_t *node, zmq_msg_t *sid)
{
    zlistx_t *ended = zlistx_new ();
    for (forward_t *forward = (forward_t *) zhashx_first (self->pending); forward && ended;
         forward = (forward_t *) zhashx_next (self->pending))
        if (forward->established && forward->node == node
        &&  zmq_msg_size (&forward->sid) == zmq_msg_size (sid)
        &&  memcmp (zmq_msg_data (&forward->sid), zmq_msg_data (sid), zmq_msg_size (sid)) == 0)
            zlistx_add_end (ended, forward);
    for (forward_t *forward = ended? (forward_t *) zlistx_first (ended): NULL; forward;
         forward = (forward_t *) zlistx_next (ended)) {
        s_end_stream (self, forward);
        s_finish (self, forward);
    }
    zlistx_destroy (&ended);
}

//  An answer from a node: kind, seq, peer, sid, event, body
static bool
s_take_answer (link_t *self)
{
    zmq_msg_t frames [7];
    int count;
    if (frames_recv (self->out_raw, frames, 7, &count, ZMQ_DONTWAIT))
        return false;
    node_t *node = count == 7? s_node_by_rid (self, &frames [0]): NULL;
    uint64_t seq = 0;
    if (node && zmq_msg_size (&frames [2]) == sizeof (seq))
        memcpy (&seq, zmq_msg_data (&frames [2]), sizeof (seq));
    forward_t *forward = seq? (forward_t *) zhashx_lookup (self->pending, &seq): NULL;
    if (forward && forward->node != node)
        forward = NULL;
    bool ok = frames_is (&frames [1], "OK");
    bool final = ok || frames_is (&frames [1], "ANS") || frames_is (&frames [1], "ERR")
              || frames_is (&frames [1], "END");
    //  The session ended on its node: every stream of it here ends too,
    //  not only the one the node knew as its listener
    if (node && frames_is (&frames [1], "END") && frames_is (&frames [6], "session"))
        s_end_streams (self, node, &frames [4]);
    bool known = final || frames_is (&frames [1], "MSG");
    //  Only to a client of this node: never back onto the link
    if (!node || link_owns (&frames [3]) || (!forward && (!known || final)))
        ;                       //  from a node lost, a last answer given already, or garbage
    else
    if (frames_is (&frames [1], "MOVED"))
        s_moved (self, forward, &frames [6]);
    else
    if (known) {
        if (!(forward && forward->swallow_ok && ok)) {
            zmq_msg_t answer [5];
            static const int parts [5] = { 1, 3, 4, 5, 6 };
            for (int index = 0; index < 5; index++) {
                zmq_msg_init (&answer [index]);
                zmq_msg_move (&answer [index], &frames [parts [index]]);
            }
            //  The client is the one the frame came from, whatever the node says
            if (forward) {
                zmq_msg_close (&answer [1]);
                zmq_msg_init (&answer [1]);
                zmq_msg_copy (&answer [1], &forward->peer);
            }
            self->hooks.deliver (self->hooks.owner, answer);
            frames_close (answer, 5);
        }
        //  An HTTP GET's stream goes on after its OK, until END
        if (forward && final && forward->stream && ok)
            s_established (self, forward);
        else
        if (forward && final)
            s_finish (self, forward);
    }
    frames_close (frames, count < 7? count: 7);
    return true;
}

void
link_handle_outbound (link_t *self)
{
    for (int batch = 0; batch < BATCH && s_take_answer (self); batch++)
        ;
}

long
link_timeout (link_t *self)
{
    if (zlistx_size (self->parked))
        return PARK_RETRY;
    if (zhashx_size (self->pending) == self->streams)
        return -1;
    int64_t left = self->next_sweep - zclock_mono ();
    return left > 0? (long) left: 0;
}

//  A node that is alive owes an answer to every frame by its deadline:
//  past it (the longest a call may take, twice, and ten seconds) the
//  answer was lost on the way (a full queue), and the client gets 503
static void
s_sweep (link_t *self)
{
    int64_t now = zclock_mono ();
    if (now < self->next_sweep)
        return;
    self->next_sweep = now + SWEEP_MS;
    zlistx_t *late = zlistx_new ();
    for (forward_t *forward = (forward_t *) zhashx_first (self->pending); forward && late;
         forward = (forward_t *) zhashx_next (self->pending))
        if (!forward->established && now - forward->sent_at > self->deadline_ms)
            zlistx_add_end (late, forward);
    for (forward_t *forward = late? (forward_t *) zlistx_first (late): NULL; forward;
         forward = (forward_t *) zlistx_next (late)) {
        self->late++;
        s_refuse (self, forward, 503, "the node serving this session did not answer in time");
        s_finish (self, forward);
    }
    zlistx_destroy (&late);
}

void
link_run (link_t *self)
{
    s_sweep (self);
    zlistx_t *waiting = self->parked;
    self->parked = zlistx_new ();
    if (!self->parked) {
        self->parked = waiting;
        return;
    }
    for (forward_t *forward = (forward_t *) zlistx_first (waiting); forward;
         forward = (forward_t *) zlistx_next (waiting)) {
        forward->parked = false;
        if (s_send (self, forward) == 0)
            self->forwarded++;
        else
        if (zmq_errno () == EHOSTUNREACH && zclock_mono () < forward->parked_until) {
            forward->parked = true;
            zlistx_add_end (self->parked, forward);
        }
        else {
            s_forget_route (self, forward);
            s_refuse (self, forward, 503, "the node serving this session cannot be reached");
            s_finish (self, forward);
        }
    }
    zlistx_destroy (&waiting);
}

//  --------------------------------------------------------------------------
//  Nodes lost

static bool
s_is_request (json_t *message)
{
    return json_is_object (message) && json_object_get (message, "method")
        && json_object_get (message, "id");
}

//  True when a body holds a request (alone or in a batch): its sender
//  waits for an answer
static bool
s_holds_request (zmq_msg_t *body)
{
    json_t *message = json_loadb ((const char *) zmq_msg_data (body), zmq_msg_size (body), 0, NULL);
    bool holds = s_is_request (message);
    size_t index;
    json_t *item;
    json_array_foreach (message, index, item)
        holds |= s_is_request (item);
    json_decref (message);
    return holds;
}

//  Ends an HTTP stream forwarded for a client: its session is gone, or its node
static void
s_end_stream (link_t *self, forward_t *forward)
{
    zmq_msg_t answer [5];
    zmq_msg_init_size (&answer [0], 3);
    memcpy (zmq_msg_data (&answer [0]), "END", 3);
    zmq_msg_init (&answer [1]);
    zmq_msg_copy (&answer [1], &forward->peer);
    zmq_msg_init (&answer [2]);
    zmq_msg_copy (&answer [2], &forward->sid);
    zmq_msg_init (&answer [3]);
    zmq_msg_init_size (&answer [4], 7);
    memcpy (zmq_msg_data (&answer [4]), "session", 7);
    self->hooks.deliver (self->hooks.owner, answer);
    frames_close (answer, 5);
}

//  What a client is owed for a forward whose node was lost: 503 for what
//  waits for an answer, the end of an HTTP stream, nothing for a ZeroMQ
//  client's notifications.
static void
s_lost_forward (link_t *self, forward_t *forward)
{
    self->lost++;
    if (forward->stream) {
        s_end_stream (self, forward);
        return;
    }
    if (forward->swallow_ok && !s_holds_request (&forward->body))
        return;
    s_refuse (self, forward, 503, "the node serving this session was lost: retry");
}

//  Every frame forwarded to node and unanswered gets what it is owed, and
//  its sessions' next frames ask the store where they are.
static void
s_abandon (link_t *self, node_t *node)
{
    zlistx_t *ended = zlistx_new ();
    for (forward_t *forward = (forward_t *) zhashx_first (self->pending); forward && ended;
         forward = (forward_t *) zhashx_next (self->pending))
        if (forward->node == node)
            zlistx_add_end (ended, forward);
    for (forward_t *forward = ended? (forward_t *) zlistx_first (ended): NULL; forward;
         forward = (forward_t *) zlistx_next (ended)) {
        s_lost_forward (self, forward);
        s_finish (self, forward);
    }
    zlistx_purge (ended);
    for (route_t *route = (route_t *) zhashx_first (self->routes); route && ended;
         route = (route_t *) zhashx_next (self->routes))
        if (route->node == node)
            zlistx_add_end (ended, route->sid);
    for (char *sid = ended? (char *) zlistx_first (ended): NULL; sid; sid = (char *) zlistx_next (ended))
        zhashx_delete (self->routes, sid);
    zlistx_destroy (&ended);
}

static void
s_lose (link_t *self, node_t *node)
{
    log_warn (s_name, "node %s is lost (its lease lapsed): its sessions move", node->id);
    s_abandon (self, node);
    if (node->connected_at)
        zmq_disconnect (self->out_raw, node->endpoint);
    zhashx_delete (self->nodes, node->id);
}

//  A connection to a node came up, or broke. What went over a broken one
//  may or may not have been served, and no answer will come over it: its
//  frames get 503 now, not when the node's lease lapses. ZeroMQ connects
//  again by itself.
static bool
s_take_event (link_t *self)
{
    zmq_msg_t frames [2];
    int count;
    if (frames_recv (self->monitor, frames, 2, &count, ZMQ_DONTWAIT))
        return false;
    char endpoint [256];
    uint16_t event = 0;
    if (count == 2 && zmq_msg_size (&frames [0]) >= 2)
        memcpy (&event, zmq_msg_data (&frames [0]), 2);
    if (event && frames_text (&frames [1], endpoint, sizeof (endpoint)))
        for (node_t *node = (node_t *) zhashx_first (self->nodes); node;
             node = (node_t *) zhashx_next (self->nodes))
            if (streq (node->endpoint, endpoint)) {
                node->up = event == ZMQ_EVENT_CONNECTED;
                if (!node->up) {
                    log_info (s_name, "connection to node %s broke", node->id);
                    s_abandon (self, node);
                }
                break;
            }
    frames_close (frames, count < 2? count: 2);
    return true;
}

void
link_handle_monitor (link_t *self)
{
    for (int batch = 0; batch < BATCH && s_take_event (self); batch++)
        ;
}

void *
link_monitor (link_t *self)
{
    return self->monitor;
}

void
link_peers (link_t *self, const char *peers, int64_t asked_ms)
{
    json_t *list = json_loads (peers, 0, NULL);
    if (!json_is_array (list)) {
        json_decref (list);
        return;
    }
    zlistx_t *gone = zlistx_new ();
    for (node_t *node = (node_t *) zhashx_first (self->nodes); node && gone;
         node = (node_t *) zhashx_next (self->nodes)) {
        //  A node learnt after this list was asked for is not in it yet
        bool listed = node->known_since >= asked_ms;
        size_t index;
        json_t *item;
        json_array_foreach (list, index, item) {
            const char *id = json_string_value (json_array_get (item, 0));
            const char *incarnation = json_string_value (json_array_get (item, 2));
            if (!id || !incarnation || !streq (id, node->id))
                continue;
            //  The same name under a new process: the old one is lost
            if (*node->incarnation && !streq (node->incarnation, incarnation))
                break;
            snprintf (node->incarnation, sizeof (node->incarnation), "%s", incarnation);
            listed = true;
        }
        if (!listed)
            zlistx_add_end (gone, node);
    }
    for (node_t *node = gone? (node_t *) zlistx_first (gone): NULL; node;
         node = (node_t *) zlistx_next (gone))
        s_lose (self, node);
    zlistx_destroy (&gone);
    //  Connect to every live node now: a first forward then finds the
    //  connection up
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item) {
        const char *id = json_string_value (json_array_get (item, 0));
        const char *endpoint = json_string_value (json_array_get (item, 3));
        const char *incarnation = json_string_value (json_array_get (item, 2));
        if (id && endpoint && *endpoint && incarnation) {
            node_t *node = s_node (self, id, endpoint, true);
            if (node && !*node->incarnation)
                snprintf (node->incarnation, sizeof (node->incarnation), "%s", incarnation);
        }
    }
    json_decref (list);
}

void
link_request_ended (link_t *self, zmq_msg_t *peer)
{
    char key [65];
    size_t size = zmq_msg_size (peer);
    if (size == 0 || size * 2 >= sizeof (key))
        return;
    const unsigned char *bytes = (const unsigned char *) zmq_msg_data (peer);
    for (size_t index = 0; index < size; index++)
        sprintf (key + 2 * index, "%02x", bytes [index]);
    forward_t *forward = (forward_t *) zhashx_lookup (self->open_streams, key);
    if (forward)
        s_finish (self, forward);
}

size_t
link_owed (link_t *self)
{
    return zhashx_size (self->pending) - self->streams;
}

void
link_abandon_all (link_t *self)
{
    zlistx_t *all = zlistx_new ();
    for (forward_t *forward = (forward_t *) zhashx_first (self->pending); forward && all;
         forward = (forward_t *) zhashx_next (self->pending))
        zlistx_add_end (all, forward);
    for (forward_t *forward = all? (forward_t *) zlistx_first (all): NULL; forward;
         forward = (forward_t *) zlistx_next (all)) {
        s_lost_forward (self, forward);
        s_finish (self, forward);
    }
    zlistx_destroy (&all);
}

//  --------------------------------------------------------------------------
//  Start, stop, figures

json_t *
link_figures (link_t *self)
{
    json_t *nodes = json_array ();
    for (node_t *node = (node_t *) zhashx_first (self->nodes); node;
         node = (node_t *) zhashx_next (self->nodes))
        json_array_append_new (nodes, json_pack ("{s:s,s:s}", "id", node->id, "endpoint", node->endpoint));
    return json_pack ("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
        "listen", self->config->node_listen, "late", (json_int_t) self->late,
        "forwarded", (json_int_t) self->forwarded, "served", (json_int_t) self->served,
        "moved", (json_int_t) self->moved, "lost", (json_int_t) self->lost,
        "refused", (json_int_t) self->refused, "undeliverable", (json_int_t) self->undeliverable,
        "pending", (json_int_t) zhashx_size (self->pending), "held_bytes", (json_int_t) self->held,
        "routes", (json_int_t) zhashx_size (self->routes), "nodes", nodes);
}

void *
link_inbound (link_t *self)
{
    return self->in_raw;
}

void *
link_outbound (link_t *self)
{
    return self->out_raw;
}

//  Both sockets: a slow or vanished node must never block a send, and a
//  node that vanished without a word is noticed by ZeroMQ's heartbeats
static zsock_t *
s_socket (link_t *self)
{
    zsock_t *socket = zsock_new (ZMQ_ROUTER);
    if (!socket)
        return NULL;
    zsock_set_router_mandatory (socket, 1);
    zsock_set_sndtimeo (socket, 0);
    zsock_set_sndhwm (socket, self->config->peer_queue);
    zsock_set_rcvhwm (socket, self->config->peer_queue);
    zsock_set_linger (socket, 0);
    zsock_set_maxmsgsize (socket, 4 * (int64_t) self->config->max_message_size + 4096);
    zsock_set_heartbeat_ivl (socket, 1000);
    zsock_set_heartbeat_timeout (socket, 3000);
    zsock_set_reconnect_ivl (socket, 100);
    return socket;
}

link_t *
link_new (const config_t *config, const char *incarnation, link_hooks_t hooks,
          char *error, size_t error_size)
{
    link_t *self = (link_t *) calloc (1, sizeof (link_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->config = config;
    self->hooks = hooks;
    int longest = config->request_timeout;
    for (int index = 0; index < config->upstream_count; index++)
        if (config->upstreams [index].timeout_ms > longest)
            longest = config->upstreams [index].timeout_ms;
    self->deadline_ms = 2 * (int64_t) longest + 10000;
    snprintf (self->incarnation, sizeof (self->incarnation), "%s", incarnation);
    self->nodes = table_new (table_free, false);
    self->routes = table_new (table_free, false);
    self->pending = table_new ((zhashx_destructor_fn *) s_forward_destroy, true);
    self->parked = zlistx_new ();
    self->open_streams = table_new (NULL, false);
    self->out = s_socket (self);
    if (!self->nodes || !self->routes || !self->pending || !self->parked || !self->open_streams
    ||  !self->out) {
        snprintf (error, error_size, "out of memory");
        link_destroy (&self);
        return NULL;
    }
    zsock_set_identity (self->out, incarnation);
    self->out_raw = zsock_resolve (self->out);
    if (*config->node_curve_cert
    &&  zap_join (self->out, config->node_curve_cert, error, error_size)) {
        link_destroy (&self);
        return NULL;
    }
    char monitor [64];
    snprintf (monitor, sizeof (monitor), "inproc://mcpz-link-monitor-%p", (void *) self);
    self->monitor = zmq_socket (zsys_init (), ZMQ_PAIR);
    if (!self->monitor || zmq_socket_monitor (self->out_raw, monitor, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED)
    ||  zmq_connect (self->monitor, monitor)) {
        snprintf (error, error_size, "cannot watch the node link: %s", zmq_strerror (zmq_errno ()));
        link_destroy (&self);
        return NULL;
    }
    if (*config->node_listen) {
        self->in = s_socket (self);
        if (self->in) {
            //  A sender that restarted under the same name takes its place
            zsock_set_router_handover (self->in, 1);
            self->in_raw = zsock_resolve (self->in);
        }
        if (self->in && *config->node_curve_cert
        &&  zap_serve (self->in, config->node_curve_cert, ZAP_DOMAIN_NODES, error, error_size)) {
            link_destroy (&self);
            return NULL;
        }
        if (!self->in || zsock_bind (self->in, "%s", config->node_listen) == -1) {
            snprintf (error, error_size, "--node-listen %s: %s", config->node_listen,
                      zmq_strerror (zmq_errno ()));
            link_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
link_destroy (link_t **self_p)
{
    if (*self_p) {
        link_t *self = *self_p;
        zlistx_destroy (&self->parked);
        zhashx_destroy (&self->open_streams);
        zhashx_destroy (&self->pending);
        zhashx_destroy (&self->routes);
        zhashx_destroy (&self->nodes);
        zsock_destroy (&self->in);
        if (self->out_raw)
            zmq_socket_monitor (self->out_raw, NULL, 0);
        if (self->monitor)
            zmq_close (self->monitor);
        zsock_destroy (&self->out);
        free (self);
        *self_p = NULL;
    }
}
