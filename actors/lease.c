/*  lease — an actor that keeps this node's lease in the store.

    A session's lease is its row's owner and epoch together with that
    owner's lease_until in the nodes table: one heartbeat every third of
    --lease-ms renews the leases of all the node's sessions at once, never
    a write per session or per message. Another node may claim a session
    only once its owner's lease_until has passed by the store's clock.

    This node stops serving before that can happen: its lease lapses here
    a margin before the store's expiry, counted from when the last
    heartbeat the store took was sent (the store's expiry is later than
    that by at least the lease). Then the supervisor fences the hosts:
    they end every session and claim nothing until the lease is held again.

    Owns: the lease's state, when it lapses here, the live nodes as last seen.
    Sends to DB workers (DEALER, round-robin):
      HEARTBEAT tag, incarnation, endpoint, started-ms, lease-ms
      RELEASE tag, incarnation                 (at $TERM)
    Takes their answers: tag (monotonic ms it was sent), OK peers | TAKEN
    | ERR reason.
    Sends on its pipe: LEASE held|lost|taken, valid-until (monotonic ms,
    0 unless held) at each renewal and each change; PEERS asked-ms, JSON.
*/
#include "actors/lease.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/log.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netdb.h>

typedef enum { HELD, LOST, TAKEN } state_t;

static const char *const s_states [] = { "held", "lost", "taken" };

typedef struct {
    zsock_t *pipe;
    zsock_t *db;
    void *db_raw;
    lease_args_t args;
    int lease_ms, every_ms, margin_ms;
    int64_t valid_until;        //  monotonic ms: past it this node serves nothing
    int64_t next_beat;          //  monotonic ms of the next heartbeat
    state_t state;
    char *peers;                //  the live nodes as last sent on
    bool failing;               //  the last heartbeat failed (logged once)
} lease_t;

static const char *const s_name = "lease";

int
lease_heartbeat_ms (int lease_ms)
{
    return lease_ms / 3;
}

int
lease_margin_ms (int lease_ms)
{
    //  Covers the hosts' queues: a fence must reach them before another
    //  node may claim
    return lease_ms / 6;
}

//  The lease as it is now, to the supervisor, which hands the hosts when
//  it lapses: they stop serving then by their own clock, whatever waits in
//  their queues
static void
s_tell (lease_t *self)
{
    char until [24];
    snprintf (until, sizeof (until), "%" PRId64, self->state == HELD? self->valid_until: 0);
    //  Never dropped: the supervisor always reads its pipe
    zstr_sendx (self->pipe, "LEASE", s_states [self->state], until, NULL);
}

static void
s_state (lease_t *self, state_t state)
{
    bool changed = state != self->state;
    self->state = state;
    s_tell (self);
    if (!changed)
        return;
    if (state == LOST)
        log_warn (s_name, "lease of node %s lapsed: not renewed within %d ms; sessions here "
                  "end and other nodes may take them", self->args.config->node_id,
                  self->lease_ms - self->margin_ms);
    else
    if (state == TAKEN)
        log_error (s_name, "node id %s is held by another live process: this one serves nothing",
                   self->args.config->node_id);
    else
        log_info (s_name, "lease of node %s held", self->args.config->node_id);
}

static void
s_beat (lease_t *self)
{
    int64_t now = zclock_mono ();
    self->next_beat = now + self->every_ms;
    char tag [24], started [24], lease [16];
    snprintf (tag, sizeof (tag), "%" PRId64, now);
    snprintf (started, sizeof (started), "%" PRId64, self->args.started_ms);
    snprintf (lease, sizeof (lease), "%d", self->lease_ms);
    if (zmq_send (self->db_raw, "HEARTBEAT", 9, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return;                 //  every worker is full: the next beat tries again
    frames_send_text (self->db_raw, tag, ZMQ_SNDMORE);
    frames_send_text (self->db_raw, self->args.incarnation, ZMQ_SNDMORE);
    frames_send_text (self->db_raw, self->args.endpoint, ZMQ_SNDMORE);
    frames_send_text (self->db_raw, started, ZMQ_SNDMORE);
    frames_send_text (self->db_raw, lease, 0);
}

//  tcp://HOST:PORT with HOST resolved to an address (into buffer), so the
//  link connects to, and hears ZeroMQ's events about, one address. Here,
//  off the supervisor's thread: a name lookup may take its time. A name
//  that does not resolve is left as it is.
static void
s_resolve (const char *endpoint, char *buffer, size_t size)
{
    snprintf (buffer, size, "%s", endpoint);
    const char *host = strncmp (endpoint, "tcp://", 6) == 0? endpoint + 6: NULL;
    const char *colon = host? strrchr (host, ':'): NULL;
    if (!colon || *host == '[' || colon - host >= 256)
        return;
    char name [256];
    memcpy (name, host, (size_t) (colon - host));
    name [colon - host] = 0;
    struct in_addr address;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *found = NULL;
    if (inet_pton (AF_INET, name, &address) == 1 || getaddrinfo (name, NULL, &hints, &found))
        return;
    char text [INET6_ADDRSTRLEN] = "";
    bool v4 = found->ai_family == AF_INET;
    if (v4)
        inet_ntop (AF_INET, &((struct sockaddr_in *) found->ai_addr)->sin_addr, text, sizeof (text));
    else
        inet_ntop (AF_INET6, &((struct sockaddr_in6 *) found->ai_addr)->sin6_addr, text, sizeof (text));
    freeaddrinfo (found);
    if (*text)
        snprintf (buffer, size, v4? "tcp://%s%s": "tcp://[%s]%s", text, colon);
}

//  The live nodes as the store lists them, each with its endpoint resolved
static char *
s_resolved (zmq_msg_t *frame)
{
    json_t *list = json_loadb ((const char *) zmq_msg_data (frame), zmq_msg_size (frame), 0, NULL);
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item) {
        char address [300];
        const char *endpoint = json_string_value (json_array_get (item, 1));
        s_resolve (endpoint? endpoint: "", address, sizeof (address));
        json_array_append_new (item, json_string (address));
    }
    char *text = list? json_dumps (list, JSON_COMPACT): NULL;
    json_decref (list);
    return text;
}

static void
s_peers (lease_t *self, const char *tag, zmq_msg_t *frame)
{
    char *peers = s_resolved (frame);
    if (!peers || (self->peers && streq (peers, self->peers))) {
        free (peers);
        return;
    }
    if (frames_send_strings (zsock_resolve (self->pipe), "PEERS", tag, peers, NULL) == 0) {
        free (self->peers);
        self->peers = peers;
    }
    else
        free (peers);
}

static void
s_answer (lease_t *self)
{
    zmq_msg_t frames [3];
    int count;
    if (frames_recv (self->db_raw, frames, 3, &count, ZMQ_DONTWAIT))
        return;
    char tag [24] = "";
    int64_t sent = count >= 2 && frames_text (&frames [0], tag, sizeof (tag))? strtoll (tag, NULL, 10): 0;
    if (sent && count == 3 && frames_is (&frames [1], "OK")) {
        if (sent + self->lease_ms - self->margin_ms > self->valid_until)
            self->valid_until = sent + self->lease_ms - self->margin_ms;
        if (self->failing)
            log_info (s_name, "heartbeats reach the store again");
        self->failing = false;
        if (zclock_mono () < self->valid_until)
            s_state (self, HELD);
        s_peers (self, tag, &frames [2]);
    }
    else
    if (sent && count == 2 && frames_is (&frames [1], "TAKEN"))
        s_state (self, TAKEN);
    else
    if (sent && !self->failing) {
        char reason [256] = "";
        if (count == 3)
            frames_text (&frames [2], reason, sizeof (reason));
        log_warn (s_name, "heartbeat failed: %s", reason);
        self->failing = true;
    }
    frames_close (frames, count < 3? count: 3);
}

//  Gives the lease up: other nodes take this node's sessions at once
static void
s_release (lease_t *self)
{
    if (self->state != HELD)
        return;
    if (zmq_send (self->db_raw, "RELEASE", 7, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return;
    frames_send_text (self->db_raw, "0", ZMQ_SNDMORE);
    frames_send_text (self->db_raw, self->args.incarnation, 0);
    int64_t deadline = zclock_mono () + self->args.config->store_timeout;
    while (zclock_mono () < deadline) {
        zmq_pollitem_t item = { self->db_raw, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) (deadline - zclock_mono ())) <= 0)
            break;
        zmq_msg_t frames [3];
        int count;
        if (frames_recv (self->db_raw, frames, 3, &count, ZMQ_DONTWAIT))
            continue;
        bool done = count >= 2 && frames_is (&frames [0], "0");
        if (done)
            log_info (s_name, "lease of node %s given up: %s", self->args.config->node_id,
                      frames_is (&frames [1], "OK")? "its sessions may move at once": "the store did not take it");
        frames_close (frames, count < 3? count: 3);
        if (done)
            return;
    }
}

static int
s_setup (lease_t *self)
{
    self->lease_ms = self->args.config->lease_ms;
    self->every_ms = lease_heartbeat_ms (self->lease_ms);
    self->margin_ms = lease_margin_ms (self->lease_ms);
    self->valid_until = self->args.leased_at + self->lease_ms - self->margin_ms;
    self->next_beat = self->args.leased_at + self->every_ms;
    self->state = HELD;
    self->db = zsock_new (ZMQ_DEALER);
    if (!self->db)
        return -1;
    for (int index = 0; index < self->args.db_count; index++)
        if (zsock_connect (self->db, "%s", self->args.db_endpoints [index]) == -1)
            return -1;
    self->db_raw = zsock_resolve (self->db);
    return 0;
}

void
lease_actor (zsock_t *pipe, void *args)
{
    lease_t self = { .pipe = pipe, .args = *(lease_args_t *) args };
    if (s_setup (&self)) {
        zsock_destroy (&self.db);
        actor_ready (pipe, "cannot start the lease actor");
        return;
    }
    actor_ready (pipe, NULL);
    zmq_pollitem_t items [] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { self.db_raw, 0, ZMQ_POLLIN, 0 }
    };
    bool terminated = false;
    while (!terminated) {
        int64_t now = zclock_mono ();
        int64_t wake = self.next_beat;
        if (self.state == HELD && self.valid_until < wake)
            wake = self.valid_until;
        if (zmq_poll (items, 2, wake > now? (long) (wake - now): 0) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN)
            terminated = actor_told_to_stop (pipe);
        while (!terminated && (items [1].revents & ZMQ_POLLIN) && frames_ready (self.db_raw))
            s_answer (&self);
        now = zclock_mono ();
        if (self.state == HELD && now >= self.valid_until)
            s_state (&self, LOST);
        if (now >= self.next_beat)
            s_beat (&self);
    }
    s_release (&self);
    free (self.peers);
    zsock_destroy (&self.db);
}

int
lease_take (const config_t *config, const char *incarnation, const char *endpoint,
            int64_t started_ms, int64_t *leased_at, char *error, size_t error_size)
{
    //  Started beside its database (a container), a node may come first
    int64_t wait_until = zclock_mono () + (int64_t) config->store_wait * 1000;
    store_t *store;
    bool waiting = false;
    while (!(store = store_open (config->store, config->node_id, config->store_timeout, NULL,
                                 error, error_size)) && zclock_mono () < wait_until) {
        if (!waiting)
            log_info (s_name, "waiting up to %d s for the store: %s", config->store_wait, error);
        waiting = true;
        zclock_sleep (500);
    }
    if (!store)
        return -1;
    //  An earlier process of this node that died holds the lease until it
    //  lapses; one still alive renews it, and this one must not start
    int64_t give_up = zclock_mono () + config->lease_ms + lease_heartbeat_ms (config->lease_ms);
    int rc;
    bool told = false;
    while (true) {
        *leased_at = zclock_mono ();
        store_node_t *peers;
        size_t count;
        rc = store_heartbeat (store, incarnation, endpoint, started_ms, config->lease_ms, &peers, &count);
        free (peers);
        if (rc != 1 || zclock_mono () >= give_up)
            break;
        if (!told)
            log_info (s_name, "node id %s is leased to an earlier process: waiting up to %d ms for it "
                      "to lapse", config->node_id, config->lease_ms);
        told = true;
        zclock_sleep (lease_heartbeat_ms (config->lease_ms) / 2);
    }
    if (rc < 0)
        snprintf (error, error_size, "--store %s: cannot take this node's lease: %s", config->store,
                  store_error (store));
    else
    if (rc == 1)
        snprintf (error, error_size, "--node-id %s: another live mcpzd holds this node id",
                  config->node_id);
    store_destroy (&store);
    return rc? -1: 0;
}
