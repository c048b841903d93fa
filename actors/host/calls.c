/*  calls — requests of a session host's sessions that providers answer
    (tools/call, resources/read, prompts/get, completion/complete), called
    calls here whatever they ask.

    Owns: the calls in flight on tool workers (call_t), their deadlines and
    their index by "session/request id" for notifications/cancelled.
    Sends to the tool pool (DEALER):
      CALL call-id, method, params JSON, timeout ms, trace;  CANCEL call-id;
      TELL call-id, JSON (asks.c)
    Takes from the tool pool:
      PROGRESS call-id, JSON;  LOG call-id, JSON;  ASK call-id, JSON (asks.c);
      DETACH call-id, "";  UPDATED call-id, uri;
      DONE call-id, result, code, message;  BUSY call-id
    Sends to the client, through host.c: the call's result or error,
    notifications/progress and notifications/message on the way.
    Sends to the supervisor: UPDATED "", "", "", uri (every host hears it).

    A call of a JSON-RPC batch answers into the batch (batch.c), which
    sends all its answers as one once the last is in.

    Inline tools (echo, add, fail) run here and answer at once. Every call
    on a worker has a deadline (the tool's own, else --request-timeout) in a
    heap; at the deadline the client gets -32001 whatever the worker is
    doing, the worker is told to stop, and a late result is dropped and
    counted. notifications/cancelled ends a call without an answer.
*/
#include "actors/host/calls.h"
#include "actors/host/asks.h"
#include "actors/host/host.h"
#include "actors/host/lists.h"
#include "actors/host/upstreams.h"
#include "proto/jsonw.h"
#include "proto/mcp.h"
#include "runtime/frames.h"
#include "runtime/log.h"

static void
s_call_destroy (call_t **call_p)
{
    if (*call_p) {
        json_decref ((*call_p)->id);
        json_decref ((*call_p)->progress_token);
        free ((*call_p)->key);
        zmq_msg_close (&(*call_p)->peer);
        free (*call_p);
        *call_p = NULL;
    }
}

int
calls_setup (host_t *self)
{
    //  by_request indexes the calls by their "sid/id" key
    return host_tracking_new (&self->calls, (zhashx_destructor_fn *) s_call_destroy,
                              &self->by_request, &self->timers);
}

//  Ends a call's bookkeeping: its timer, its cancellation key, its slot in
//  the session's in-flight count, and the call itself.
static void
s_call_end (host_t *self, call_t *call)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    if (session && session->inflight)
        session->inflight--;
    asks_end_call (self, call);
    batch_release (self, &call->batch);
    heap_remove (self->timers, &call->timer);
    zhashx_delete (self->by_request, call->key);
    zhashx_delete (self->calls, &call->call_id);
}

//  Tells the pool to stop a call, and ends it here; its worker's late
//  result is dropped.
static void
s_call_stop (host_t *self, call_t *call)
{
    if (zmq_send (call->socket, "CANCEL", 6, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 6)
        zmq_send (call->socket, &call->call_id, sizeof (call->call_id), 0);
    s_call_end (self, call);
}

//  notifications/message to the peer whose request logged, when the
//  session asked for this level or a lower one.
static void
s_relay_log (host_t *self, session_t *session, zmq_msg_t *peer,
             const char *level, const char *params)
{
    int wanted = mcp_log_level (level);
    if (!session || !session->log_level || wanted < 0 || wanted + 1 < session->log_level)
        return;
    size_t size;
    char *body = jsonrpc_encode_notification ("notifications/message", params, &size);
    host_send (self, "MSG", peer, session->id, session, body, size);
}

//  News for every host (the supervisor sends it to each, this one too)
static void
s_publish (host_t *self, const char *kind, const void *body, size_t size)
{
    frames_send_text (self->raw, kind, ZMQ_SNDMORE);
    frames_send_text (self->raw, "", ZMQ_SNDMORE);
    frames_send_text (self->raw, "", ZMQ_SNDMORE);
    frames_send_text (self->raw, "", ZMQ_SNDMORE);
    frames_send_copy (self->raw, body, size, 0);
}

//  Inline code logs straight to its caller
typedef struct {
    host_t *host;
    request_t *request;
} inline_t;

static void
s_inline_log (tool_call_t *call, const char *level, const char *logger, const char *message)
{
    inline_t *context = (inline_t *) call->runner;
    char *params = mcp_log_params (level, logger, message);
    if (params)
        s_relay_log (context->host, context->request->session, context->request->peer,
                     level, params);
    free (params);
}

//  Inline code may announce a resource change; it has no stream to detach
static void
s_inline_notify (tool_call_t *call, const char *what, const char *detail)
{
    inline_t *context = (inline_t *) call->runner;
    if (streq (what, "UPDATED"))
        s_publish (context->host, what, detail, strlen (detail));
}

static void
s_run_inline (host_t *self, request_t *request, tool_call_t *call, catalog_target_t *target)
{
    inline_t context = { self, request };
    call->log = s_inline_log;
    call->notify = s_inline_notify;
    call->runner = &context;
    target->run (call);
    catalog_check_output (call);
    if (call->result)
        host_answer_result (self, request->session, request->peer, request->id, call->result);
    else
        host_answer_error (self, request->session, request->peer, request->id,
                           call->error_code, call->error_message? call->error_message: "tool failed");
    tool_call_clear (call);
}

//  The key that notifications/cancelled names a request by. Caller frees.
static char *
s_request_key (const char *sid, json_t *id)
{
    char *id_text = json_dumps (id, JSON_ENCODE_ANY);
    char *key = NULL;
    if (id_text && asprintf (&key, "%s/%s", sid, id_text) < 0)
        key = NULL;
    free (id_text);
    return key;
}

//  Hands the call to the tool pool or an upstream (socket) without
//  waiting; a full queue is a 503. params go as they are.
static void
s_dispatch (host_t *self, request_t *request, method_t method, void *socket, json_t *params,
            int timeout_ms, json_t *token)
{
    session_t *session = request->session;
    if (session->inflight >= (uint32_t) self->config->max_inflight) {
        host_refuse (self, request->peer, session->id, 429, "too many requests in flight",
                     request->id, -1);
        return;
    }
    char *key = s_request_key (session->id, request->id);
    char *text = json_dumps (params, JSON_COMPACT);
    call_t *call = (call_t *) calloc (1, sizeof (call_t));
    if (!text || !call || !key) {
        free (text);
        free (call);
        free (key);
        host_answer_error (self, session, request->peer, request->id, JSONRPC_INTERNAL_ERROR,
                           "out of memory");
        return;
    }
    call->call_id = ++self->next_call;
    call->key = key;
    call->socket = socket;
    if (zmq_send (socket, "CALL", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        free (text);
        s_call_destroy (&call);
        host_refuse (self, request->peer, session->id, 503, socket == self->tools_raw?
                     "tool workers are saturated": "the upstream is saturated", request->id, RETRY_QUEUE_MS);
        return;
    }
    frames_send_copy (socket, &call->call_id, sizeof (call->call_id), ZMQ_SNDMORE);
    frames_send_text (socket, methods_name (method), ZMQ_SNDMORE);
    frames_send_owned (socket, text, strlen (text), ZMQ_SNDMORE);
    char timeout [16];
    snprintf (timeout, sizeof (timeout), "%d", timeout_ms > 0? timeout_ms: self->config->request_timeout);
    frames_send_text (socket, timeout, ZMQ_SNDMORE);
    frames_send_text (socket, key, 0);
    memcpy (call->sid, session->id, sizeof (call->sid));
    call->method = method;
    call->id = json_incref (request->id);
    call->progress_token = json_incref (token);
    call->received = request->received;
    call->timeout_ms = timeout_ms > 0? timeout_ms: self->config->request_timeout;
    call->timer.deadline = zclock_mono () + call->timeout_ms;
    zmq_msg_init (&call->peer);
    zmq_msg_copy (&call->peer, request->peer);
    if (self->collecting)
        call->batch = batch_ref (self->collecting);
    zhashx_insert (self->calls, &call->call_id, call);
    zhashx_insert (self->by_request, call->key, call);
    if (heap_push (self->timers, &call->timer))
        log_error (self->name, "no memory for a deadline: request %s has none", call->key);
    session->inflight++;
    host_phase (self, PHASE_QUEUED, session->id, request->id, request->received);
}

void
calls_start (host_t *self, request_t *request, method_t method)
{
    if (upstreams_route (self, request))
        return;
    tool_call_t call = { 0 };
    catalog_target_t target;
    char message [200];
    int code = catalog_resolve (self->table, lists_filter (self), methods_name (method), request->params,
                                &call, &target, message, sizeof (message));
    if (code)
        host_answer_error (self, request->session, request->peer, request->id, code, message);
    else
    if (target.is_inline)
        s_run_inline (self, request, &call, &target);
    else {
        json_t *token = json_object_get (json_object_get (request->params, "_meta"), "progressToken");
        if (token && !json_is_string (token) && !json_is_integer (token))
            token = NULL;
        s_dispatch (self, request, method, self->tools_raw, request->params, target.timeout_ms, token);
    }
    catalog_target_clear (&target);
}

void
calls_start_upstream (host_t *self, request_t *request, int upstream, json_t *params)
{
    json_t *token = json_object_get (json_object_get (params, "_meta"), "progressToken");
    if (token && !json_is_string (token) && !json_is_integer (token))
        token = NULL;
    s_dispatch (self, request, request->method, self->upstream_raw [upstream], params,
                self->config->upstreams [upstream].timeout_ms, token);
}

call_t *
calls_find (host_t *self, const char *sid, json_t *id)
{
    char *key = s_request_key (sid, id);
    call_t *call = key? (call_t *) zhashx_lookup (self->by_request, key): NULL;
    free (key);
    return call;
}

bool
calls_in_flight (host_t *self, session_t *session, json_t *id)
{
    return session->inflight && calls_find (self, session->id, id);
}

void
calls_tell (host_t *self, call_t *call, const char *json)
{
    if (zmq_send (call->socket, "TELL", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 4) {
        frames_send_copy (call->socket, &call->call_id, sizeof (call->call_id), ZMQ_SNDMORE);
        frames_send_text (call->socket, json, 0);
    }
}

void
calls_cancel (host_t *self, session_t *session, json_t *request_id)
{
    if (!json_is_string (request_id) && !json_is_integer (request_id))
        return;
    call_t *call = calls_find (self, session->id, request_id);
    if (!call)
        return;
    host_phase (self, PHASE_CANCELLED, call->sid, call->id, call->received);
    host_outcome (self, call->method, OUTCOME_CANCELLED, 0);
    //  Its ask is withdrawn while the stream it went on is still open
    asks_end_call (self, call);
    //  A cancelled request gets no answer (MCP); a batch's ends with the
    //  batch, a lone one now
    if (!call->batch)
        host_end (self, &call->peer, call->sid);
    s_call_stop (self, call);
}

void
calls_retarget (host_t *self, session_t *session, uint64_t stream, zmq_msg_t *peer)
{
    if (session->inflight == 0)
        return;
    zmq_msg_t old;
    zmq_msg_init (&old);
    for (call_t *call = (call_t *) zhashx_first (self->calls); call;
         call = (call_t *) zhashx_next (self->calls))
        if (streq (call->sid, session->id) && host_stream_tag (&call->peer) == stream) {
            if (zmq_msg_size (&old) == 0)
                zmq_msg_copy (&old, &call->peer);
            zmq_msg_copy (&call->peer, peer);
            if (call->batch)
                batch_retarget (call->batch, stream, peer);
        }
    //  The old stream gets nothing more: it ends
    if (zmq_msg_size (&old))
        host_end (self, &old, session->id);
    zmq_msg_close (&old);
}

void
calls_end_session (host_t *self, session_t *session, int status, const char *reason)
{
    if (session->inflight == 0)
        return;
    zlistx_t *ended = zlistx_new ();
    for (call_t *call = (call_t *) zhashx_first (self->calls); call;
         call = (call_t *) zhashx_next (self->calls))
        if (streq (call->sid, session->id))
            zlistx_add_end (ended, call);
    for (call_t *call = (call_t *) zlistx_first (ended); call;
         call = (call_t *) zlistx_next (ended)) {
        asks_end_call (self, call);
        self->collecting = call->batch;
        host_refuse (self, &call->peer, call->sid, status, reason, call->id,
                     status == 503? RETRY_STORE_MS: -1);
        self->collecting = NULL;
        host_outcome (self, call->method, OUTCOME_REFUSED, 0);
        s_call_stop (self, call);
    }
    zlistx_destroy (&ended);
}

void
calls_abandon (host_t *self)
{
    for (session_t *session = (session_t *) zhashx_first (self->sessions); session;
         session = (session_t *) zhashx_next (self->sessions))
        calls_end_session (self, session, 503, "server is shutting down");
}

static void
s_expired (host_t *self, heap_node_t *node)
{
    call_t *call = (call_t *) ((char *) node - offsetof (call_t, timer));
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    char message [80];
    snprintf (message, sizeof (message), "request timed out after %d ms", call->timeout_ms);
    asks_end_call (self, call);
    self->collecting = call->batch;
    if (session)
        host_answer_error (self, session, &call->peer, call->id, JSONRPC_REQUEST_TIMEOUT, message);
    self->collecting = NULL;
    host_phase (self, PHASE_TIMED_OUT, call->sid, call->id, call->received);
    host_outcome (self, call->method, OUTCOME_TIMEOUT, 0);
    s_call_stop (self, call);
}

long
calls_expire (host_t *self)
{
    return host_expire (self, self->timers, s_expired);
}

//  A worker's answer: the result, or a JSON-RPC error.
static void
s_done (host_t *self, call_t *call, zmq_msg_t *frames)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    assert (session);           //  closing a session ends its calls first
    asks_end_call (self, call);     //  a worker that gave up waiting
    self->collecting = call->batch;
    if (zmq_msg_size (&frames [2]) > 0) {
        size_t size = zmq_msg_size (&frames [2]);
        char *result = (char *) malloc (size + 1);
        if (result) {
            memcpy (result, zmq_msg_data (&frames [2]), size);
            result [size] = 0;
        }
        host_answer_result (self, session, &call->peer, call->id, result? result: "{}");
        free (result);
    }
    else {
        char code [16], message [1024];
        if (!frames_text (&frames [3], code, sizeof (code)))
            strcpy (code, "-32603");
        //  A long message is cut on a character boundary, never dropped
        size_t size = jsonw_utf8_prefix ((const char *) zmq_msg_data (&frames [4]),
                                         zmq_msg_size (&frames [4]), sizeof (message) - 1);
        memcpy (message, zmq_msg_data (&frames [4]), size);
        message [size] = 0;
        if (!size)
            strcpy (message, "tool failed");
        host_answer_error (self, session, &call->peer, call->id, atoi (code), message);
    }
    self->collecting = NULL;
    host_phase (self, PHASE_ANSWERED, call->sid, call->id, call->received);
    host_outcome (self, call->method, zmq_msg_size (&frames [2])? OUTCOME_OK: OUTCOME_ERROR,
                  call->received);
    s_call_end (self, call);
}

static void
s_progress (host_t *self, call_t *call, zmq_msg_t *frame)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    if (!session || !call->progress_token)
        return;
    json_t *report = json_loadb (zmq_msg_data (frame), zmq_msg_size (frame), 0, NULL);
    json_t *total = json_object_get (report, "total");
    char *params = mcp_progress_params (call->progress_token,
        json_number_value (json_object_get (report, "progress")),
        total? json_number_value (total): -1,
        json_string_value (json_object_get (report, "message")));
    json_decref (report);
    if (!params)
        return;
    size_t size;
    char *body = jsonrpc_encode_notification ("notifications/progress", params, &size);
    free (params);
    host_send (self, "MSG", &call->peer, session->id, session, body, size);
}

static void
s_log (host_t *self, call_t *call, zmq_msg_t *frame)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    json_t *params = json_loadb (zmq_msg_data (frame), zmq_msg_size (frame), 0, NULL);
    const char *level = json_string_value (json_object_get (params, "level"));
    if (level) {
        char *text = json_dumps (params, JSON_COMPACT);
        if (text)
            s_relay_log (self, session, &call->peer, level, text);
        free (text);
    }
    json_decref (params);
}

//  Ends the call's response stream now, before its result (SEP-1699): an
//  anchor first, so the client has an event id to come back with
static void
s_detach (host_t *self, call_t *call)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    if (!session || call->batch)
        return;                 //  a batch's answers go out as one
    host_send (self, "MSG", &call->peer, session->id, session, strdup (""), 0);
    host_send (self, "END", &call->peer, session->id, NULL, strdup ("detach"), 6);
}

void
calls_handle_pool (host_t *self, zmq_msg_t *frames, int count)
{
    call_t *call = count >= 2? (call_t *) host_tracked (self->calls, &frames [1]): NULL;
    if (!call) {
        //  Answered already (timed out, cancelled, session closed): a late
        //  result is dropped, never sent, and counted
        if (count >= 1 && frames_is (&frames [0], "DONE"))
            self->late++;
    }
    else
    if (frames_is (&frames [0], "PROGRESS") && count == 3)
        s_progress (self, call, &frames [2]);
    else
    if (frames_is (&frames [0], "LOG") && count == 3)
        s_log (self, call, &frames [2]);
    else
    if (frames_is (&frames [0], "ASK") && count == 3)
        asks_start (self, call, &frames [2]);
    else
    if (frames_is (&frames [0], "DETACH") && count == 3)
        s_detach (self, call);
    else
    if (frames_is (&frames [0], "UPDATED") && count == 3)
        s_publish (self, "UPDATED", zmq_msg_data (&frames [2]), zmq_msg_size (&frames [2]));
    else
    if (frames_is (&frames [0], "DONE") && count == 5)
        s_done (self, call, frames);
    else
    if (frames_is (&frames [0], "BUSY")) {
        self->collecting = call->batch;
        host_refuse (self, &call->peer, call->sid, 503, "tool queue is full", call->id, RETRY_QUEUE_MS);
        self->collecting = NULL;
        host_outcome (self, call->method, OUTCOME_REFUSED, 0);
        s_call_end (self, call);
    }
}
