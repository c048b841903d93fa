/*  host — what every room of a session host shares: answering the client,
    counting a request's life, and the tables things in flight are kept in
    with their deadlines.

    Owns: nothing but the host's counters of phases, outcomes and refusals.
    Sends, on the host's pipe to the supervisor:
      MSG|OK|ERR  peer, session id, event id, body     for the client
    A MSG of a session gets its next event id and a place in the session's
    replay ring (bounded by --replay-events and --replay-bytes) for LISTEN.
*/
#include "actors/host/host.h"
#include "actors/host/replay.h"
#include "runtime/table.h"
#include "proto/jsonrpc.h"
#include "proto/mcpz.h"
#include "runtime/frames.h"
#include "runtime/log.h"

#include <inttypes.h>

const char *const host_phase_names [PHASES] = {
    "received", "queued", "answered", "timed_out", "cancelled", "refused"
};

const char *const host_outcome_names [OUTCOMES] = {
    "ok", "error", "refused", "timeout", "cancelled"
};

const int host_statuses [STATUSES] = { 400, 404, 413, 429, 503 };

static void
s_free (void *data, void *hint)
{
    free (data);
}

uint64_t
host_stream_tag (zmq_msg_t *peer)
{
    //  FNV-1a: a peer is a handful of bytes, collisions within one session
    //  are what matters, and they are 2^-64 unlikely
    uint64_t hash = 14695981039346656037ULL;
    const unsigned char *bytes = (const unsigned char *) zmq_msg_data (peer);
    size_t size = zmq_msg_size (peer);
    for (size_t index = 0; index < size; index++)
        hash = (hash ^ bytes [index]) * 1099511628211ULL;
    return hash;
}

//  Keeps a copy of frame as the session's next event, tagged with the
//  stream (peer) it goes to; writes its id.
static void
s_keep_event (host_t *self, session_t *session, zmq_msg_t *peer, zmq_msg_t *frame,
              char *event_text, size_t size)
{
    uint64_t event = session_next_event (session);
    snprintf (event_text, size, "%" PRIu64, event);
    if (!session->ring)
        session->ring = ring_new ();
    size_t bytes = session->ring? ring_bytes (session->ring): 0;
    size_t events = session->ring? ring_size (session->ring): 0;
    int evicted = session->ring? ring_add (session->ring, event, peer? host_stream_tag (peer): 0, frame,
                                           (size_t) self->config->replay_events,
                                           (size_t) self->config->replay_bytes): -1;
    if (evicted >= 0)
        replay_kept (self, session, event, bytes, events);
    if (evicted > 0)
        self->evicted += (uint64_t) evicted;
    else
    if (evicted < 0)
        log_warn (self->name, "session %s: no memory to keep event %s for replay",
                  session->id, event_text);
}

void
host_send (host_t *self, const char *kind, zmq_msg_t *peer, const char *sid,
           session_t *session, char *body, size_t size)
{
    zmq_msg_t frame;
    if (!body || zmq_msg_init_data (&frame, body, size, s_free, NULL)) {
        free (body);
        log_error (self->name, "out of memory building an answer");
        return;
    }
    char event_text [24] = "";
    if (session)
        s_keep_event (self, session, peer, &frame, event_text, sizeof (event_text));
    if (!peer) {
        zmq_msg_close (&frame);     //  kept for replay only
        return;
    }
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, peer);
    frames_send_text (self->raw, kind, ZMQ_SNDMORE);
    zmq_msg_send (&copy, self->raw, ZMQ_SNDMORE);
    frames_send_text (self->raw, sid, ZMQ_SNDMORE);
    frames_send_text (self->raw, event_text, ZMQ_SNDMORE);
    zmq_msg_send (&frame, self->raw, 0);
}

void
host_notify (host_t *self, session_t *session, char *body, size_t size)
{
    if (session->listener || !session->last_peer_size) {
        host_send (self, "MSG", session->listener, session->id, session, body, size);
        return;
    }
    zmq_msg_t peer;
    zmq_msg_init_size (&peer, session->last_peer_size);
    memcpy (zmq_msg_data (&peer), session->last_peer, session->last_peer_size);
    host_send (self, "MSG", &peer, session->id, session, body, size);
    zmq_msg_close (&peer);
}

void
host_end (host_t *self, zmq_msg_t *peer, const char *sid)
{
    host_send (self, "END", peer, sid, NULL, strdup (""), 0);
}

void
host_phase (host_t *self, phase_t phase, const char *sid, json_t *id, int64_t since)
{
    self->phases [phase]++;
    if (!log_enabled (LEVEL_DEBUG))
        return;
    char *id_text = id? json_dumps (id, JSON_ENCODE_ANY): NULL;
    log_debug (self->name, "request %s/%s %s after %" PRId64 " us", sid,
               id_text? id_text: "null", host_phase_names [phase],
               since? zclock_usecs () - since: 0);
    free (id_text);
}

void
host_outcome (host_t *self, method_t method, outcome_t outcome, int64_t received)
{
    self->outcomes [method][outcome]++;
    if ((outcome == OUTCOME_OK || outcome == OUTCOME_ERROR) && received)
        histogram_observe (&self->latency [method], (double) (zclock_usecs () - received) / 1e6);
}

//  An answer, to its peer or into the batch being answered.
static void
s_answer (host_t *self, session_t *session, zmq_msg_t *peer, char *body, size_t size)
{
    if (self->collecting) {
        if (body)
            batch_add (self->collecting, body, size);
        free (body);
    }
    else
        host_send (self, "ANS", peer, session->id, session, body, size);
}

void
host_answer_result (host_t *self, session_t *session, zmq_msg_t *peer,
                    json_t *id, const char *result)
{
    size_t size;
    char *body = jsonrpc_encode_result (id, result, &size);
    s_answer (self, session, peer, body, size);
}

void
host_answer_error (host_t *self, session_t *session, zmq_msg_t *peer,
                   json_t *id, int code, const char *message)
{
    size_t size;
    char *body = jsonrpc_encode_error (id, code, message, &size);
    self->errors++;
    s_answer (self, session, peer, body, size);
}

void
host_refuse (host_t *self, zmq_msg_t *peer, const char *sid, int status,
             const char *message, json_t *id, int retry_after_ms)
{
    size_t size;
    char *body = mcpz_err_body (status, message, id, retry_after_ms, &size);
    self->errors++;
    if (status == 503 || status == 429)
        self->overloads++;
    for (int index = 0; index < STATUSES; index++)
        if (host_statuses [index] == status)
            self->refusals [index]++;
    if (id)
        host_phase (self, PHASE_REFUSED, sid, id, 0);
    if (self->collecting && id) {
        free (body);
        body = jsonrpc_encode_error (id, status == 429 || status == 503? -32000: JSONRPC_INVALID_REQUEST,
                                     message, &size);
        if (body)
            batch_add (self->collecting, body, size);
        free (body);
        return;
    }
    host_send (self, "ERR", peer, sid, NULL, body, size);
}

void
host_refuse_body (host_t *self, zmq_msg_t *peer, const char *sid, int status,
                  const char *message, zmq_msg_t *body, int retry_after_ms)
{
    json_t *id = mcpz_body_id (zmq_msg_data (body), zmq_msg_size (body));
    host_refuse (self, peer, sid, status, message, id, retry_after_ms);
    json_decref (id);
}

bool
host_reply_start (host_t *self, void *socket, const char *command, zmq_msg_t *tag)
{
    if (zmq_send (socket, command, strlen (command), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return false;
    zmq_msg_send (tag, socket, ZMQ_SNDMORE);
    return true;
}

int
host_tracking_new (zhashx_t **items_p, zhashx_destructor_fn *destructor,
                   zhashx_t **index_p, heap_t **deadlines_p)
{
    *items_p = table_new (destructor, true);
    *index_p = table_new (NULL, false);
    *deadlines_p = heap_new ();
    return *items_p && *index_p && *deadlines_p? 0: -1;
}

void *
host_tracked (zhashx_t *items, zmq_msg_t *frame)
{
    uint64_t key;
    if (zmq_msg_size (frame) != sizeof (key))
        return NULL;
    memcpy (&key, zmq_msg_data (frame), sizeof (key));
    return zhashx_lookup (items, &key);
}

long
host_expire (host_t *self, heap_t *deadlines, void (*expired) (host_t *self, heap_node_t *node))
{
    int64_t now = zclock_mono ();
    heap_node_t *node;
    while ((node = heap_first (deadlines)) && node->deadline <= now)
        expired (self, node);
    node = heap_first (deadlines);
    return node? (long) (node->deadline - now): -1;
}

void
host_tracking_destroy (zhashx_t **items_p, zhashx_t **index_p, heap_t **deadlines_p)
{
    zhashx_destroy (index_p);
    zhashx_destroy (items_p);
    heap_destroy (deadlines_p);
}
