/*  lifecycle — how a session opens, replays and ends on its host.

    Owns: nothing of its own; it creates and removes entries of the host's
    session table.
    Takes from the host's routing: NEW (initialize), CLOSE and LISTEN frames.
    Sends to the client, through host.c: the initialize answer (after the
    row is written, with a store: ops.c), OK after CLOSE (after the row is
    deleted, with a store), and for LISTEN every kept event newer than the
    client's with its own event id, then OK.
*/
#include "actors/host/lifecycle.h"
#include "actors/host/calls.h"
#include "actors/host/host.h"
#include "actors/host/ops.h"
#include "actors/host/replay.h"
#include "proto/mcp.h"
#include "runtime/frames.h"
#include "runtime/log.h"

#include <inttypes.h>
#include <sodium.h>

//  Sessions one client holds on this host
typedef struct {
    uint64_t key;               //  session.opener; the table's key
    size_t sessions;
} opener_t;

//  Who opens a session, hashed with this host's secret key so no client
//  can pick a value that counts against another: the principal the front
//  authenticated, else the peer (one connection, or one HTTP request).
uint64_t
lifecycle_opener (host_t *self, zmq_msg_t *peer, zmq_msg_t *principal)
{
    bool named = zmq_msg_size (principal) > 0;
    zmq_msg_t *who = named? principal: peer;
    unsigned char text [1 + MCPZ_PRINCIPAL_MAX];
    size_t size = zmq_msg_size (who) < MCPZ_PRINCIPAL_MAX? zmq_msg_size (who): MCPZ_PRINCIPAL_MAX;
    text [0] = named? 'p': 'c';
    memcpy (text + 1, zmq_msg_data (who), size);
    uint64_t key;
    crypto_shorthash ((unsigned char *) &key, text, size + 1, self->opener_key);
    return key? key: 1;
}

void
lifecycle_count (host_t *self, session_t *session, uint64_t opener)
{
    opener_t *counted = (opener_t *) zhashx_lookup (self->openers, &opener);
    if (!counted && (counted = (opener_t *) calloc (1, sizeof (opener_t)))) {
        counted->key = opener;
        zhashx_insert (self->openers, &counted->key, counted);
    }
    if (counted) {
        counted->sessions++;
        session->opener = opener;
    }
}

void
lifecycle_uncount (host_t *self, session_t *session)
{
    replay_forget (self, session);
    opener_t *counted = session->opener?
                        (opener_t *) zhashx_lookup (self->openers, &session->opener): NULL;
    if (counted && --counted->sessions == 0)
        zhashx_delete (self->openers, &session->opener);
    session->opener = 0;
}

static bool
s_client_at_cap (host_t *self, uint64_t opener)
{
    opener_t *counted = (opener_t *) zhashx_lookup (self->openers, &opener);
    return counted && counted->sessions >= self->max_client_sessions;
}

void
lifecycle_opened (host_t *self, session_t *session, zmq_msg_t *peer, json_t *id,
                  int64_t received)
{
    self->opened++;
    host_outcome (self, METHOD_INITIALIZE, OUTCOME_OK, received);
    char *result = mcp_init_result (session->version, self->capabilities);
    host_answer_result (self, session, peer, id, result);
    free (result);
    log_debug (self->name, "session %s opened, version %s", session->id,
               mcp_versions [session->version]);
}

//  A valid initialize: a new session, answered now or once its row is
//  written. init's fields move to the session.
static void
s_create (host_t *self, zmq_msg_t *peer, const char *sid, json_t *id, mcp_init_t *init,
          const char *principal, uint64_t opener, int64_t received)
{
    session_t *session = session_new (sid, init->version, init->client_info,
                                      init->capabilities, 0, zclock_mono ());
    init->client_info = init->capabilities = NULL;
    self->requests++;
    if (session && session_set_principal (session, principal))
        session_destroy (&session);
    if (!session || zhashx_insert (self->sessions, session->id, session)) {
        session_destroy (&session);
        host_refuse (self, peer, "", 503, "cannot create a session now", id, RETRY_QUEUE_MS);
        return;
    }
    lifecycle_count (self, session, opener);
    if (!self->db)
        lifecycle_opened (self, session, peer, id, received);
    else
    if (ops_persist (self, session, peer, id, received)) {
        lifecycle_uncount (self, session);
        zhashx_delete (self->sessions, sid);
        host_refuse (self, peer, "", 503, "store queue is full", id, RETRY_QUEUE_MS);
    }
}

void
lifecycle_open (host_t *self, zmq_msg_t *peer, const char *sid, zmq_msg_t *body,
                zmq_msg_t *principal)
{
    int64_t received = zclock_usecs ();
    int code;
    const char *reason;
    json_t *id = NULL;
    jsonrpc_t *msg = jsonrpc_parse (zmq_msg_data (body), zmq_msg_size (body),
                                    &code, &reason, &id);
    mcp_init_t init = { 0 };
    uint64_t errors = self->errors;
    if (msg) {
        id = json_incref (jsonrpc_id (msg));
        if (jsonrpc_kind (msg) != JSONRPC_REQUEST
        ||  !streq (jsonrpc_method (msg), "initialize"))
            reason = "no session id: a session starts with an initialize request";
        else
        if (mcp_init_parse (jsonrpc_params (msg), &init, &reason) == 0)
            reason = NULL;
    }
    if (reason)
        host_refuse (self, peer, "", 400, reason, id, -1);
    else
    if (zhashx_size (self->sessions) >= self->max_sessions)
        host_refuse (self, peer, "", 503, "session cap reached", id, RETRY_CAP_MS);
    else
    if (s_client_at_cap (self, lifecycle_opener (self, peer, principal))) {
        self->client_caps++;
        host_refuse (self, peer, "", 429, "this client holds its most sessions (--max-client-sessions)",
                     id, RETRY_CAP_MS);
    }
    else {
        char *who = frames_strdup (principal);
        if (who)
            s_create (self, peer, sid, id, &init, who, lifecycle_opener (self, peer, principal), received);
        else
            host_refuse (self, peer, "", 503, "cannot create a session now", id, RETRY_QUEUE_MS);
        free (who);
    }
    if (self->errors != errors)
        host_outcome (self, METHOD_INITIALIZE, OUTCOME_REFUSED, 0);
    mcp_init_clear (&init);
    json_decref (id);
    jsonrpc_destroy (&msg);
}

void
lifecycle_end (host_t *self, session_t *session)
{
    char sid [MCPZ_SID_SIZE + 1];
    memcpy (sid, session->id, sizeof (sid));
    calls_end_session (self, session, 404, "session closed");
    //  Its streams end with it ("session": all of them, not one response)
    if (session->listener)
        host_send (self, "END", session->listener, sid, NULL, strdup ("session"), 7);
    lifecycle_uncount (self, session);
    zhashx_delete (self->sessions, sid);
}

void
lifecycle_lease (host_t *self, int64_t until)
{
    self->lease_until = until;
    lifecycle_fence (self, zclock_mono () >= until);
}

void
lifecycle_fence (host_t *self, bool fenced)
{
    if (fenced == self->fenced)
        return;
    self->fenced = fenced;
    if (fenced)
        self->fence_count++;
    if (!fenced) {
        log_info (self->name, "this node holds its lease again: sessions are served");
        return;
    }
    //  Another node may claim them once the lease lapses in the store:
    //  nothing more of them is served here, their rows stay for the owner
    //  to come
    //  Sessions whose row is being written or deleted end when it is
    zlistx_t *all = zlistx_new ();
    for (session_t *session = (session_t *) zhashx_first (self->sessions); session && all;
         session = (session_t *) zhashx_next (self->sessions))
        if (session_live (session))
            zlistx_add_end (all, session);
    size_t count = all? zlistx_size (all): 0;
    for (session_t *session = all? (session_t *) zlistx_first (all): NULL; session;
         session = (session_t *) zlistx_next (all)) {
        calls_end_session (self, session, 503, "this node lost its lease on the session: retry");
        lifecycle_end (self, session);
    }
    zlistx_destroy (&all);
    self->fenced_drops += count;
    log_warn (self->name, "this node lost its lease: %zu sessions left to other nodes", count);
}

void
lifecycle_close (host_t *self, zmq_msg_t *peer, session_t *session)
{
    if (self->db) {
        //  The row goes first: a closed session must never come back
        if (ops_delete (self, session, peer, NULL))
            host_refuse (self, peer, session->id, 503, "store queue is full", NULL, RETRY_QUEUE_MS);
        return;
    }
    char sid [MCPZ_SID_SIZE + 1];
    memcpy (sid, session->id, sizeof (sid));
    lifecycle_end (self, session);
    self->closed++;
    host_send (self, "OK", peer, sid, NULL, strdup ("{}"), 2);
    log_debug (self->name, "session %s closed", sid);
}

//  Re-sends one kept event to the LISTEN peer, with its own event id.
typedef struct {
    host_t *host;
    zmq_msg_t *peer;
    const char *sid;
} resend_t;

static void
s_replay_one (void *arg, uint64_t event_id, zmq_msg_t *body)
{
    resend_t *replay = (resend_t *) arg;
    void *socket = replay->host->raw;
    char event_text [24];
    snprintf (event_text, sizeof (event_text), "%" PRIu64, event_id);
    zmq_msg_t peer, copy;
    zmq_msg_init (&peer);
    zmq_msg_copy (&peer, replay->peer);
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, body);
    frames_send_text (socket, "MSG", ZMQ_SNDMORE);
    zmq_msg_send (&peer, socket, ZMQ_SNDMORE);
    frames_send_text (socket, replay->sid, ZMQ_SNDMORE);
    frames_send_text (socket, event_text, ZMQ_SNDMORE);
    zmq_msg_send (&copy, socket, 0);
}

//  The event id a LISTEN or RESUME body names: 0 for an empty body, -1
//  with an ERR 400 sent for one that is not a decimal number.
static int
s_event_id (host_t *self, zmq_msg_t *peer, session_t *session, zmq_msg_t *body,
            uint64_t *after_p)
{
    char text [24] = "0";
    char *end = NULL;
    errno = 0;
    if (zmq_msg_size (body) > 0
    && (!frames_text (body, text, sizeof (text)) || text [0] < '0' || text [0] > '9'
        || (strtoull (text, &end, 10), *end) || errno == ERANGE)) {
        host_refuse (self, peer, session->id, 400, "the body must be a decimal event id", NULL, -1);
        return -1;
    }
    *after_p = strtoull (text, NULL, 10);
    return 0;
}

//  Makes peer the listener and answers OK. "complete" says whether every
//  event after the client's was still kept.
static void
s_listening (host_t *self, zmq_msg_t *peer, session_t *session, size_t replayed, bool complete)
{
    if (session_set_listener (session, peer))
        log_warn (self->name, "session %s: no memory for its listener", session->id);
    char reply [128];
    snprintf (reply, sizeof (reply), "{\"last_event_id\":%" PRIu64 ",\"replayed\":%zu,"
              "\"complete\":%s}", session->event_id, replayed, complete? "true": "false");
    host_send (self, "OK", peer, session->id, NULL, strdup (reply), strlen (reply));
}

void
lifecycle_listen (host_t *self, zmq_msg_t *peer, session_t *session, zmq_msg_t *body)
{
    uint64_t after;
    if (s_event_id (self, peer, session, body, &after))
        return;
    resend_t replay = { self, peer, session->id };
    size_t replayed = session->ring? ring_replay (session->ring, after, s_replay_one, &replay): 0;
    uint64_t oldest = session->ring? ring_oldest (session->ring): 0;
    //  Complete when the ring reaches back to the event after the client's.
    //  After a resume the ring starts in a new epoch: what an earlier
    //  process sent is not kept, so an older id is never complete.
    s_listening (self, peer, session, replayed,
                 after >= session->event_id || (oldest && oldest <= after + 1));
}

void
lifecycle_resume (host_t *self, zmq_msg_t *peer, session_t *session, zmq_msg_t *body)
{
    uint64_t after = 0, stream = 0;
    if (zmq_msg_size (body) && s_event_id (self, peer, session, body, &after))
        return;
    resend_t replay = { self, peer, session->id };
    size_t replayed = after && session->ring?
        ring_replay_stream (session->ring, after, s_replay_one, &replay, &stream): 0;
    //  What the resumed stream's calls still send comes to the new peer
    if (stream)
        calls_retarget (self, session, stream, peer);
    //  An anchor: the stream's first event id, with no message, so a
    //  client can resume even a stream that has carried nothing yet
    host_send (self, "MSG", peer, session->id, session, strdup (""), 0);
    s_listening (self, peer, session, replayed, !after || stream || after >= session->event_id);
}
