/*  methods — MCP requests and notifications of a live session.

    Owns: the method table. Takes a MSG body from the host's routing;
    sends answers through host.c and tool calls through calls.c.
    A request is looked up in the table (linear: a handful of rows, each a
    strcmp, is cheaper than hashing the name), checked against the row's
    capability and session state, and handed to the row's handler.
    Notifications go through a table of their own; unknown ones need no
    answer and get none. Responses answer requests mcpz sent the client
    (asks.c); they get no answer either.
*/
#include "actors/host/methods.h"
#include "actors/host/asks.h"
#include "actors/host/calls.h"
#include "actors/host/host.h"
#include "actors/host/lists.h"
#include "actors/host/subscriptions.h"
#include "proto/jsonw.h"
#include "proto/mcp.h"

typedef void (method_fn) (host_t *self, request_t *request);

typedef struct {
    const char *name;
    method_fn *handler;
    unsigned capability;        //  mcp_capability_t bits the server must offer
    session_state_t needs;      //  least session state it may come in
} method_row_t;

static void
s_initialize (host_t *self, request_t *request)
{
    host_answer_error (self, request->session, request->peer, request->id,
                       JSONRPC_INVALID_REQUEST, "session is already initialized");
}

static void
s_ping (host_t *self, request_t *request)
{
    host_answer_result (self, request->session, request->peer, request->id, "{}");
}

//  tools/list, resources/list, resources/templates/list, prompts/list
static void
s_list (host_t *self, request_t *request)
{
    list_kind_t kind = request->method == METHOD_TOOLS_LIST? LIST_TOOLS:
                       request->method == METHOD_RESOURCES_LIST? LIST_RESOURCES:
                       request->method == METHOD_TEMPLATES_LIST? LIST_TEMPLATES: LIST_PROMPTS;
    lists_answer (self, request, kind);
}

//  tools/call, resources/read, prompts/get, completion/complete
static void
s_provider (host_t *self, request_t *request)
{
    calls_start (self, request, request->method);
}

static void
s_set_level (host_t *self, request_t *request)
{
    int index = mcp_log_level (json_string_value (json_object_get (request->params, "level")));
    if (index < 0) {
        host_answer_error (self, request->session, request->peer, request->id,
                           JSONRPC_INVALID_PARAMS,
                           "level must be one of debug, info, notice, warning, error, "
                           "critical, alert, emergency");
        return;
    }
    request->session->log_level = (uint8_t) (index + 1);
    host_answer_result (self, request->session, request->peer, request->id, "{}");
}

//  One row per counted method, in method_t order
static const method_row_t s_methods [METHOD_OTHER] = {
    [METHOD_INITIALIZE]      = { "initialize",               s_initialize,              0,                   SESSION_INITIALIZING },
    [METHOD_PING]            = { "ping",                     s_ping,                    0,                   SESSION_INITIALIZING },
    [METHOD_TOOLS_LIST]      = { "tools/list",               s_list,                    MCP_CAP_TOOLS,       SESSION_INITIALIZING },
    [METHOD_TOOLS_CALL]      = { "tools/call",               s_provider,                MCP_CAP_TOOLS,       SESSION_INITIALIZING },
    [METHOD_SET_LEVEL]       = { "logging/setLevel",         s_set_level,               MCP_CAP_LOGGING,     SESSION_INITIALIZING },
    [METHOD_RESOURCES_LIST]  = { "resources/list",           s_list,                    MCP_CAP_RESOURCES,   SESSION_INITIALIZING },
    [METHOD_TEMPLATES_LIST]  = { "resources/templates/list", s_list,                    MCP_CAP_RESOURCES,   SESSION_INITIALIZING },
    [METHOD_RESOURCES_READ]  = { "resources/read",           s_provider,                MCP_CAP_RESOURCES,   SESSION_INITIALIZING },
    [METHOD_SUBSCRIBE]       = { "resources/subscribe",      subscriptions_subscribe,   MCP_CAP_RESOURCES,   SESSION_INITIALIZING },
    [METHOD_UNSUBSCRIBE]     = { "resources/unsubscribe",    subscriptions_unsubscribe, MCP_CAP_RESOURCES,   SESSION_INITIALIZING },
    [METHOD_PROMPTS_LIST]    = { "prompts/list",             s_list,                    MCP_CAP_PROMPTS,     SESSION_INITIALIZING },
    [METHOD_PROMPTS_GET]     = { "prompts/get",              s_provider,                MCP_CAP_PROMPTS,     SESSION_INITIALIZING },
    [METHOD_COMPLETE]        = { "completion/complete",      s_provider,                MCP_CAP_COMPLETIONS, SESSION_INITIALIZING },
};

const char *
methods_name (method_t method)
{
    return method < METHOD_OTHER? s_methods [method].name: "other";
}

static method_t
s_find (const char *name)
{
    for (int index = 0; index < METHOD_OTHER; index++)
        if (streq (name, s_methods [index].name))
            return (method_t) index;
    return METHOD_OTHER;
}

//  The one place a request is refused for what it asks rather than how.
static void
s_dispatch (host_t *self, request_t *request, method_t method)
{
    const method_row_t *row = method < METHOD_OTHER? &s_methods [method]: NULL;
    if (calls_in_flight (self, request->session, request->id))
        //  Its id already names a request in flight, whose answer is the
        //  one that id gets: this refusal names none (JSON-RPC's null id)
        host_answer_error (self, request->session, request->peer, NULL, JSONRPC_INVALID_REQUEST,
                           "a request with this id is already in flight");
    else
    if (!row || (row->capability & ~mcp_version_capabilities (request->session->version,
                                                              self->capabilities)))
        host_answer_error (self, request->session, request->peer, request->id,
                           JSONRPC_METHOD_NOT_FOUND, "method not found");
    else
    if (request->session->state < row->needs)
        host_answer_error (self, request->session, request->peer, request->id,
                           JSONRPC_INVALID_REQUEST, "session is not initialized");
    else
        row->handler (self, request);
}

//  Counts a request's phases and outcome around its handler. Requests
//  queued on a worker count their outcome when the worker answers.
static void
s_handle_request (host_t *self, session_t *session, zmq_msg_t *peer, jsonrpc_t *msg)
{
    request_t request = {
        .session = session, .peer = peer, .msg = msg, .id = jsonrpc_id (msg),
        .params = jsonrpc_params (msg), .received = zclock_usecs ()
    };
    method_t method = request.method = s_find (jsonrpc_method (msg));
    self->requests++;
    host_phase (self, PHASE_RECEIVED, session->id, request.id, 0);
    uint64_t queued = self->phases [PHASE_QUEUED];
    uint64_t refused = self->phases [PHASE_REFUSED];
    uint64_t errors = self->errors;
    s_dispatch (self, &request, method);
    if (self->phases [PHASE_QUEUED] != queued)
        return;
    outcome_t outcome = self->phases [PHASE_REFUSED] != refused? OUTCOME_REFUSED:
                        self->errors != errors? OUTCOME_ERROR: OUTCOME_OK;
    host_outcome (self, method, outcome, request.received);
    if (outcome != OUTCOME_REFUSED)
        host_phase (self, PHASE_ANSWERED, session->id, request.id, request.received);
}

static void
s_initialized (host_t *self, session_t *session, jsonrpc_t *msg)
{
    session->state = SESSION_READY;
}

//  notifications/cancelled: the call stops and gets no answer (MCP).
static void
s_cancelled (host_t *self, session_t *session, jsonrpc_t *msg)
{
    calls_cancel (self, session, json_object_get (jsonrpc_params (msg), "requestId"));
}

//  notifications/roots/list_changed: calls that asked for roots hear of it
static void
s_roots_changed (host_t *self, session_t *session, jsonrpc_t *msg)
{
    asks_roots_changed (self, session);
}

static const struct {
    const char *name;
    void (*handler) (host_t *self, session_t *session, jsonrpc_t *msg);
} s_notifications [] = {
    { "notifications/initialized",        s_initialized },
    { "notifications/cancelled",          s_cancelled },
    { "notifications/roots/list_changed", s_roots_changed },
};

static void
s_handle_notification (host_t *self, session_t *session, jsonrpc_t *msg)
{
    const char *method = jsonrpc_method (msg);
    for (size_t index = 0; index < sizeof (s_notifications) / sizeof (s_notifications [0]); index++)
        if (streq (method, s_notifications [index].name)) {
            s_notifications [index].handler (self, session, msg);
            return;
        }
}

//  One message (of a batch, or alone): see methods_handle_msg.
static int
s_handle_one (host_t *self, zmq_msg_t *peer, session_t *session, const char *data, size_t size)
{
    int code;
    const char *reason;
    json_t *id = NULL;
    jsonrpc_t *msg = jsonrpc_parse (data, size, &code, &reason, &id);
    if (!msg) {
        host_answer_error (self, session, peer, id, code, reason);
        json_decref (id);
        return -1;
    }
    jsonrpc_kind_t kind = jsonrpc_kind (msg);
    if (kind == JSONRPC_REQUEST)
        s_handle_request (self, session, peer, msg);
    else
    if (kind == JSONRPC_NOTIFICATION)
        s_handle_notification (self, session, msg);
    else
        asks_answer (self, session, msg);
    jsonrpc_destroy (&msg);
    return kind == JSONRPC_REQUEST;
}

//  A JSON-RPC batch (2025-03-26 sessions): each message handled as if it
//  came alone, the answers gathered into one array (batch.c).
static int
s_handle_batch (host_t *self, zmq_msg_t *peer, session_t *session, const char *data, size_t size)
{
    json_t *array = jsonrpc_costly (data, size)? NULL:
                    json_loadb (data, size, 0, NULL);
    batch_t *batch = json_array_size (array)? batch_new (peer, session->id): NULL;
    if (!batch) {
        json_decref (array);
        host_answer_error (self, session, peer, NULL, array? JSONRPC_INVALID_REQUEST: JSONRPC_PARSE_ERROR,
                           array? "a batch must hold one or more messages": "body is not valid JSON");
        return -1;
    }
    int requests = 0;
    size_t index;
    json_t *message;
    self->collecting = batch;
    json_array_foreach (array, index, message) {
        char *text = json_dumps (message, JSON_COMPACT | JSON_ENCODE_ANY);
        int held = text? s_handle_one (self, peer, session, text, strlen (text)): -1;
        requests += held > 0? held: 0;
        free (text);
    }
    self->collecting = NULL;
    json_decref (array);
    if (requests)
        batch_expect_answers (batch);
    //  A batch of notifications that got answers (errors) was answered
    bool sent = batch_release (self, &batch);
    return requests? requests: sent? -1: 0;
}

int
methods_handle_msg (host_t *self, zmq_msg_t *peer, session_t *session, zmq_msg_t *body)
{
    const char *data = (const char *) zmq_msg_data (body);
    size_t size = zmq_msg_size (body), at = 0;
    //  Only 2025-03-26 has batches; later revisions refuse them (-32600)
    if (session->version == MCP_VERSION_BATCHES) {
        while (at < size && (data [at] == ' ' || data [at] == '\t' || data [at] == '\r' || data [at] == '\n'))
            at++;
        if (at < size && data [at] == '[')
            return s_handle_batch (self, peer, session, data, size);
    }
    return s_handle_one (self, peer, session, data, size);
}
