/*  session_host — an actor that owns a table of MCP sessions.

    Owns: its sessions (session_t, touched by this thread only) and the tool
    calls they have in flight on tool workers. It never blocks on anything
    but handing an answer to the supervisor, which never blocks itself and
    always drains: tool calls go to the tool pool and come back as messages.

    Takes, on its pipe from the supervisor:
      NEW    peer, new session id, body       a client's initialize
      MSG    peer, session id, body           a JSON-RPC message
      LISTEN peer, session id, last event id
      CLOSE  peer, session id, ""
      STATS  tag
      $TERM
    Sends, on its pipe:
      MSG|OK|ERR  peer, session id, event id, body     for the client
      STATS       tag, JSON figures
    Takes, on its DEALER from the tool pool:
      PROGRESS call-id, JSON;  DONE call-id, result, code, message;
      BUSY call-id
    Sends to the tool pool:
      CALL call-id, tool name, arguments JSON;  CANCEL call-id
*/
#include "actors/session_host.h"
#include "actors/session.h"
#include "proto/jsonrpc.h"
#include "proto/mcp.h"
#include "proto/mcpz.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/log.h"

#include <inttypes.h>

//  How long a refused client should wait before trying again
#define RETRY_QUEUE_MS 100
#define RETRY_CAP_MS   1000

//  A tool call running on a tool worker
typedef struct {
    uint64_t call_id;           //  host-unique; also the hash key
    char sid [MCPZ_SID_SIZE + 1];   //  its session
    json_t *id;                 //  JSON-RPC id of the request
    json_t *progress_token;     //  _meta.progressToken, or NULL
    zmq_msg_t peer;             //  routing id of the peer that asked
} call_t;

typedef struct {
    zsock_t *pipe;              //  to the supervisor
    void *raw;                  //  the pipe's libzmq socket
    zsock_t *tools;             //  DEALER to the tool pool
    void *tools_raw;
    const config_t *config;
    tool_table_t *table;
    char name [16];             //  "host N", for logs
    zhashx_t *sessions;         //  session id -> session_t
    zhashx_t *calls;            //  call id -> call_t
    uint64_t next_call;         //  last call id handed out
    size_t max_sessions;        //  this host's share of --max-sessions
    uint64_t opened, closed, requests, errors, overloads, late;
    bool terminated;
} host_t;

//  --------------------------------------------------------------------------
//  Calls

static void
s_call_destroy (call_t **call_p)
{
    if (*call_p) {
        json_decref ((*call_p)->id);
        json_decref ((*call_p)->progress_token);
        zmq_msg_close (&(*call_p)->peer);
        free (*call_p);
        *call_p = NULL;
    }
}

static size_t
s_call_hash (const void *key)
{
    return (size_t) *(const uint64_t *) key;
}

static int
s_call_compare (const void *a, const void *b)
{
    uint64_t left = *(const uint64_t *) a, right = *(const uint64_t *) b;
    return left < right? -1: left > right;
}

//  --------------------------------------------------------------------------
//  Answers to the client, through the supervisor

//  Sends one client-bound message; takes ownership of body. event 0 means
//  no event id (OK and ERR).
static void
s_send (host_t *self, const char *kind, zmq_msg_t *peer, const char *sid,
        uint64_t event, char *body, size_t size)
{
    if (!body) {
        log_error (self->name, "out of memory building an answer");
        return;
    }
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, peer);
    char event_text [24] = "";
    if (event)
        snprintf (event_text, sizeof (event_text), "%" PRIu64, event);
    frames_send_text (self->raw, kind, ZMQ_SNDMORE);
    zmq_msg_send (&copy, self->raw, ZMQ_SNDMORE);
    frames_send_text (self->raw, sid, ZMQ_SNDMORE);
    frames_send_text (self->raw, event_text, ZMQ_SNDMORE);
    frames_send_owned (self->raw, body, size, 0);
}

static void
s_answer_result (host_t *self, session_t *session, zmq_msg_t *peer,
                 json_t *id, const char *result)
{
    size_t size;
    char *body = jsonrpc_encode_result (id, result, &size);
    s_send (self, "MSG", peer, session->id, session_next_event (session), body, size);
}

static void
s_answer_error (host_t *self, session_t *session, zmq_msg_t *peer,
                json_t *id, int code, const char *message)
{
    size_t size;
    char *body = jsonrpc_encode_error (id, code, message, &size);
    self->errors++;
    s_send (self, "MSG", peer, session->id, session_next_event (session), body, size);
}

//  ERR naming the request id (may be NULL) and echoing the session id.
static void
s_refuse (host_t *self, zmq_msg_t *peer, const char *sid, int status,
          const char *message, json_t *id, int retry_after_ms)
{
    size_t size;
    char *body = mcpz_err_body (status, message, id, retry_after_ms, &size);
    self->errors++;
    if (status == 503 || status == 429)
        self->overloads++;
    s_send (self, "ERR", peer, sid, 0, body, size);
}

//  As s_refuse, reading the id from a raw body.
static void
s_refuse_body (host_t *self, zmq_msg_t *peer, const char *sid, int status,
               const char *message, zmq_msg_t *body, int retry_after_ms)
{
    json_t *id = mcpz_body_id (zmq_msg_data (body), zmq_msg_size (body));
    s_refuse (self, peer, sid, status, message, id, retry_after_ms);
    json_decref (id);
}

//  --------------------------------------------------------------------------
//  Tool calls

static void
s_run_inline (host_t *self, session_t *session, zmq_msg_t *peer, json_t *id,
              const tool_def_t *def, json_t *arguments)
{
    tool_call_t call = { 0 };
    call.arguments = arguments;
    def->call (&call);
    if (call.result)
        s_answer_result (self, session, peer, id, call.result);
    else
        s_answer_error (self, session, peer, id, call.error_code, call.error_message?
                        call.error_message: "tool failed");
    tool_call_clear (&call);
}

//  Hands the call to the tool pool without waiting; a full queue is a 503.
static void
s_dispatch (host_t *self, session_t *session, zmq_msg_t *peer, json_t *id,
            const tool_def_t *def, json_t *arguments, json_t *token)
{
    if (session->inflight >= (uint32_t) self->config->max_inflight) {
        s_refuse (self, peer, session->id, 429, "too many requests in flight", id, -1);
        return;
    }
    char *text = json_dumps (arguments, JSON_COMPACT);
    call_t *call = (call_t *) calloc (1, sizeof (call_t));
    if (!text || !call) {
        free (text);
        free (call);
        s_answer_error (self, session, peer, id, JSONRPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    call->call_id = ++self->next_call;
    if (zmq_send (self->tools_raw, "CALL", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        free (text);
        free (call);
        s_refuse (self, peer, session->id, 503, "tool workers are saturated", id, RETRY_QUEUE_MS);
        return;
    }
    frames_send_copy (self->tools_raw, &call->call_id, sizeof (call->call_id), ZMQ_SNDMORE);
    frames_send_text (self->tools_raw, def->name, ZMQ_SNDMORE);
    frames_send_owned (self->tools_raw, text, strlen (text), 0);
    memcpy (call->sid, session->id, sizeof (call->sid));
    call->id = json_incref (id);
    call->progress_token = json_incref (token);
    zmq_msg_init (&call->peer);
    zmq_msg_copy (&call->peer, peer);
    zhashx_insert (self->calls, &call->call_id, call);
    session->inflight++;
}

static void
s_handle_tools_call (host_t *self, session_t *session, zmq_msg_t *peer, jsonrpc_t *msg)
{
    json_t *id = jsonrpc_id (msg);
    json_t *params = jsonrpc_params (msg);
    json_t *name = json_object_get (params, "name");
    json_t *arguments = json_object_get (params, "arguments");
    if (!json_is_object (params) || !json_is_string (name)) {
        s_answer_error (self, session, peer, id, JSONRPC_INVALID_PARAMS,
                        "tools/call needs params with a tool name");
        return;
    }
    if (arguments && !json_is_object (arguments)) {
        s_answer_error (self, session, peer, id, JSONRPC_INVALID_PARAMS,
                        "tool arguments must be an object");
        return;
    }
    const tool_def_t *def = tool_table_find (self->table, json_string_value (name));
    if (!def) {
        char message [160];
        snprintf (message, sizeof (message), "unknown tool: %.100s", json_string_value (name));
        s_answer_error (self, session, peer, id, JSONRPC_INVALID_PARAMS, message);
        return;
    }
    json_t *empty = arguments? NULL: json_object ();
    json_t *token = json_object_get (json_object_get (params, "_meta"), "progressToken");
    if (token && !json_is_string (token) && !json_is_integer (token))
        token = NULL;
    if (def->is_inline)
        s_run_inline (self, session, peer, id, def, arguments? arguments: empty);
    else
        s_dispatch (self, session, peer, id, def, arguments? arguments: empty, token);
    json_decref (empty);
}

//  A worker's answer: the result, or a JSON-RPC error.
static void
s_handle_done (host_t *self, call_t *call, zmq_msg_t *frames)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    assert (session);           //  closing a session ends its calls first
    session->inflight--;
    if (zmq_msg_size (&frames [2]) > 0) {
        size_t size = zmq_msg_size (&frames [2]);
        char *result = (char *) malloc (size + 1);
        if (result) {
            memcpy (result, zmq_msg_data (&frames [2]), size);
            result [size] = 0;
        }
        s_answer_result (self, session, &call->peer, call->id, result? result: "{}");
        free (result);
    }
    else {
        char code [16], message [256];
        if (!frames_text (&frames [3], code, sizeof (code)))
            strcpy (code, "-32603");
        if (!frames_text (&frames [4], message, sizeof (message)))
            strcpy (message, "tool failed");
        s_answer_error (self, session, &call->peer, call->id, atoi (code), message);
    }
}

static void
s_handle_progress (host_t *self, call_t *call, zmq_msg_t *frame)
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
    s_send (self, "MSG", &call->peer, session->id, session_next_event (session), body, size);
}

static void
s_handle_pool (host_t *self)
{
    zmq_msg_t frames [5];
    int count;
    if (frames_recv (self->tools_raw, frames, 5, &count, ZMQ_DONTWAIT))
        return;
    uint64_t call_id = 0;
    call_t *call = NULL;
    if (count >= 2 && zmq_msg_size (&frames [1]) == sizeof (call_id)) {
        memcpy (&call_id, zmq_msg_data (&frames [1]), sizeof (call_id));
        call = (call_t *) zhashx_lookup (self->calls, &call_id);
    }
    if (!call) {
        //  Answered already (closed session, cancelled): drop, but count it
        if (count >= 1 && frames_is (&frames [0], "DONE"))
            self->late++;
    }
    else
    if (frames_is (&frames [0], "PROGRESS") && count == 3)
        s_handle_progress (self, call, &frames [2]);
    else
    if (frames_is (&frames [0], "DONE") && count == 5) {
        s_handle_done (self, call, frames);
        zhashx_delete (self->calls, &call_id);
    }
    else
    if (frames_is (&frames [0], "BUSY")) {
        session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
        session->inflight--;
        s_refuse (self, &call->peer, call->sid, 503, "tool queue is full", call->id, RETRY_QUEUE_MS);
        zhashx_delete (self->calls, &call_id);
    }
    frames_close (frames, count < 5? count: 5);
}

//  --------------------------------------------------------------------------
//  Client messages

static void
s_handle_request (host_t *self, session_t *session, zmq_msg_t *peer, jsonrpc_t *msg)
{
    const char *method = jsonrpc_method (msg);
    json_t *id = jsonrpc_id (msg);
    self->requests++;
    if (streq (method, "tools/call"))
        s_handle_tools_call (self, session, peer, msg);
    else
    if (streq (method, "ping"))
        s_answer_result (self, session, peer, id, "{}");
    else
    if (streq (method, "tools/list"))
        s_answer_result (self, session, peer, id, tool_table_list (self->table));
    else
    if (streq (method, "initialize"))
        s_answer_error (self, session, peer, id, JSONRPC_INVALID_REQUEST,
                        "session is already initialized");
    else
        s_answer_error (self, session, peer, id, JSONRPC_METHOD_NOT_FOUND, "method not found");
}

static void
s_handle_msg (host_t *self, zmq_msg_t *peer, session_t *session, zmq_msg_t *body)
{
    int code;
    const char *reason;
    json_t *id = NULL;
    jsonrpc_t *msg = jsonrpc_parse (zmq_msg_data (body), zmq_msg_size (body),
                                    &code, &reason, &id);
    if (!msg) {
        s_answer_error (self, session, peer, id, code, reason);
        json_decref (id);
        return;
    }
    jsonrpc_kind_t kind = jsonrpc_kind (msg);
    if (kind == JSONRPC_REQUEST)
        s_handle_request (self, session, peer, msg);
    else
    if (kind == JSONRPC_NOTIFICATION
    &&  streq (jsonrpc_method (msg), "notifications/initialized"))
        session->state = SESSION_READY;
    //  Other notifications and responses to server requests need no answer
    jsonrpc_destroy (&msg);
}

static void
s_handle_new (host_t *self, zmq_msg_t *peer, const char *sid, zmq_msg_t *body)
{
    int code;
    const char *reason;
    json_t *id = NULL;
    jsonrpc_t *msg = jsonrpc_parse (zmq_msg_data (body), zmq_msg_size (body),
                                    &code, &reason, &id);
    mcp_init_t init = { 0 };
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
        s_refuse (self, peer, "", 400, reason, id, -1);
    else
    if (zhashx_size (self->sessions) >= self->max_sessions)
        s_refuse (self, peer, "", 503, "session cap reached", id, RETRY_CAP_MS);
    else {
        session_t *session = session_new (sid, init.version, init.client_info,
                                          init.capabilities, zclock_mono ());
        init.client_info = init.capabilities = NULL;    //  session owns them
        if (!session || zhashx_insert (self->sessions, session->id, session)) {
            session_destroy (&session);
            s_refuse (self, peer, "", 503, "cannot create a session now", id, RETRY_QUEUE_MS);
        }
        else {
            self->opened++;
            self->requests++;
            char *result = mcp_init_result (session->version);
            s_answer_result (self, session, peer, id, result);
            free (result);
            log_debug (self->name, "session %s opened, version %s", sid,
                       mcp_versions [session->version]);
        }
    }
    mcp_init_clear (&init);
    json_decref (id);
    jsonrpc_destroy (&msg);
}

//  Every request still in flight gets its one answer before the session goes.
static void
s_end_calls (host_t *self, session_t *session)
{
    zlistx_t *ended = zlistx_new ();
    for (call_t *call = (call_t *) zhashx_first (self->calls); call;
         call = (call_t *) zhashx_next (self->calls))
        if (streq (call->sid, session->id))
            zlistx_add_end (ended, call);
    for (call_t *call = (call_t *) zlistx_first (ended); call;
         call = (call_t *) zlistx_next (ended)) {
        s_refuse (self, &call->peer, call->sid, 404, "session closed", call->id, -1);
        zmq_send (self->tools_raw, "CANCEL", 6, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send (self->tools_raw, &call->call_id, sizeof (call->call_id), ZMQ_DONTWAIT);
        zhashx_delete (self->calls, &call->call_id);
    }
    zlistx_destroy (&ended);
    session->inflight = 0;
}

static void
s_handle_close (host_t *self, zmq_msg_t *peer, session_t *session)
{
    char sid [MCPZ_SID_SIZE + 1];
    memcpy (sid, session->id, sizeof (sid));
    s_end_calls (self, session);
    zhashx_delete (self->sessions, sid);
    self->closed++;
    s_send (self, "OK", peer, sid, 0, strdup ("{}"), 2);
    log_debug (self->name, "session %s closed", sid);
}

static void
s_handle_listen (host_t *self, zmq_msg_t *peer, session_t *session, zmq_msg_t *body)
{
    char text [24];
    char *end = NULL;
    if (zmq_msg_size (body) > 0
    && (!frames_text (body, text, sizeof (text)) || text [0] < '0' || text [0] > '9'
        || (strtoull (text, &end, 10), *end))) {
        s_refuse (self, peer, session->id, 400, "LISTEN body must be a decimal event id", NULL, -1);
        return;
    }
    char reply [64];
    snprintf (reply, sizeof (reply), "{\"last_event_id\":%" PRIu64 "}", session->event_id);
    s_send (self, "OK", peer, session->id, 0, strdup (reply), strlen (reply));
}

static void
s_handle_stats (host_t *self, zmq_msg_t *tag)
{
    char body [512];
    snprintf (body, sizeof (body),
              "{\"host\":%s,\"sessions\":%zu,\"opened\":%" PRIu64 ",\"closed\":%" PRIu64
              ",\"requests\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"overloads\":%" PRIu64
              ",\"inflight\":%zu,\"late\":%" PRIu64 "}",
              self->name + 5, zhashx_size (self->sessions), self->opened, self->closed,
              self->requests, self->errors, self->overloads, zhashx_size (self->calls),
              self->late);
    frames_send_text (self->raw, "STATS", ZMQ_SNDMORE);
    zmq_msg_send (tag, self->raw, ZMQ_SNDMORE);
    frames_send_text (self->raw, body, 0);
}

static void
s_handle_pipe (host_t *self)
{
    zmq_msg_t frames [4];
    int count;
    if (frames_recv (self->raw, frames, 4, &count, ZMQ_DONTWAIT))
        return;
    zmq_msg_t *peer = &frames [1];
    char sid [MCPZ_SID_SIZE + 1] = "";
    if (count == 4)
        frames_text (&frames [2], sid, sizeof (sid));
    session_t *session = *sid? (session_t *) zhashx_lookup (self->sessions, sid): NULL;
    if (session)
        session->last_activity_ms = zclock_mono ();

    if (count == 4 && frames_is (&frames [0], "NEW"))
        s_handle_new (self, peer, sid, &frames [3]);
    else
    if (count == 4 && !session)
        s_refuse_body (self, peer, sid, 404, "unknown session", &frames [3], -1);
    else
    if (count == 4 && frames_is (&frames [0], "MSG"))
        s_handle_msg (self, peer, session, &frames [3]);
    else
    if (count == 4 && frames_is (&frames [0], "CLOSE"))
        s_handle_close (self, peer, session);
    else
    if (count == 4 && frames_is (&frames [0], "LISTEN"))
        s_handle_listen (self, peer, session, &frames [3]);
    else
    if (count == 2 && frames_is (&frames [0], "STATS"))
        s_handle_stats (self, &frames [1]);
    else
    if (count >= 1 && frames_is (&frames [0], "$TERM"))
        self->terminated = true;
    else
        log_error (self->name, "malformed message from the supervisor (%d frames)", count);
    frames_close (frames, count < 4? count: 4);
}

//  --------------------------------------------------------------------------

static int
s_start (host_t *self, session_host_args_t *args)
{
    self->config = args->config;
    self->table = args->table;
    snprintf (self->name, sizeof (self->name), "host %d", args->index);
    self->max_sessions = ((size_t) args->config->max_sessions + (size_t) args->count - 1)
                       / (size_t) args->count;
    self->sessions = zhashx_new ();
    self->calls = zhashx_new ();
    self->tools = zsock_new (ZMQ_DEALER);
    if (!self->sessions || !self->calls || !self->tools)
        return -1;
    //  Sessions are keyed by their own id buffer: no key copies
    zhashx_set_key_duplicator (self->sessions, NULL);
    zhashx_set_key_destructor (self->sessions, NULL);
    zhashx_set_destructor (self->sessions, (zhashx_destructor_fn *) session_destroy);
    zhashx_set_key_duplicator (self->calls, NULL);
    zhashx_set_key_destructor (self->calls, NULL);
    zhashx_set_key_hasher (self->calls, s_call_hash);
    zhashx_set_key_comparator (self->calls, s_call_compare);
    zhashx_set_destructor (self->calls, (zhashx_destructor_fn *) s_call_destroy);
    zsock_set_sndhwm (self->tools, args->config->tool_queue);
    zsock_set_rcvhwm (self->tools, 100000);
    if (zsock_connect (self->tools, "%s", args->tools_endpoint) == -1)
        return -1;
    self->tools_raw = zsock_resolve (self->tools);
    return 0;
}

//  Reads every waiting message of one socket, up to a batch, so a busy
//  socket costs one poll per batch rather than one per message.
static void
s_drain (host_t *self, void *socket, void (*handler) (host_t *))
{
    for (int batch = 0; batch < 256 && !self->terminated; batch++) {
        int events = 0;
        size_t size = sizeof (events);
        if (zmq_getsockopt (socket, ZMQ_EVENTS, &events, &size) || !(events & ZMQ_POLLIN))
            break;
        handler (self);
    }
}

void
session_host_actor (zsock_t *pipe, void *args)
{
    host_t self = { .pipe = pipe, .raw = zsock_resolve (pipe) };
    int rc = s_start (&self, (session_host_args_t *) args);
    actor_ready (pipe, rc? "session host cannot start": NULL);
    zmq_pollitem_t items [] = {
        { self.raw, 0, ZMQ_POLLIN, 0 },
        { self.tools_raw, 0, ZMQ_POLLIN, 0 }
    };
    while (rc == 0 && !self.terminated) {
        if (zmq_poll (items, 2, -1) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [1].revents & ZMQ_POLLIN)
            s_drain (&self, self.tools_raw, s_handle_pool);
        if (items [0].revents & ZMQ_POLLIN)
            s_drain (&self, self.raw, s_handle_pipe);
    }
    zhashx_destroy (&self.calls);
    zhashx_destroy (&self.sessions);
    zsock_destroy (&self.tools);
}
