/*  peers — see peers.h.

    Owns: a monitor of the router's connections, and per connection (by
    its descriptor) the bytes the supervisor took from it in whole
    messages and handed to libzmq for it.

    Why the kernel's counts: libzmq shows a message only once its last
    frame came, and counts its queues in messages, not bytes. A peer that
    sends frames with MORE set and never a last one grows a message
    nobody sees (1 MB frames took a process from 12 MB to 2.4 GB in 8 s),
    and one that never reads leaves up to --peer-queue answers of any size
    queued for it. TCP_INFO says what a connection received and what its
    peer acknowledged; against what passed through the supervisor, that is
    what libzmq holds for the peer. A connection past a bound is shut down
    (shutdown(2): libzmq sees the end and drops its queues; the descriptor
    stays libzmq's to close). ipc connections have no such counts: only
    local users with access to the socket file reach them.

    Why a cap on connections: libzmq 4.3 aborts when an ipc accept finds no
    descriptor left (tcp spins instead): the cap leaves descriptors free,
    and runtime/accept.c catches a burst that comes faster than the
    supervisor can shut connections past the cap.
*/
#include "actors/peers.h"
#include "runtime/frames.h"
#include "runtime/log.h"
#include "runtime/table.h"

#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define SWEEP_MS        250         //  how often connections' bytes are checked
#define HANDSHAKE_BYTES 65536       //  greetings, handshakes, heartbeats: not messages
#define FRAME_OVERHEAD  9           //  ZMTP's most per frame
#define RID_TEXT        (2 * 255 + 1)

static const char *const s_name = "peers";

//  Linux's TCP_INFO goes on past glibc's struct tcp_info (which CZMQ's
//  headers bring in, so linux/tcp.h cannot come too): these are its next
//  fields, in the kernel's order (Linux 4.1 and later)
typedef struct {
    struct tcp_info base;
    uint64_t pacing_rate, max_pacing_rate;
    uint64_t bytes_acked;       //  what the peer acknowledged of ours
    uint64_t bytes_received;    //  what came from the peer
} tcp_counts_t;

typedef struct {
    uint64_t fd;                //  the key
    uint64_t taken;             //  bytes of whole messages, with their framing
    uint64_t handed;            //  bytes handed to libzmq for it
    char *rid;                  //  its routing id (hex), once a message told it
    bool counted;               //  in self->open (its ACCEPTED was seen)
    bool dropped;               //  shut down: its DISCONNECTED is on the way
} peer_t;

struct _peers_t {
    void *router;
    void *monitor;              //  PAIR: the router's connection events
    peers_limits_t limits;
    zhashx_t *by_fd;            //  fd -> peer_t
    zhashx_t *by_rid;           //  routing id (hex) -> peer_t, owned by by_fd
    size_t open;
    int64_t next_sweep;
    uint64_t refused, dropped_inflight, dropped_unread;
    log_limit_t trouble;        //  drops, logged at most once a second
};

static void
s_peer_destroy (peer_t **peer_p)
{
    if (*peer_p) {
        free ((*peer_p)->rid);
        free (*peer_p);
        *peer_p = NULL;
    }
}

peers_t *
peers_new (void *router, peers_limits_t limits, char *error, size_t error_size)
{
    peers_t *self = (peers_t *) calloc (1, sizeof (peers_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->router = router;
    self->limits = limits;
    self->by_fd = table_new ((zhashx_destructor_fn *) s_peer_destroy, true);
    self->by_rid = zhashx_new ();
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://mcpz-peers-%p", (void *) self);
    self->monitor = zmq_socket (zsys_init (), ZMQ_PAIR);
    if (!self->by_fd || !self->by_rid || !self->monitor
    ||  zmq_socket_monitor (router, endpoint, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED)
    ||  zmq_connect (self->monitor, endpoint)) {
        snprintf (error, error_size, "cannot watch the client connections: %s", zmq_strerror (zmq_errno ()));
        peers_destroy (&self);
        return NULL;
    }
    zhashx_set_key_destructor (self->by_rid, NULL);
    zhashx_set_key_duplicator (self->by_rid, NULL);
    self->next_sweep = zclock_mono () + SWEEP_MS;
    return self;
}

void
peers_destroy (peers_t **self_p)
{
    if (*self_p) {
        peers_t *self = *self_p;
        if (self->monitor) {
            zmq_socket_monitor (self->router, NULL, 0);
            zmq_close (self->monitor);
        }
        zhashx_destroy (&self->by_rid);
        zhashx_destroy (&self->by_fd);
        free (self);
        *self_p = NULL;
    }
}

void *
peers_monitor (peers_t *self)
{
    return self->monitor;
}

static peer_t *
s_peer (peers_t *self, uint64_t fd)
{
    peer_t *peer = (peer_t *) zhashx_lookup (self->by_fd, &fd);
    if (!peer && (peer = (peer_t *) calloc (1, sizeof (peer_t)))) {
        peer->fd = fd;
        zhashx_insert (self->by_fd, &peer->fd, peer);
    }
    return peer;
}

static void
s_forget (peers_t *self, uint64_t fd)
{
    peer_t *peer = (peer_t *) zhashx_lookup (self->by_fd, &fd);
    if (!peer)
        return;
    if (peer->counted)
        self->open--;
    if (peer->rid)
        zhashx_delete (self->by_rid, peer->rid);
    zhashx_delete (self->by_fd, &fd);
}

static void
s_accepted (peers_t *self, uint64_t fd)
{
    if (self->open >= self->limits.max_connections) {
        //  Refused while it costs one descriptor, never the last one
        shutdown ((int) fd, SHUT_RDWR);
        self->refused++;
        return;
    }
    peer_t *peer = s_peer (self, fd);
    if (peer && !peer->counted) {
        peer->counted = true;
        self->open++;
    }
}

static bool
s_take_event (peers_t *self)
{
    zmq_msg_t frames [2];
    int count;
    if (frames_recv (self->monitor, frames, 2, &count, ZMQ_DONTWAIT))
        return false;
    if (count == 2 && zmq_msg_size (&frames [0]) >= 6) {
        uint16_t event;
        uint32_t value;
        memcpy (&event, zmq_msg_data (&frames [0]), 2);
        memcpy (&value, (char *) zmq_msg_data (&frames [0]) + 2, 4);
        if (event == ZMQ_EVENT_ACCEPTED)
            s_accepted (self, value);
        else
            s_forget (self, value);
    }
    frames_close (frames, count < 2? count: 2);
    return true;
}

void
peers_handle_monitor (peers_t *self)
{
    for (int batch = 0; batch < 256 && s_take_event (self); batch++)
        ;
}

static void
s_hex (zmq_msg_t *frame, char *text)
{
    static const char digits [] = "0123456789abcdef";
    const unsigned char *data = (const unsigned char *) zmq_msg_data (frame);
    size_t size = zmq_msg_size (frame) < 255? zmq_msg_size (frame): 255;
    for (size_t index = 0; index < size; index++) {
        text [2 * index] = digits [data [index] >> 4];
        text [2 * index + 1] = digits [data [index] & 15];
    }
    text [2 * size] = 0;
}

void
peers_received (peers_t *self, zmq_msg_t *frames, int count)
{
    int fd = zmq_msg_get (&frames [count - 1], ZMQ_SRCFD);
    peer_t *peer = fd >= 0? s_peer (self, (uint64_t) fd): NULL;
    if (!peer)
        return;
    for (int index = 1; index < count; index++)
        peer->taken += zmq_msg_size (&frames [index]) + FRAME_OVERHEAD;
    if (!peer->rid) {
        char rid [RID_TEXT];
        s_hex (&frames [0], rid);
        //  Another connection under the same routing id (a handover) is
        //  counted where it is now
        peer_t *before = (peer_t *) zhashx_lookup (self->by_rid, rid);
        if (before) {
            zhashx_delete (self->by_rid, rid);
            zstr_free (&before->rid);
        }
        if ((peer->rid = strdup (rid)))
            zhashx_insert (self->by_rid, peer->rid, peer);
    }
}

void
peers_sent (peers_t *self, zmq_msg_t *routing_id, size_t size)
{
    char rid [RID_TEXT];
    s_hex (routing_id, rid);
    peer_t *peer = (peer_t *) zhashx_lookup (self->by_rid, rid);
    if (peer)
        peer->handed += size;
}

long
peers_timeout (peers_t *self)
{
    int64_t left = self->next_sweep - zclock_mono ();
    return left > 0? (long) left: 0;
}

//  Which bound a TCP connection passed, or NULL
static const char *
s_past (peers_t *self, peer_t *peer)
{
    tcp_counts_t info;
    socklen_t size = sizeof (info);
    memset (&info, 0, sizeof (info));
    if (getsockopt ((int) peer->fd, IPPROTO_TCP, TCP_INFO, &info, &size)
    ||  size < sizeof (info))
        return NULL;            //  not TCP (ipc), or a kernel without the counts
    if (info.bytes_received > peer->taken + HANDSHAKE_BYTES + self->limits.inflight_bytes) {
        self->dropped_inflight++;
        return "sent more than --peer-inflight-bytes that never made a whole message";
    }
    if (peer->handed > info.bytes_acked + self->limits.queued_bytes) {
        self->dropped_unread++;
        return "left more than --peer-queue-bytes of answers unread";
    }
    return NULL;
}

void
peers_sweep (peers_t *self)
{
    int64_t now = zclock_mono ();
    if (now < self->next_sweep)
        return;
    self->next_sweep = now + SWEEP_MS;
    for (peer_t *peer = (peer_t *) zhashx_first (self->by_fd); peer;
         peer = (peer_t *) zhashx_next (self->by_fd)) {
        const char *why = peer->counted && !peer->dropped? s_past (self, peer): NULL;
        if (why) {
            log_limited (&self->trouble, LEVEL_WARN, s_name, "dropped a client connection that %s", why);
            //  Its DISCONNECTED event forgets it
            shutdown ((int) peer->fd, SHUT_RDWR);
            peer->dropped = true;
        }
    }
}

json_t *
peers_figures (peers_t *self)
{
    return json_pack ("{s:I,s:I,s:I,s:I,s:I}",
        "open", (json_int_t) self->open, "max", (json_int_t) self->limits.max_connections,
        "refused", (json_int_t) self->refused,
        "dropped_inflight", (json_int_t) self->dropped_inflight,
        "dropped_unread", (json_int_t) self->dropped_unread);
}
