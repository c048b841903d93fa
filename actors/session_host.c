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
      PROGRESS call-id, JSON;  LOG call-id, JSON;
      DONE call-id, result, code, message;  BUSY call-id
    Sends to the tool pool:
      CALL call-id, tool name, arguments JSON, trace;  CANCEL call-id

    Every tool call on a worker has a deadline (the tool's own, else
    --request-timeout) in a heap; at the deadline the client gets -32001
    whatever the worker is doing, the worker is told to stop, and a late
    result is dropped and counted. notifications/cancelled ends a call
    without an answer. Every server MSG of a session gets its next event id
    and is kept in the session's replay ring (bounded by --replay-events
    and --replay-bytes) for LISTEN.
    Sends to DB workers (DEALER, round-robin), with a persistent store:
      CREATE tag, id, version, created-ms, client-info, capabilities
      LOAD tag, id, not-before-ms;  DELETE tag, id
    Takes their answers: tag, OK|MISSING|ERR, ...  (see db_worker.c)
    Takes, on its DEALER (identity host-N) from the cleanup actor:
      SWEEP tag, ttl-ms    drop idle sessions; answer SWEPT tag, expired,
                           live ids (32 bytes each), last activity (int64
                           wall ms each)
      DROP ids             the store no longer has these: end them

    With a persistent store a session is answered only once its row is
    committed, closed only once its row is deleted, and a frame naming a
    session this host does not hold loads it from the store first (frames
    wait meanwhile, bounded per session and per host).
*/
#include "actors/session_host.h"
#include "actors/session.h"
#include "actors/cleanup.h"
#include "proto/jsonrpc.h"
#include "proto/jsonw.h"
#include "proto/mcp.h"
#include "proto/mcpz.h"
#include "proto/metrics.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/heap.h"
#include "runtime/log.h"
#include "store/store.h"

#include <inttypes.h>

//  How long a refused client should wait before trying again
#define RETRY_QUEUE_MS 100
#define RETRY_CAP_MS   1000
#define RETRY_STORE_MS 1000

//  Frames that may wait for one session being loaded, and sessions that
//  may be loading at once on one host; past them, ERR 503.
#define LOAD_QUEUE     64
#define LOADS_MAX      4096
//  Store requests a host may have queued towards the DB workers
#define DB_HWM         10000

//  A tool call running on a tool worker
typedef struct {
    uint64_t call_id;           //  host-unique; also the hash key
    char sid [MCPZ_SID_SIZE + 1];   //  its session
    json_t *id;                 //  JSON-RPC id of the request
    char *key;                  //  "sid/id": finds it for notifications/cancelled
    json_t *progress_token;     //  _meta.progressToken, or NULL
    zmq_msg_t peer;             //  routing id of the peer that asked
    heap_node_t timer;          //  its deadline
    int timeout_ms;             //  for the timeout message
    int64_t received;           //  µs when the request arrived
} call_t;

//  Phases of a request, counted for metrics and logged at debug
typedef enum {
    PHASE_RECEIVED, PHASE_QUEUED, PHASE_ANSWERED, PHASE_TIMED_OUT,
    PHASE_CANCELLED, PHASE_REFUSED, PHASES
} phase_t;

static const char *const s_phase_names [PHASES] = {
    "received", "queued", "answered", "timed_out", "cancelled", "refused"
};

//  Requests are counted by method and outcome, and timed by method
typedef enum {
    METHOD_INITIALIZE, METHOD_PING, METHOD_TOOLS_LIST, METHOD_TOOLS_CALL,
    METHOD_SET_LEVEL, METHOD_OTHER, METHODS
} method_t;

static const char *const s_method_names [METHODS] = {
    "initialize", "ping", "tools/list", "tools/call", "logging/setLevel", "other"
};

typedef enum {
    OUTCOME_OK, OUTCOME_ERROR, OUTCOME_REFUSED, OUTCOME_TIMEOUT, OUTCOME_CANCELLED, OUTCOMES
} outcome_t;

static const char *const s_outcome_names [OUTCOMES] = {
    "ok", "error", "refused", "timeout", "cancelled"
};

//  ERR statuses counted apart
static const int s_statuses [] = { 400, 404, 413, 429, 503 };
#define STATUSES 5

//  A store request waiting for its answer
typedef enum { OP_CREATE, OP_DELETE, OP_LOAD } op_kind_t;

typedef struct {
    zmq_msg_t frames [4];       //  command, peer, session id, body
} queued_t;

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
} op_t;

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
    zsock_t *db;                //  DEALER to the DB workers, or NULL
    void *db_raw;
    zsock_t *cleanup;           //  DEALER to the cleanup actor
    void *cleanup_raw;
    zhashx_t *ops;              //  tag -> op_t, store requests in progress
    zhashx_t *loading;          //  session id -> op_t of its LOAD
    uint64_t next_tag;          //  last store tag handed out
    uint64_t loads, load_misses, store_errors, expired, dropped;
    uint64_t late_store;        //  store answers after their deadline
    heap_t *op_timers;          //  deadlines of store requests
    size_t max_sessions;        //  this host's share of --max-sessions
    heap_t *timers;             //  deadlines of calls on workers
    zhashx_t *by_request;       //  "sid/id" -> call_t, for cancellation
    uint64_t phases [PHASES];   //  requests per phase
    uint64_t outcomes [METHODS][OUTCOMES];
    histogram_t latency [METHODS];  //  arrival to answer, ok and error only
    uint64_t refusals [STATUSES];   //  ERR answers by status
    zsock_t *control;           //  DEALER (identity host-N) to the control actor
    void *control_raw;
    uint64_t evicted;           //  replay events evicted
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
        free ((*call_p)->key);
        zmq_msg_close (&(*call_p)->peer);
        free (*call_p);
        *call_p = NULL;
    }
}

//  Calls and store ops are keyed by their own uint64 first field
static size_t
s_u64_hash (const void *key)
{
    return (size_t) *(const uint64_t *) key;
}

static int
s_u64_compare (const void *a, const void *b)
{
    uint64_t left = *(const uint64_t *) a, right = *(const uint64_t *) b;
    return left < right? -1: left > right;
}

//  --------------------------------------------------------------------------
//  Answers to the client, through the supervisor

static void
s_free (void *data, void *hint)
{
    free (data);
}

//  Sends one client-bound message; takes ownership of body. session is
//  given for MSG: the message gets its next event id and a place in the
//  replay ring, so a peer that is gone loses nothing.
static void
s_send (host_t *self, const char *kind, zmq_msg_t *peer, const char *sid,
        session_t *session, char *body, size_t size)
{
    zmq_msg_t frame;
    if (!body || zmq_msg_init_data (&frame, body, size, s_free, NULL)) {
        free (body);
        log_error (self->name, "out of memory building an answer");
        return;
    }
    char event_text [24] = "";
    if (session) {
        uint64_t event = session_next_event (session);
        snprintf (event_text, sizeof (event_text), "%" PRIu64, event);
        if (!session->ring)
            session->ring = ring_new ();
        int evicted = session->ring? ring_add (session->ring, event, &frame,
                                               (size_t) self->config->replay_events,
                                               (size_t) self->config->replay_bytes): -1;
        if (evicted > 0)
            self->evicted += (uint64_t) evicted;
        else
        if (evicted < 0)
            log_warn (self->name, "session %s: no memory to keep event %s for replay",
                      sid, event_text);
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

//  One line per request phase at debug, and a count for metrics.
static void
s_phase (host_t *self, phase_t phase, const char *sid, json_t *id, int64_t since)
{
    self->phases [phase]++;
    if (!log_enabled (LEVEL_DEBUG))
        return;
    char *id_text = id? json_dumps (id, JSON_ENCODE_ANY): NULL;
    log_debug (self->name, "request %s/%s %s after %" PRId64 " us", sid,
               id_text? id_text: "null", s_phase_names [phase],
               since? zclock_usecs () - since: 0);
    free (id_text);
}

//  A request's end: counted by method and outcome, timed when answered.
static void
s_outcome (host_t *self, method_t method, outcome_t outcome, int64_t received)
{
    self->outcomes [method][outcome]++;
    if ((outcome == OUTCOME_OK || outcome == OUTCOME_ERROR) && received)
        histogram_observe (&self->latency [method], (double) (zclock_usecs () - received) / 1e6);
}

static void
s_answer_result (host_t *self, session_t *session, zmq_msg_t *peer,
                 json_t *id, const char *result)
{
    size_t size;
    char *body = jsonrpc_encode_result (id, result, &size);
    s_send (self, "MSG", peer, session->id, session, body, size);
}

static void
s_answer_error (host_t *self, session_t *session, zmq_msg_t *peer,
                json_t *id, int code, const char *message)
{
    size_t size;
    char *body = jsonrpc_encode_error (id, code, message, &size);
    self->errors++;
    s_send (self, "MSG", peer, session->id, session, body, size);
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
    for (int index = 0; index < STATUSES; index++)
        if (s_statuses [index] == status)
            self->refusals [index]++;
    if (id)
        s_phase (self, PHASE_REFUSED, sid, id, 0);
    s_send (self, "ERR", peer, sid, NULL, body, size);
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

//  Ends a call's bookkeeping: its timer, its cancellation key, its slot in
//  the session's in-flight count, and the call itself.
static void
s_call_end (host_t *self, call_t *call)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    if (session && session->inflight)
        session->inflight--;
    heap_remove (self->timers, &call->timer);
    zhashx_delete (self->by_request, call->key);
    zhashx_delete (self->calls, &call->call_id);
}

//  Tells the pool to stop a call; its worker's late result is dropped.
static void
s_call_cancel (host_t *self, call_t *call)
{
    if (zmq_send (self->tools_raw, "CANCEL", 6, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 6)
        zmq_send (self->tools_raw, &call->call_id, sizeof (call->call_id), 0);
}

//  Inline tools log straight to their caller
typedef struct {
    host_t *host;
    session_t *session;
    zmq_msg_t *peer;
} inline_t;

static void s_tool_log (host_t *self, session_t *session, zmq_msg_t *peer,
                        const char *level, const char *params);

static void
s_inline_log (tool_call_t *call, const char *level, const char *logger, const char *message)
{
    inline_t *context = (inline_t *) call->runner;
    char *params = mcp_log_params (level, logger, message);
    if (params)
        s_tool_log (context->host, context->session, context->peer, level, params);
    free (params);
}

static void
s_run_inline (host_t *self, session_t *session, zmq_msg_t *peer, json_t *id,
              const tool_def_t *def, json_t *arguments)
{
    inline_t context = { self, session, peer };
    tool_call_t call = { 0 };
    call.arguments = arguments;
    call.log = s_inline_log;
    call.runner = &context;
    def->call (&call);
    if (call.result)
        s_answer_result (self, session, peer, id, call.result);
    else
        s_answer_error (self, session, peer, id, call.error_code, call.error_message?
                        call.error_message: "tool failed");
    tool_call_clear (&call);
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

//  Hands the call to the tool pool without waiting; a full queue is a 503.
static void
s_dispatch (host_t *self, session_t *session, zmq_msg_t *peer, json_t *id,
            const tool_def_t *def, json_t *arguments, json_t *token, int64_t received)
{
    if (session->inflight >= (uint32_t) self->config->max_inflight) {
        s_refuse (self, peer, session->id, 429, "too many requests in flight", id, -1);
        return;
    }
    char *key = s_request_key (session->id, id);
    if (key && zhashx_lookup (self->by_request, key)) {
        free (key);
        s_answer_error (self, session, peer, id, JSONRPC_INVALID_REQUEST,
                        "a request with this id is already in flight");
        return;
    }
    char *text = json_dumps (arguments, JSON_COMPACT);
    call_t *call = (call_t *) calloc (1, sizeof (call_t));
    if (!text || !call || !key) {
        free (text);
        free (call);
        free (key);
        s_answer_error (self, session, peer, id, JSONRPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    call->call_id = ++self->next_call;
    call->key = key;
    if (zmq_send (self->tools_raw, "CALL", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        free (text);
        s_call_destroy (&call);
        s_refuse (self, peer, session->id, 503, "tool workers are saturated", id, RETRY_QUEUE_MS);
        return;
    }
    frames_send_copy (self->tools_raw, &call->call_id, sizeof (call->call_id), ZMQ_SNDMORE);
    frames_send_text (self->tools_raw, def->name, ZMQ_SNDMORE);
    frames_send_owned (self->tools_raw, text, strlen (text), ZMQ_SNDMORE);
    frames_send_text (self->tools_raw, key, 0);
    memcpy (call->sid, session->id, sizeof (call->sid));
    call->id = json_incref (id);
    call->progress_token = json_incref (token);
    call->received = received;
    call->timeout_ms = def->timeout_ms > 0? def->timeout_ms: self->config->request_timeout;
    call->timer.deadline = zclock_mono () + call->timeout_ms;
    zmq_msg_init (&call->peer);
    zmq_msg_copy (&call->peer, peer);
    zhashx_insert (self->calls, &call->call_id, call);
    zhashx_insert (self->by_request, call->key, call);
    if (heap_push (self->timers, &call->timer))
        log_error (self->name, "no memory for a deadline: request %s has none", call->key);
    session->inflight++;
    s_phase (self, PHASE_QUEUED, session->id, id, received);
}

static void
s_handle_tools_call (host_t *self, session_t *session, zmq_msg_t *peer, jsonrpc_t *msg,
                     int64_t received)
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
        int shown = (int) jsonw_utf8_prefix (json_string_value (name), json_string_length (name), 100);
        snprintf (message, sizeof (message), "unknown tool: %.*s", shown, json_string_value (name));
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
        s_dispatch (self, session, peer, id, def, arguments? arguments: empty, token, received);
    json_decref (empty);
}

//  A worker's answer: the result, or a JSON-RPC error.
static void
s_handle_done (host_t *self, call_t *call, zmq_msg_t *frames)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    assert (session);           //  closing a session ends its calls first
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
        s_answer_error (self, session, &call->peer, call->id, atoi (code), message);
    }
    s_phase (self, PHASE_ANSWERED, call->sid, call->id, call->received);
    s_outcome (self, METHOD_TOOLS_CALL, zmq_msg_size (&frames [2])? OUTCOME_OK: OUTCOME_ERROR,
               call->received);
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
    s_send (self, "MSG", &call->peer, session->id, session, body, size);
}

//  notifications/message to the peer whose request logged, when the
//  session asked for this level or a lower one.
static void
s_tool_log (host_t *self, session_t *session, zmq_msg_t *peer,
            const char *level, const char *params)
{
    int wanted = mcp_log_level (level);
    if (!session || !session->log_level || wanted < 0 || wanted + 1 < session->log_level)
        return;
    size_t size;
    char *body = jsonrpc_encode_notification ("notifications/message", params, &size);
    s_send (self, "MSG", peer, session->id, session, body, size);
}

static void
s_handle_log (host_t *self, call_t *call, zmq_msg_t *frame)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    json_t *params = json_loadb (zmq_msg_data (frame), zmq_msg_size (frame), 0, NULL);
    const char *level = json_string_value (json_object_get (params, "level"));
    if (level) {
        char *text = json_dumps (params, JSON_COMPACT);
        if (text)
            s_tool_log (self, session, &call->peer, level, text);
        free (text);
    }
    json_decref (params);
}

static bool
s_handle_pool (host_t *self)
{
    zmq_msg_t frames [5];
    int count;
    if (frames_recv (self->tools_raw, frames, 5, &count, ZMQ_DONTWAIT))
        return false;
    uint64_t call_id = 0;
    call_t *call = NULL;
    if (count >= 2 && zmq_msg_size (&frames [1]) == sizeof (call_id)) {
        memcpy (&call_id, zmq_msg_data (&frames [1]), sizeof (call_id));
        call = (call_t *) zhashx_lookup (self->calls, &call_id);
    }
    if (!call) {
        //  Answered already (timed out, cancelled, session closed): a late
        //  result is dropped, never sent, and counted
        if (count >= 1 && frames_is (&frames [0], "DONE"))
            self->late++;
    }
    else
    if (frames_is (&frames [0], "PROGRESS") && count == 3)
        s_handle_progress (self, call, &frames [2]);
    else
    if (frames_is (&frames [0], "LOG") && count == 3)
        s_handle_log (self, call, &frames [2]);
    else
    if (frames_is (&frames [0], "DONE") && count == 5) {
        s_handle_done (self, call, frames);
        s_call_end (self, call);
    }
    else
    if (frames_is (&frames [0], "BUSY")) {
        s_refuse (self, &call->peer, call->sid, 503, "tool queue is full", call->id, RETRY_QUEUE_MS);
        s_outcome (self, METHOD_TOOLS_CALL, OUTCOME_REFUSED, 0);
        s_call_end (self, call);
    }
    frames_close (frames, count < 5? count: 5);
    return true;
}

//  Answers every call past its deadline; returns ms until the next one,
//  or -1 when none is pending.
static long
s_expire_calls (host_t *self)
{
    int64_t now = zclock_mono ();
    heap_node_t *node;
    while ((node = heap_first (self->timers)) && node->deadline <= now) {
        call_t *call = (call_t *) ((char *) node - offsetof (call_t, timer));
        session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
        char message [80];
        snprintf (message, sizeof (message), "request timed out after %d ms", call->timeout_ms);
        if (session)
            s_answer_error (self, session, &call->peer, call->id, JSONRPC_REQUEST_TIMEOUT, message);
        s_phase (self, PHASE_TIMED_OUT, call->sid, call->id, call->received);
        s_outcome (self, METHOD_TOOLS_CALL, OUTCOME_TIMEOUT, 0);
        s_call_cancel (self, call);
        s_call_end (self, call);
    }
    node = heap_first (self->timers);
    return node? (long) (node->deadline - now): -1;
}

//  notifications/cancelled: the call stops and gets no answer (MCP).
//  Unknown or finished ids are ignored; so is initialize, answered at once.
static void
s_handle_cancelled (host_t *self, session_t *session, jsonrpc_t *msg)
{
    json_t *id = json_object_get (jsonrpc_params (msg), "requestId");
    if (!json_is_string (id) && !json_is_integer (id))
        return;
    char *key = s_request_key (session->id, id);
    call_t *call = key? (call_t *) zhashx_lookup (self->by_request, key): NULL;
    free (key);
    if (!call)
        return;
    s_phase (self, PHASE_CANCELLED, call->sid, call->id, call->received);
    s_outcome (self, METHOD_TOOLS_CALL, OUTCOME_CANCELLED, 0);
    s_call_cancel (self, call);
    s_call_end (self, call);
}

static void
s_handle_set_level (host_t *self, session_t *session, zmq_msg_t *peer, jsonrpc_t *msg)
{
    json_t *level = json_object_get (jsonrpc_params (msg), "level");
    int index = mcp_log_level (json_string_value (level));
    if (index < 0) {
        s_answer_error (self, session, peer, jsonrpc_id (msg), JSONRPC_INVALID_PARAMS,
                        "level must be one of debug, info, notice, warning, error, "
                        "critical, alert, emergency");
        return;
    }
    session->log_level = (uint8_t) (index + 1);
    s_answer_result (self, session, peer, jsonrpc_id (msg), "{}");
}

//  --------------------------------------------------------------------------
//  Client messages

static void s_dispatch_request (host_t *self, session_t *session, zmq_msg_t *peer,
                                jsonrpc_t *msg, const char *method, json_t *id,
                                int64_t received);

static void
s_handle_request (host_t *self, session_t *session, zmq_msg_t *peer, jsonrpc_t *msg)
{
    const char *method = jsonrpc_method (msg);
    json_t *id = jsonrpc_id (msg);
    int64_t received = zclock_usecs ();
    self->requests++;
    s_phase (self, PHASE_RECEIVED, session->id, id, 0);
    //  Queued requests count their outcome when it comes; the others now
    uint64_t queued = self->phases [PHASE_QUEUED];
    uint64_t refused = self->phases [PHASE_REFUSED];
    uint64_t errors = self->errors;
    s_dispatch_request (self, session, peer, msg, method, id, received);
    if (self->phases [PHASE_QUEUED] != queued)
        return;
    method_t index = METHOD_OTHER;
    for (int at = 0; at < METHOD_OTHER; at++)
        if (streq (method, s_method_names [at]))
            index = (method_t) at;
    outcome_t outcome = self->phases [PHASE_REFUSED] != refused? OUTCOME_REFUSED:
                        self->errors != errors? OUTCOME_ERROR: OUTCOME_OK;
    s_outcome (self, index, outcome, received);
    if (outcome != OUTCOME_REFUSED)
        s_phase (self, PHASE_ANSWERED, session->id, id, received);
}

static void
s_dispatch_request (host_t *self, session_t *session, zmq_msg_t *peer, jsonrpc_t *msg,
                    const char *method, json_t *id, int64_t received)
{
    if (streq (method, "tools/call"))
        s_handle_tools_call (self, session, peer, msg, received);
    else
    if (streq (method, "logging/setLevel"))
        s_handle_set_level (self, session, peer, msg);
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
    else
    if (kind == JSONRPC_NOTIFICATION
    &&  streq (jsonrpc_method (msg), "notifications/cancelled"))
        s_handle_cancelled (self, session, msg);
    //  Other notifications and responses to server requests need no answer
    jsonrpc_destroy (&msg);
}

//  --------------------------------------------------------------------------
//  Store requests

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
            frames_close (queued->frames, 4);
            free (queued);
        }
        zlistx_destroy (&op->queued);
        free (op);
        *op_p = NULL;
    }
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
    frames_send_copy (self->db_raw, &op->tag, sizeof (op->tag), ZMQ_SNDMORE);
    frames_send_text (self->db_raw, sid, arg_count? ZMQ_SNDMORE: 0);
    for (int index = 0; index < arg_count; index++)
        frames_send_text (self->db_raw, args [index], index + 1 < arg_count? ZMQ_SNDMORE: 0);
    //  A store call is bounded by --store-timeout; one reconnect and retry
    //  may double that
    op->timer.deadline = zclock_mono () + 2 * (int64_t) self->config->store_timeout + 1000;
    if (heap_push (self->op_timers, &op->timer)) {
        //  No deadline, no request: a late answer is counted and dropped
        s_op_destroy (&op);
        return NULL;
    }
    zhashx_insert (self->ops, &op->tag, op);
    return op;
}

//  Writes a new session's row; the initialize answer waits for it.
static int
s_persist (host_t *self, session_t *session, zmq_msg_t *peer, json_t *id, int64_t received)
{
    char version [8], created [24];
    snprintf (version, sizeof (version), "%d", session->version);
    snprintf (created, sizeof (created), "%" PRId64, session->created_ms);
    char *client = json_dumps (session->client_info, JSON_COMPACT);
    char *capabilities = json_dumps (session->capabilities, JSON_COMPACT);
    op_t *op = NULL;
    if (client && capabilities) {
        const char *args [] = { version, created, client, capabilities };
        op = s_op_start (self, OP_CREATE, "CREATE", session->id, args, 4);
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

static void
s_answer_initialize (host_t *self, session_t *session, zmq_msg_t *peer, json_t *id,
                     int64_t received)
{
    self->opened++;
    s_outcome (self, METHOD_INITIALIZE, OUTCOME_OK, received);
    char *result = mcp_init_result (session->version);
    s_answer_result (self, session, peer, id, result);
    free (result);
    log_debug (self->name, "session %s opened, version %s", session->id,
               mcp_versions [session->version]);
}

static void
s_handle_new (host_t *self, zmq_msg_t *peer, const char *sid, zmq_msg_t *body)
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
        s_refuse (self, peer, "", 400, reason, id, -1);
    else
    if (zhashx_size (self->sessions) >= self->max_sessions)
        s_refuse (self, peer, "", 503, "session cap reached", id, RETRY_CAP_MS);
    else {
        session_t *session = session_new (sid, init.version, init.client_info,
                                          init.capabilities, 0, zclock_mono ());
        init.client_info = init.capabilities = NULL;    //  session owns them
        self->requests++;
        if (!session || zhashx_insert (self->sessions, session->id, session)) {
            session_destroy (&session);
            s_refuse (self, peer, "", 503, "cannot create a session now", id, RETRY_QUEUE_MS);
        }
        else
        if (!self->db)
            s_answer_initialize (self, session, peer, id, received);
        else
        if (s_persist (self, session, peer, id, received)) {
            zhashx_delete (self->sessions, sid);
            s_refuse (self, peer, "", 503, "store queue is full", id, RETRY_QUEUE_MS);
        }
    }
    if (self->errors != errors)
        s_outcome (self, METHOD_INITIALIZE, OUTCOME_REFUSED, 0);
    mcp_init_clear (&init);
    json_decref (id);
    jsonrpc_destroy (&msg);
}

//  Every request still in flight gets its one answer before the session goes.
static void
s_end_calls (host_t *self, session_t *session)
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
        s_refuse (self, &call->peer, call->sid, 404, "session closed", call->id, -1);
        s_outcome (self, METHOD_TOOLS_CALL, OUTCOME_REFUSED, 0);
        s_call_cancel (self, call);
        s_call_end (self, call);
    }
    zlistx_destroy (&ended);
}

//  Ends a session here: its calls are answered, its memory freed.
static void
s_end_session (host_t *self, session_t *session)
{
    char sid [MCPZ_SID_SIZE + 1];
    memcpy (sid, session->id, sizeof (sid));
    s_end_calls (self, session);
    zhashx_delete (self->sessions, sid);
}

static void
s_handle_close (host_t *self, zmq_msg_t *peer, session_t *session)
{
    if (self->db) {
        //  The row goes first: a closed session must never come back
        op_t *op = s_op_start (self, OP_DELETE, "DELETE", session->id, NULL, 0);
        if (!op) {
            s_refuse (self, peer, session->id, 503, "store queue is full", NULL, RETRY_QUEUE_MS);
            return;
        }
        zmq_msg_copy (&op->peer, peer);
        s_end_calls (self, session);
        session->state = SESSION_CLOSING;
        return;
    }
    char sid [MCPZ_SID_SIZE + 1];
    memcpy (sid, session->id, sizeof (sid));
    s_end_session (self, session);
    self->closed++;
    s_send (self, "OK", peer, sid, NULL, strdup ("{}"), 2);
    log_debug (self->name, "session %s closed", sid);
}

//  Re-sends one kept event to the LISTEN peer, with its own event id.
typedef struct {
    host_t *host;
    zmq_msg_t *peer;
    const char *sid;
} replay_t;

static void
s_replay_one (void *arg, uint64_t event_id, zmq_msg_t *body)
{
    replay_t *replay = (replay_t *) arg;
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

//  LISTEN: replays every kept event newer than the client's, in order,
//  makes this peer the listener, then answers OK. "complete" says whether
//  the ring still held everything after the client's id.
static void
s_handle_listen (host_t *self, zmq_msg_t *peer, session_t *session, zmq_msg_t *body)
{
    char text [24] = "0";
    char *end = NULL;
    if (zmq_msg_size (body) > 0
    && (!frames_text (body, text, sizeof (text)) || text [0] < '0' || text [0] > '9'
        || (strtoull (text, &end, 10), *end))) {
        s_refuse (self, peer, session->id, 400, "LISTEN body must be a decimal event id", NULL, -1);
        return;
    }
    uint64_t after = strtoull (text, NULL, 10);
    replay_t replay = { self, peer, session->id };
    size_t replayed = session->ring? ring_replay (session->ring, after, s_replay_one, &replay): 0;
    uint64_t oldest = session->ring? ring_oldest (session->ring): 0;
    //  Complete when the ring reaches back to the event after the client's.
    //  After a resume the ring starts in a new epoch: what an earlier
    //  process sent is not kept, so an older id is never complete.
    bool complete = after >= session->event_id || (oldest && oldest <= after + 1);
    if (session_set_listener (session, peer))
        log_warn (self->name, "session %s: no memory for its listener", session->id);
    char reply [128];
    snprintf (reply, sizeof (reply), "{\"last_event_id\":%" PRIu64 ",\"replayed\":%zu,"
              "\"complete\":%s}", session->event_id, replayed, complete? "true": "false");
    s_send (self, "OK", peer, session->id, NULL, strdup (reply), strlen (reply));
}

//  This host's figures, as one JSON object.
static char *
s_figures (host_t *self)
{
    json_t *figures = json_pack ("{s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "host", atoi (self->name + 5),
        "sessions", (json_int_t) zhashx_size (self->sessions),
        "opened", (json_int_t) self->opened, "closed", (json_int_t) self->closed,
        "requests", (json_int_t) self->requests, "errors", (json_int_t) self->errors,
        "overloads", (json_int_t) self->overloads,
        "inflight", (json_int_t) zhashx_size (self->calls), "late", (json_int_t) self->late,
        "loading", (json_int_t) zhashx_size (self->loading),
        "store_ops", (json_int_t) zhashx_size (self->ops),
        "loads", (json_int_t) self->loads, "load_misses", (json_int_t) self->load_misses,
        "store_errors", (json_int_t) self->store_errors, "expired", (json_int_t) self->expired,
        "dropped", (json_int_t) self->dropped, "evicted", (json_int_t) self->evicted,
        "timeouts", (json_int_t) self->phases [PHASE_TIMED_OUT],
        "cancelled", (json_int_t) self->phases [PHASE_CANCELLED]);
    json_object_set_new (figures, "late_store", json_integer ((json_int_t) self->late_store));
    json_t *methods = json_object (), *latency = json_object (), *refusals = json_object ();
    for (int method = 0; method < METHODS; method++) {
        json_t *outcomes = json_object ();
        for (int outcome = 0; outcome < OUTCOMES; outcome++)
            if (self->outcomes [method][outcome])
                json_object_set_new (outcomes, s_outcome_names [outcome],
                                     json_integer ((json_int_t) self->outcomes [method][outcome]));
        json_object_set_new (methods, s_method_names [method], outcomes);
        if (self->latency [method].count)
            json_object_set_new (latency, s_method_names [method],
                                 histogram_to_json (&self->latency [method]));
    }
    for (int index = 0; index < STATUSES; index++) {
        char status [8];
        snprintf (status, sizeof (status), "%d", s_statuses [index]);
        json_object_set_new (refusals, status, json_integer ((json_int_t) self->refusals [index]));
    }
    json_object_set_new (figures, "methods", methods);
    json_object_set_new (figures, "latency", latency);
    json_object_set_new (figures, "refusals", refusals);
    char *text = json_dumps (figures, JSON_COMPACT);
    json_decref (figures);
    return text;
}

//  Starts a reply to the control or cleanup actor: command, then tag. It
//  never waits: a reply they cannot take now is dropped, and they answer
//  "partial" or count the cycle's batch failed; a host never stalls on an
//  operator. Returns false when nothing was sent.
static bool
s_reply_start (host_t *self, void *socket, const char *command, zmq_msg_t *tag)
{
    if (zmq_send (socket, command, strlen (command), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return false;
    zmq_msg_send (tag, socket, ZMQ_SNDMORE);
    return true;
}

//  STATS from the supervisor (pipe, which always drains) or the control
//  actor: tag, figures.
static void
s_handle_stats (host_t *self, void *socket, zmq_msg_t *tag)
{
    char *figures = s_figures (self);
    if (socket == self->raw) {
        frames_send_text (socket, "STATS", ZMQ_SNDMORE);
        zmq_msg_send (tag, socket, ZMQ_SNDMORE);
    }
    else
    if (!s_reply_start (self, socket, "STATS", tag)) {
        free (figures);
        return;
    }
    frames_send_owned (socket, figures, figures? strlen (figures): 0, 0);
}

//  A session as the control protocol shows it.
static json_t *
s_session_json (host_t *self, session_t *session)
{
    static const char *const states [] = { "persisting", "initializing", "ready", "closing" };
    int64_t idle = zclock_mono () - session->last_activity_ms;
    return json_pack ("{s:s,s:s,s:O,s:I,s:I,s:I,s:i,s:s,s:I}",
        "id", session->id,
        "protocol_version", mcp_versions [session->version],
        "client", session->client_info,
        "last_activity", (json_int_t) (store_now_ms () - idle),
        "idle_ms", (json_int_t) idle,
        "created", (json_int_t) session->created_ms,
        "inflight", (int) session->inflight,
        "state", states [session->state],
        "last_event_id", (json_int_t) session->event_id);
}

static int
s_by_id (const void *a, const void *b)
{
    return strcmp ((*(session_t **) a)->id, (*(session_t **) b)->id);
}

//  LIST tag cursor limit: this host's sessions above the cursor, by id.
static void
s_handle_list (host_t *self, zmq_msg_t *tag, const char *cursor, size_t limit)
{
    size_t size = zhashx_size (self->sessions), count = 0;
    session_t **above = (session_t **) calloc (size + 1, sizeof (session_t *));
    for (session_t *session = (session_t *) zhashx_first (self->sessions);
         session && above; session = (session_t *) zhashx_next (self->sessions))
        if (strcmp (session->id, cursor) > 0)
            above [count++] = session;
    if (above)
        qsort (above, count, sizeof (session_t *), s_by_id);
    json_t *sessions = json_array ();
    for (size_t index = 0; index < count && index < limit; index++)
        json_array_append_new (sessions, s_session_json (self, above [index]));
    json_t *page = json_pack ("{s:o,s:b}", "sessions", sessions, "more", count > limit);
    char *text = json_dumps (page, JSON_COMPACT);
    json_decref (page);
    free (above);
    if (s_reply_start (self, self->control_raw, "LISTED", tag))
        frames_send_owned (self->control_raw, text, text? strlen (text): 0, 0);
    else
        free (text);
}

static void
s_handle_info (host_t *self, zmq_msg_t *tag, const char *sid)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, sid);
    char *text = NULL;
    if (session) {
        json_t *info = s_session_json (self, session);
        text = json_dumps (info, JSON_COMPACT);
        json_decref (info);
    }
    if (s_reply_start (self, self->control_raw, "INFO", tag))
        frames_send_text (self->control_raw, text? text: "", 0);
    free (text);
}

static void
s_killed (host_t *self, const char *tag, const char *status)
{
    frames_send_strings (self->control_raw, "KILLED", tag, status, NULL);
}


//  KILL tag id: ends the session as CLOSE would, answering the operator
//  once the row is deleted.
static void
s_handle_kill (host_t *self, const char *tag, const char *sid)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, sid);
    if (!session || !session_live (session)) {
        s_killed (self, tag, "missing");
        return;
    }
    log_info (self->name, "session %s killed by an operator", sid);
    if (!self->db) {
        s_end_session (self, session);
        self->closed++;
        s_killed (self, tag, "ok");
        return;
    }
    op_t *op = s_op_start (self, OP_DELETE, "DELETE", session->id, NULL, 0);
    if (!op) {
        s_killed (self, tag, "store queue is full, try again");
        return;
    }
    op->kill_tag = strdup (tag);
    s_end_calls (self, session);
    session->state = SESSION_CLOSING;
}

static bool
s_handle_control (host_t *self)
{
    zmq_msg_t frames [4];
    int count;
    if (frames_recv (self->control_raw, frames, 4, &count, ZMQ_DONTWAIT))
        return false;
    char tag [16], arg [MCPZ_SID_SIZE + 1] = "", limit [16] = "100";
    bool tagged = count >= 2 && frames_text (&frames [1], tag, sizeof (tag));
    if (count >= 3)
        frames_text (&frames [2], arg, sizeof (arg));
    if (count == 4)
        frames_text (&frames [3], limit, sizeof (limit));
    if (!tagged)
        ;
    else
    if (count == 2 && frames_is (&frames [0], "STATS"))
        s_handle_stats (self, self->control_raw, &frames [1]);
    else
    if (count == 4 && frames_is (&frames [0], "LIST"))
        s_handle_list (self, &frames [1], arg, (size_t) atoi (limit));
    else
    if (count == 3 && frames_is (&frames [0], "INFO"))
        s_handle_info (self, &frames [1], arg);
    else
    if (count == 3 && frames_is (&frames [0], "KILL"))
        s_handle_kill (self, tag, arg);
    frames_close (frames, count < 4? count: 4);
    return true;
}

//  --------------------------------------------------------------------------
//  Resuming sessions from the store

//  Keeps the frames of a session this host does not hold and asks the store
//  for it; the frames are moved out of frames.
static void
s_load (host_t *self, zmq_msg_t *frames, const char *sid)
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
            zhashx_insert (self->loading, op->sid, op);
        }
    }
    queued_t *queued = op && zlistx_size (op->queued) < LOAD_QUEUE?
                       (queued_t *) calloc (1, sizeof (queued_t)): NULL;
    if (!queued) {
        s_refuse_body (self, &frames [1], sid, 503, "session is loading, too many waiting",
                       &frames [3], RETRY_QUEUE_MS);
        return;
    }
    for (int index = 0; index < 4; index++) {
        zmq_msg_init (&queued->frames [index]);
        zmq_msg_move (&queued->frames [index], &frames [index]);
    }
    zlistx_add_end (op->queued, queued);
}

static void s_route (host_t *self, zmq_msg_t *frames, int count);

//  The store answered a LOAD: the session continues, or its frames are
//  refused, in the order they came.
static void
s_loaded (host_t *self, op_t *op, zmq_msg_t *frames, int count)
{
    zhashx_delete (self->loading, op->sid);
    bool ok = frames && count == 7 && frames_is (&frames [1], "OK");
    bool missing = frames && frames_is (&frames [1], "MISSING");
    if (ok) {
        char version [8], epoch [16];
        frames_text (&frames [2], version, sizeof (version));
        frames_text (&frames [6], epoch, sizeof (epoch));
        json_t *client = json_loadb (zmq_msg_data (&frames [4]), zmq_msg_size (&frames [4]), 0, NULL);
        json_t *capabilities = json_loadb (zmq_msg_data (&frames [5]), zmq_msg_size (&frames [5]), 0, NULL);
        int index = atoi (version);
        session_t *session = session_new (op->sid, index >= 0 && index < MCP_VERSION_COUNT? index: 0,
                                          client? client: json_object (),
                                          capabilities? capabilities: json_object (),
                                          (uint32_t) strtoul (epoch, NULL, 10), zclock_mono ());
        if (session) {
            char created [24];
            frames_text (&frames [3], created, sizeof (created));
            session->created_ms = strtoll (created, NULL, 10);
        }
        if (session && zhashx_insert (self->sessions, session->id, session) == 0) {
            self->loads++;
            log_debug (self->name, "session %s resumed, epoch %s", op->sid, epoch);
        }
        else {
            session_destroy (&session);
            ok = false;
        }
    }
    else
    if (missing)
        self->load_misses++;
    else
        self->store_errors++;
    for (queued_t *queued = (queued_t *) zlistx_first (op->queued); queued;
         queued = (queued_t *) zlistx_next (op->queued)) {
        if (ok)
            s_route (self, queued->frames, 4);
        else
            s_refuse_body (self, &queued->frames [1], op->sid, missing? 404: 503,
                           missing? "unknown session": "store unavailable",
                           &queued->frames [3], missing? -1: RETRY_STORE_MS);
    }
}

//  A store request's end: the DB worker's answer (frames), or its deadline
//  (frames NULL), which counts as the store being unavailable.
static void
s_op_finish (host_t *self, op_t *op, zmq_msg_t *frames, int count)
{
    bool ok = frames && frames_is (&frames [1], "OK");
    if (!ok && !(frames && frames_is (&frames [1], "MISSING"))) {
        char reason [256] = "no answer in time";
        if (frames && count >= 3)
            frames_text (&frames [2], reason, sizeof (reason));
        log_warn (self->name, "store request for session %s failed: %s", op->sid, reason);
    }
    heap_remove (self->op_timers, &op->timer);
    session_t *session = (session_t *) zhashx_lookup (self->sessions, op->sid);
    if (op->kind == OP_LOAD)
        s_loaded (self, op, frames, count);
    else
    if (op->kind == OP_CREATE && session) {
        if (ok) {
            session->state = SESSION_INITIALIZING;
            s_answer_initialize (self, session, &op->peer, op->id, op->received);
        }
        else {
            self->store_errors++;
            zhashx_delete (self->sessions, op->sid);
            s_refuse (self, &op->peer, "", 503, "store unavailable", op->id, RETRY_STORE_MS);
            s_outcome (self, METHOD_INITIALIZE, OUTCOME_REFUSED, 0);
        }
    }
    else
    if (op->kind == OP_DELETE && session) {
        if (ok) {
            s_end_session (self, session);
            self->closed++;
            if (op->kill_tag)
                s_killed (self, op->kill_tag, "ok");
            else
                s_send (self, "OK", &op->peer, op->sid, NULL, strdup ("{}"), 2);
        }
        else {
            //  The row may still be there: keep the session, the client retries
            self->store_errors++;
            session->state = SESSION_READY;
            if (op->kill_tag)
                s_killed (self, op->kill_tag, "store unavailable, try again");
            else
                s_refuse (self, &op->peer, op->sid, 503, "store unavailable", NULL, RETRY_STORE_MS);
        }
    }
}

//  Ends store requests past their deadline; returns ms to the next one.
static long
s_expire_ops (host_t *self)
{
    int64_t now = zclock_mono ();
    heap_node_t *node;
    while ((node = heap_first (self->op_timers)) && node->deadline <= now) {
        op_t *op = (op_t *) ((char *) node - offsetof (op_t, timer));
        uint64_t tag = op->tag;
        s_op_finish (self, op, NULL, 0);
        zhashx_delete (self->ops, &tag);
    }
    node = heap_first (self->op_timers);
    return node? (long) (node->deadline - now): -1;
}

static bool
s_handle_db (host_t *self)
{
    zmq_msg_t frames [8];
    int count;
    if (frames_recv (self->db_raw, frames, 8, &count, ZMQ_DONTWAIT))
        return false;
    int kept = count < 8? count: 8;
    uint64_t tag = 0;
    op_t *op = NULL;
    if (count >= 2 && zmq_msg_size (&frames [0]) == sizeof (tag)) {
        memcpy (&tag, zmq_msg_data (&frames [0]), sizeof (tag));
        op = (op_t *) zhashx_lookup (self->ops, &tag);
    }
    if (!op) {
        //  Its deadline passed and it was answered already
        self->late_store++;
        frames_close (frames, kept);
        return true;
    }
    s_op_finish (self, op, frames, count);
    zhashx_delete (self->ops, &tag);
    frames_close (frames, kept);
    return true;
}

//  --------------------------------------------------------------------------
//  Cleanup

//  Drops sessions idle past the TTL, reports the others with their last
//  activity as wall-clock ms.
static void
s_sweep (host_t *self, zmq_msg_t *tag, int64_t ttl_ms)
{
    size_t size = zhashx_size (self->sessions);
    char *ids = (char *) malloc (size * MCPZ_SID_SIZE + 1);
    int64_t *last = (int64_t *) malloc (size * sizeof (int64_t) + 1);
    zlistx_t *idle = zlistx_new ();
    int64_t mono = zclock_mono ();
    int64_t wall = store_now_ms ();
    size_t live = 0;
    for (session_t *session = (session_t *) zhashx_first (self->sessions);
         session && ids && last; session = (session_t *) zhashx_next (self->sessions)) {
        if (!session_live (session))
            continue;           //  its row is being written or deleted
        if (session->inflight == 0 && mono - session->last_activity_ms >= ttl_ms)
            zlistx_add_end (idle, session);
        else {
            //  A session with a call in flight is active now, however long
            //  ago its last frame came
            memcpy (ids + live * MCPZ_SID_SIZE, session->id, MCPZ_SID_SIZE);
            last [live++] = session->inflight? wall: wall - (mono - session->last_activity_ms);
        }
    }
    size_t expired = zlistx_size (idle);
    for (session_t *session = (session_t *) zlistx_first (idle); session;
         session = (session_t *) zlistx_next (idle)) {
        log_debug (self->name, "session %s expired", session->id);
        zhashx_delete (self->sessions, session->id);
    }
    zlistx_destroy (&idle);
    self->expired += expired;
    char count [24];
    snprintf (count, sizeof (count), "%zu", expired);
    if (s_reply_start (self, self->cleanup_raw, "SWEPT", tag)) {
        frames_send_text (self->cleanup_raw, count, ZMQ_SNDMORE);
        frames_send_copy (self->cleanup_raw, ids, live * MCPZ_SID_SIZE, ZMQ_SNDMORE);
        frames_send_copy (self->cleanup_raw, last, live * sizeof (int64_t), 0);
    }
    free (ids);
    free (last);
}

static void
s_drop (host_t *self, zmq_msg_t *ids)
{
    size_t count = zmq_msg_size (ids) / MCPZ_SID_SIZE;
    for (size_t index = 0; index < count; index++) {
        char sid [MCPZ_SID_SIZE + 1];
        memcpy (sid, (char *) zmq_msg_data (ids) + index * MCPZ_SID_SIZE, MCPZ_SID_SIZE);
        sid [MCPZ_SID_SIZE] = 0;
        session_t *session = (session_t *) zhashx_lookup (self->sessions, sid);
        if (session && session_live (session)) {
            log_debug (self->name, "session %s is gone from the store", sid);
            s_end_session (self, session);
            self->dropped++;
        }
    }
}

static bool
s_handle_cleanup (host_t *self)
{
    zmq_msg_t frames [3];
    int count;
    if (frames_recv (self->cleanup_raw, frames, 3, &count, ZMQ_DONTWAIT))
        return false;
    char ttl [24];
    if (count == 3 && frames_is (&frames [0], "SWEEP") && frames_text (&frames [2], ttl, sizeof (ttl)))
        s_sweep (self, &frames [1], strtoll (ttl, NULL, 10));
    else
    if (count == 2 && frames_is (&frames [0], "DROP"))
        s_drop (self, &frames [1]);
    frames_close (frames, count < 3? count: 3);
    return true;
}

//  --------------------------------------------------------------------------
//  Frames from the supervisor

//  Acts on one message: cmd, peer, sid, body (or STATS tag, or $TERM).
static void
s_route (host_t *self, zmq_msg_t *frames, int count)
{
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
    if (count == 4 && !session && self->db)
        s_load (self, frames, sid);
    else
    if (count == 4 && (!session || !session_live (session)))
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
        s_handle_stats (self, self->raw, &frames [1]);
    else
    if (count >= 1 && frames_is (&frames [0], "$TERM"))
        self->terminated = true;
    else
        log_error (self->name, "malformed message from the supervisor (%d frames)", count);
}

static bool
s_handle_pipe (host_t *self)
{
    zmq_msg_t frames [4];
    int count;
    if (frames_recv (self->raw, frames, 4, &count, ZMQ_DONTWAIT))
        return false;
    s_route (self, frames, count);
    frames_close (frames, count < 4? count: 4);
    return true;
}

//  --------------------------------------------------------------------------

static int
s_connect_store (host_t *self, session_host_args_t *args)
{
    self->ops = zhashx_new ();
    self->loading = zhashx_new ();
    self->op_timers = heap_new ();
    if (!self->op_timers)
        return -1;
    self->cleanup = zsock_new (ZMQ_DEALER);
    if (!self->ops || !self->loading || !self->cleanup)
        return -1;
    zhashx_set_key_duplicator (self->ops, NULL);
    zhashx_set_key_destructor (self->ops, NULL);
    zhashx_set_key_hasher (self->ops, s_u64_hash);
    zhashx_set_key_comparator (self->ops, s_u64_compare);
    zhashx_set_destructor (self->ops, (zhashx_destructor_fn *) s_op_destroy);
    //  loading only indexes ops that ops owns
    zhashx_set_key_duplicator (self->loading, NULL);
    zhashx_set_key_destructor (self->loading, NULL);
    char identity [16];
    cleanup_host_identity (args->index, identity, sizeof (identity));
    zsock_set_identity (self->cleanup, identity);
    if (zsock_connect (self->cleanup, "%s", args->cleanup_endpoint) == -1)
        return -1;
    self->cleanup_raw = zsock_resolve (self->cleanup);
    self->control = zsock_new (ZMQ_DEALER);
    if (!self->control)
        return -1;
    zsock_set_identity (self->control, identity);
    if (zsock_connect (self->control, "%s", args->control_endpoint) == -1)
        return -1;
    self->control_raw = zsock_resolve (self->control);
    if (args->db_count == 0)
        return 0;
    self->db = zsock_new (ZMQ_DEALER);
    if (!self->db)
        return -1;
    zsock_set_sndhwm (self->db, DB_HWM);
    zsock_set_rcvhwm (self->db, DB_HWM);
    for (int index = 0; index < args->db_count; index++)
        if (zsock_connect (self->db, "%s", args->db_endpoints [index]) == -1)
            return -1;
    self->db_raw = zsock_resolve (self->db);
    return 0;
}

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
    self->by_request = zhashx_new ();
    self->timers = heap_new ();
    self->tools = zsock_new (ZMQ_DEALER);
    if (!self->sessions || !self->calls || !self->by_request || !self->timers || !self->tools)
        return -1;
    //  by_request indexes calls that calls owns, by their own key string
    zhashx_set_key_duplicator (self->by_request, NULL);
    zhashx_set_key_destructor (self->by_request, NULL);
    //  Sessions are keyed by their own id buffer: no key copies
    zhashx_set_key_duplicator (self->sessions, NULL);
    zhashx_set_key_destructor (self->sessions, NULL);
    zhashx_set_destructor (self->sessions, (zhashx_destructor_fn *) session_destroy);
    zhashx_set_key_duplicator (self->calls, NULL);
    zhashx_set_key_destructor (self->calls, NULL);
    zhashx_set_key_hasher (self->calls, s_u64_hash);
    zhashx_set_key_comparator (self->calls, s_u64_compare);
    zhashx_set_destructor (self->calls, (zhashx_destructor_fn *) s_call_destroy);
    zsock_set_sndhwm (self->tools, args->config->tool_queue);
    zsock_set_rcvhwm (self->tools, 100000);
    if (zsock_connect (self->tools, "%s", args->tools_endpoint) == -1)
        return -1;
    self->tools_raw = zsock_resolve (self->tools);
    return s_connect_store (self, args);
}

//  Reads every waiting message of one socket, up to a batch, so a busy
//  socket costs one poll per batch rather than one per message.
static void
s_drain (host_t *self, void *socket, bool (*handler) (host_t *))
{
    //  Reading until EAGAIN costs nothing; asking ZMQ_EVENTS first costs a
    //  getpid(2) inside libzmq per message (its fork check)
    for (int batch = 0; batch < 256 && !self->terminated && handler (self); batch++)
        ;
}

static void
s_stop (host_t *self)
{
    zhashx_destroy (&self->loading);
    zhashx_destroy (&self->ops);
    heap_destroy (&self->op_timers);
    zhashx_destroy (&self->by_request);
    zhashx_destroy (&self->calls);
    heap_destroy (&self->timers);
    zhashx_destroy (&self->sessions);
    zsock_destroy (&self->db);
    zsock_destroy (&self->cleanup);
    zsock_destroy (&self->control);
    zsock_destroy (&self->tools);
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
    zmq_pollitem_t items [] = {
        { self.raw, 0, ZMQ_POLLIN, 0 },
        { self.tools_raw, 0, ZMQ_POLLIN, 0 },
        { self.cleanup_raw, 0, ZMQ_POLLIN, 0 },
        { self.control_raw, 0, ZMQ_POLLIN, 0 },
        { self.db_raw, 0, ZMQ_POLLIN, 0 }
    };
    int item_count = self.db? 5: 4;
    while (!self.terminated) {
        long timeout = s_expire_calls (&self);
        long ops = s_expire_ops (&self);
        if (ops >= 0 && (timeout < 0 || ops < timeout))
            timeout = ops;
        if (zmq_poll (items, item_count, timeout) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        //  Answers first: they free room in the queues behind them
        if (items [1].revents & ZMQ_POLLIN)
            s_drain (&self, self.tools_raw, s_handle_pool);
        if (self.db && (items [4].revents & ZMQ_POLLIN))
            s_drain (&self, self.db_raw, s_handle_db);
        if (items [2].revents & ZMQ_POLLIN)
            s_drain (&self, self.cleanup_raw, s_handle_cleanup);
        if (items [3].revents & ZMQ_POLLIN)
            s_drain (&self, self.control_raw, s_handle_control);
        if (items [0].revents & ZMQ_POLLIN)
            s_drain (&self, self.raw, s_handle_pipe);
    }
    s_stop (&self);
}
