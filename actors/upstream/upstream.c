/*  upstream — an actor that puts one MCP server behind mcpz: a pool of
    instances of it (stdio child processes or HTTP connections), shared by
    every session.

    Owns: its instances (child.c), the requests forwarded to them
    (multiplexed by this actor's own JSON-RPC ids), the calls waiting for a
    free instance (bounded by the upstream's queue), and what the server
    lists (tools, resources, templates, prompts).

    Takes, on its ROUTER from session hosts (DEALER), as the tool pool does:
      CALL   call-id, method, params JSON, timeout ms, trace
      CANCEL call-id              notifications/cancelled to the instance
      TELL   call-id, JSON        the client's answer to a request the
                                  instance made during that call
      SUBSCRIBE uri               a session watches this resource of the
                                  server: every instance subscribes to it
      STATS  tag                  (from the control actor)
    Sends to session hosts: PROGRESS, LOG, ASK call-id, JSON; DONE call-id,
    result, code, message; BUSY call-id; STATS tag, JSON.
    Sends on its pipe to the supervisor: UPDATED NAME, uri when the server
    says a resource changed; LISTS JSON, whenever what the server lists
    changes ({"name", "tools", "resources",
    "resourceTemplates", "prompts"}, all empty while no instance is up).

    Supervision: an instance that exits, or does not answer a ping within
    the upstream's ping interval, is killed and started again after a
    back-off (100 ms doubling to 5 s; reset once it stayed up 10 s); the
    requests it held are answered with an error at once. Its stderr goes to
    the log, a line at a time, under the upstream's name.

    Eras: a server speaks 2025-11-25 (initialize, a session, requests of
    its own to the client) or 2026-07-28 (stateless: every request carries
    its version and the client's capabilities in _meta). Unless the
    settings name it, the first instance finds out with server/discover,
    as the spec says a dual-era client does: a discover result (or a
    modern error) is 2026-07-28; any other error, silence on stdio past 3
    s, a child that exits, or an HTTP 4xx is 2025-11-25. The verdict holds
    for the upstream's life; an instance whose handshake then fails makes
    the next one probe again.

    What a 2025 server sends that is not tied to a request (log messages,
    its own requests to a client) goes to the session whose call it serves
    only when that instance serves exactly one call (or, over HTTP, when it
    came on that call's stream): stdio carries no link from a message to
    the request behind it, and a guess could hand one session's data to
    another. A 2026 server asks for input by answering input_required: the
    call's session is asked each request in turn (ASK/TELL, as above), and
    the call is sent again with the answers and the server's requestState,
    on any instance (at most 16 rounds). Its change notices come on a
    subscriptions/listen request each instance keeps open; its logs only
    for sessions that set a level (the host passes it in _meta).
*/
#include "actors/upstream/upstream.h"
#include "actors/upstream/child.h"
#include "actors/upstream/remote.h"
#include "proto/jsonrpc.h"
#include "proto/mcp.h"
#include "proto/mcpheaders.h"
#include "proto/metrics.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/log.h"
#include "runtime/table.h"

#include <inttypes.h>
#include <signal.h>

#define MAX_INSTANCES    64
#define OUTPUT_LIMIT     (16 * 1024 * 1024)  //  bytes waiting for a child's stdin
#define LINE_LIMIT       (64 * 1024 * 1024)  //  longest line a child may send
#define START_TIMEOUT_MS 15000              //  initialize must be answered by then
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   5000
#define STABLE_MS        10000              //  up this long: back-off starts over
#define GRACE_MS         1000               //  a forward outlives its deadline this long
#define CALL_FRAMES      7                  //  host, CALL, call-id, method, params, timeout, trace
#define SUBSCRIBED_MAX   10000              //  URIs of the server that sessions watch
#define LIST_ITEMS_MAX   10000              //  rows taken of each of its lists
#define LISTS_BYTES_MAX  (8 * 1024 * 1024)  //  bytes of all its lists: every host holds them
#define ITEMS            (2 + 3 * MAX_INSTANCES + 256)  //  poll items; HTTP sockets take the last 256
#define PROBE_TIMEOUT_MS 3000               //  a stdio server silent on server/discover is 2025-11-25
#define ROUNDS_MAX       16                 //  input_required rounds one call may take
#define LISTEN_DELAY_MS  100                //  subscriptions made within it reopen listen streams once
#define LISTEN_RETRY_MS  1000               //  a listen stream that ended opens again after it,
#define LISTEN_RETRY_MAX_MS 60000           //  doubling up to this
#define MODERN           "2026-07-28"
#define LEGACY           "2025-11-25"
#define META_VERSION     "io.modelcontextprotocol/protocolVersion"
#define META_CLIENT      "io.modelcontextprotocol/clientInfo"
#define META_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define META_LOG_LEVEL   "io.modelcontextprotocol/logLevel"

typedef enum { ERA_UNKNOWN, ERA_LEGACY, ERA_MODERN } era_t;
static const char *const s_eras [] = { "unknown", LEGACY, MODERN };

typedef enum { INSTANCE_DOWN, INSTANCE_STARTING, INSTANCE_READY } instance_state_t;
static const char *const s_states [] = { "down", "starting", "up" };

typedef struct {
    instance_state_t state;
    child_t *child;             //  a stdio upstream's process
    remote_t *remote;           //  an HTTP upstream's session
    int inflight;               //  forwards it holds
    uint64_t init_id;           //  id of its initialize (or server/discover) request
    bool discovering;           //  that request is server/discover
    bool probing;               //  ... which asks which era the server speaks
    uint64_t listen_id;         //  its open subscriptions/listen, or 0
    int64_t listen_at;          //  when to open one again, or 0
    int listen_backoff_ms;      //  after a stream that failed; doubles to a minute
    uint64_t ping_id;           //  id of the ping it owes an answer, or 0
    int64_t ping_sent;          //  when that ping went
    int64_t next_ping;
    int64_t started;            //  when it was started (START_TIMEOUT_MS)
    int64_t up_since;
    int64_t restart_at;         //  when a down instance starts again
    int backoff_ms;
    json_t *capabilities;       //  the server's, from initialize
} instance_t;

//  A call forwarded to an instance
typedef struct {
    uint64_t id;                //  our JSON-RPC id for it; the hash key
    zmq_msg_t host;             //  routing id of the host that asked
    uint64_t call_id;           //  the host's call id
    int instance;               //  -1 while a 2026 server waits for input
    int64_t started;
    int64_t deadline;
    json_t *asked;              //  id of the instance's request to the client, or NULL
    //  A call to a 2026 server, kept to send again with the input it asks
    char method [32];
    json_t *params;
    int rounds;
    json_t *requests;           //  inputRequests of the last round
    json_t *responses;          //  the session's answers so far
    json_t *state;              //  the server's requestState
    char *asking;               //  the key of the request the session is asked
} forward_t;

typedef struct {
    zmq_msg_t frames [CALL_FRAMES];
} pending_t;

//  Listing what the server offers, one method at a time, following cursors
static const struct {
    const char *method, *key, *capability;
} s_lists [] = {
    { "tools/list", "tools", "tools" },
    { "resources/list", "resources", "resources" },
    { "resources/templates/list", "resourceTemplates", "resources" },
    { "prompts/list", "prompts", "prompts" },
};
#define LISTS_COUNT 4

typedef struct {
    zsock_t *pipe;
    const config_t *config;
    const config_upstream_t *upstream;
    char name [64];             //  "upstream NAME", for logs
    zsock_t *router;
    void *raw;
    instance_t instances [MAX_INSTANCES];
    int count;
    zhashx_t *forwards;         //  id -> forward_t
    zlistx_t *queue;            //  pending_t, calls waiting for an instance
    uint64_t next_id;
    //  What the server lists
    json_t *lists;              //  as published last
    json_t *building;           //  being listed
    int listing;                //  index into s_lists, -1 when not listing
    int listing_instance;
    uint64_t list_id;           //  id of the list request in flight
    size_t building_bytes;      //  of what is listed so far
    bool lists_stale;           //  list again once an instance is up
    //  Figures
    zlistx_t *graveyard;        //  remotes taken down while they ran handlers
    zhashx_t *subscribed;       //  URIs sessions watch, as set keys
    era_t era;                  //  what the server speaks, once known
    zhashx_t *tool_rows;        //  tool name -> its row in lists (2026 HTTP headers)
    uint64_t calls, errors, restarts, busy;
    histogram_t latency;
    char last_error [256];
    bool terminated;
} upstream_t;

static void
s_forward_destroy (forward_t **forward_p)
{
    if (*forward_p) {
        forward_t *forward = *forward_p;
        zmq_msg_close (&forward->host);
        json_decref (forward->asked);
        json_decref (forward->params);
        json_decref (forward->requests);
        json_decref (forward->responses);
        json_decref (forward->state);
        free (forward->asking);
        free (forward);
        *forward_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Talking to session hosts

static void
s_to_host (upstream_t *self, zmq_msg_t *host, const char *command, uint64_t call_id)
{
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, host);
    zmq_msg_send (&copy, self->raw, ZMQ_SNDMORE);
    frames_send_text (self->raw, command, ZMQ_SNDMORE);
    frames_send_copy (self->raw, &call_id, sizeof (call_id), ZMQ_SNDMORE);
}

//  ASK the call's session a request of the server's: {"method","params"},
//  params left out when the server gave none (a null is not a request's)
static void
s_ask (upstream_t *self, forward_t *forward, json_t *method, json_t *params)
{
    json_t *ask = json_pack ("{s:O?}", "method", method);
    if (params)
        json_object_set (ask, "params", params);
    char *text = json_dumps (ask, JSON_COMPACT);
    json_decref (ask);
    s_to_host (self, &forward->host, "ASK", forward->call_id);
    frames_send_text (self->raw, text? text: "{}", 0);
    free (text);
}

//  DONE with a result (text) or a JSON-RPC error
static void
s_done (upstream_t *self, forward_t *forward, const char *result, int code, const char *message)
{
    char code_text [16];
    snprintf (code_text, sizeof (code_text), "%d", code);
    s_to_host (self, &forward->host, "DONE", forward->call_id);
    frames_send_text (self->raw, result? result: "", ZMQ_SNDMORE);
    frames_send_text (self->raw, code_text, ZMQ_SNDMORE);
    frames_send_text (self->raw, message? message: "", 0);
    self->calls++;
    self->errors += result == NULL;
    if (result)
        histogram_observe (&self->latency, (double) (zclock_usecs () - forward->started) / 1e6);
}

static void
s_end_forward (upstream_t *self, forward_t *forward)
{
    if (forward->instance >= 0 && self->instances [forward->instance].inflight)
        self->instances [forward->instance].inflight--;
    zhashx_delete (self->forwards, &forward->id);
}

//  --------------------------------------------------------------------------
//  Talking to instances

static void s_instance_down (upstream_t *self, int index, const char *reason);

//  params (taken, may be NULL) as the server's era wants them: a 2026
//  server gets its version, mcpz as the client, and the capabilities of the
//  client behind the call (the host adds them, with the log level the
//  session set) in _meta on every request; a 2025 server gets neither of
//  what the host added.
static json_t *
s_envelope (upstream_t *self, json_t *params)
{
    if (self->era == ERA_LEGACY) {
        json_t *meta = json_object_get (params, "_meta");
        int removed = (json_object_del (meta, META_CAPABILITIES) == 0) + (json_object_del (meta, META_LOG_LEVEL) == 0);
        if (removed && !json_object_size (meta))
            json_object_del (params, "_meta");
        return params;
    }
    if (!json_is_object (params)) {
        json_decref (params);
        params = json_object ();
    }
    json_t *meta = json_object_get (params, "_meta");
    if (!json_is_object (meta)) {
        meta = json_object ();
        json_object_set_new (params, "_meta", meta);
    }
    json_object_set_new (meta, META_VERSION, json_string (MODERN));
    json_object_set_new (meta, META_CLIENT, json_pack ("{s:s,s:s}", "name", "mcpz", "version", MCPZ_VERSION));
    if (!json_is_object (json_object_get (meta, META_CAPABILITIES)))
        json_object_set_new (meta, META_CAPABILITIES, json_object ());
    return params;
}

//  The Mcp-* header lines a 2026 HTTP server wants with message, or NULL
static char *
s_headers_for (upstream_t *self, json_t *message)
{
    if (self->era == ERA_LEGACY || !json_object_get (message, "method"))
        return NULL;
    json_t *name = json_object_get (json_object_get (message, "params"), "name");
    json_t *tool = json_is_string (name) && self->tool_rows?
                   (json_t *) zhashx_lookup (self->tool_rows, json_string_value (name)): NULL;
    return mcpheaders_request (message, json_object_get (tool, "inputSchema"));
}

//  Sends message (taken) to an instance, tagged with the id of the
//  request it is or answers for (HTTP: what comes back on its POST belongs
//  to that request); one that cannot take it is taken down.
static int
s_send_tagged (upstream_t *self, int index, json_t *message, uint64_t tag)
{
    char *text = message? json_dumps (message, JSON_COMPACT): NULL;
    instance_t *instance = &self->instances [index];
    int rc = -1;
    if (text && instance->child)
        rc = child_send (instance->child, text, strlen (text), OUTPUT_LIMIT);
    else
    if (text && instance->remote) {
        char *headers = s_headers_for (self, message);
        const char *method = json_string_value (json_object_get (message, "method"));
        rc = remote_send (instance->remote, text, strlen (text), tag, headers,
                          method && streq (method, "subscriptions/listen"));
        free (headers);
    }
    json_decref (message);
    free (text);
    if (rc)
        s_instance_down (self, index, instance->remote? "it cannot be reached": "it does not read its input");
    return rc;
}

static int
s_send (upstream_t *self, int index, json_t *message)
{
    return s_send_tagged (self, index, message, 0);
}

//  Sends a request of mcpz's own; params is borrowed. Returns its id, or 0.
static uint64_t
s_request (upstream_t *self, int index, const char *method, json_t *params)
{
    uint64_t id = ++self->next_id;
    json_t *request = json_pack ("{s:s,s:I,s:s}", "jsonrpc", "2.0", "id", (json_int_t) id, "method", method);
    json_t *enveloped = s_envelope (self, params? json_deep_copy (params): NULL);
    if (enveloped)
        json_object_set_new (request, "params", enveloped);
    return s_send_tagged (self, index, request, id) == 0? id: 0;
}

static void
s_publish (upstream_t *self)
{
    json_t *lists = self->lists? json_deep_copy (self->lists): json_object ();
    json_object_set_new (lists, "name", json_string (self->upstream->name));
    char *text = json_dumps (lists, JSON_COMPACT);
    json_decref (lists);
    if (text)
        frames_send_strings (zsock_resolve (self->pipe), "LISTS", text, NULL);
    free (text);
}

static int
s_ready_count (upstream_t *self)
{
    int ready = 0;
    for (int index = 0; index < self->count; index++)
        ready += self->instances [index].state == INSTANCE_READY;
    return ready;
}

static void s_list_next (upstream_t *self);

static bool
s_is_http (upstream_t *self)
{
    return strncmp (self->upstream->spec, "stdio:", 6) != 0;
}

//  Indexes the tools listed by name. A 2026 HTTP client must mirror
//  annotated arguments into headers, and must leave out a tool whose
//  annotations it cannot honour.
static void
s_index_tools (upstream_t *self)
{
    zhashx_purge (self->tool_rows);
    json_t *tools = json_object_get (self->lists, "tools");
    for (size_t at = 0; at < json_array_size (tools); ) {
        json_t *tool = json_array_get (tools, at);
        const char *name = json_string_value (json_object_get (tool, "name"));
        const char *reason = NULL;
        if (self->era == ERA_MODERN && s_is_http (self)
        &&  !mcpheaders_schema_valid (json_object_get (tool, "inputSchema"), &reason)) {
            log_warn (self->name, "tool %s is left out: its inputSchema has %s", name? name: "?", reason);
            json_array_remove (tools, at);
            continue;
        }
        if (name)
            zhashx_update (self->tool_rows, name, tool);
        at++;
    }
}

//  Lists everything again, on a ready instance
static void
s_list_start (upstream_t *self)
{
    self->lists_stale = true;
    if (self->listing >= 0)
        return;                 //  the listing under way starts over when done
    for (int index = 0; index < self->count; index++)
        if (self->instances [index].state == INSTANCE_READY) {
            self->lists_stale = false;
            self->listing = 0;
            self->listing_instance = index;
            json_decref (self->building);
            self->building = json_object ();
            self->building_bytes = 0;
            s_list_next (self);
            return;
        }
}

//  Asks for the next list (cursor: the page after, or NULL), skipping what
//  the server did not declare
static void
s_list_ask (upstream_t *self, const char *cursor)
{
    instance_t *instance = &self->instances [self->listing_instance];
    while (self->listing < LISTS_COUNT
    &&  !json_object_get (instance->capabilities, s_lists [self->listing].capability))
        self->listing++;
    if (self->listing == LISTS_COUNT) {
        json_decref (self->lists);
        self->lists = self->building;
        self->building = NULL;
        s_index_tools (self);
        self->listing = -1;
        s_publish (self);
        if (self->lists_stale)
            s_list_start (self);
        return;
    }
    json_t *params = cursor? json_pack ("{s:s}", "cursor", cursor): NULL;
    self->list_id = s_request (self, self->listing_instance, s_lists [self->listing].method, params);
    json_decref (params);
}

static void
s_list_next (upstream_t *self)
{
    s_list_ask (self, NULL);
}

//  A page of the list being made
static void
s_list_page (upstream_t *self, json_t *result)
{
    const char *key = s_lists [self->listing].key;
    json_t *items = json_object_get (self->building, key);
    if (!items) {
        items = json_array ();
        json_object_set_new (self->building, key, items);
    }
    //  A server that lists without end, or huge rows, gets what fits: every
    //  host keeps a copy of the lists
    json_t *page = json_object_get (result, key);
    size_t size = json_dumpb (page, NULL, 0, JSON_COMPACT);
    const char *cursor = json_string_value (json_object_get (result, "nextCursor"));
    if (json_array_size (items) + json_array_size (page) > LIST_ITEMS_MAX
    ||  self->building_bytes + size > LISTS_BYTES_MAX) {
        log_warn (self->name, "%s stops at %zu rows, %zu bytes: the server lists more than mcpz keeps",
                  s_lists [self->listing].method, json_array_size (items), self->building_bytes);
        cursor = NULL;
    }
    else {
        json_array_extend (items, page);
        self->building_bytes += size;
    }
    if (!cursor)
        self->listing++;
    s_list_ask (self, cursor);
}

//  --------------------------------------------------------------------------
//  Calls

//  The ready instance with the fewest calls, under the in-flight bound; -1
static int
s_free_instance (upstream_t *self)
{
    int best = -1;
    for (int index = 0; index < self->count; index++) {
        instance_t *instance = &self->instances [index];
        if (instance->state == INSTANCE_READY && instance->inflight < self->upstream->max_inflight
        &&  (best < 0 || instance->inflight < self->instances [best].inflight))
            best = index;
    }
    return best;
}

//  Sends a forward to an instance under a fresh id: progress comes back
//  under that id (the host's token is its own), and a 2026 server's retry
//  is a new request that carries the input it asked for.
static void
s_forward_send (upstream_t *self, forward_t *forward, int index, json_t *params)
{
    if (forward->id) {
        //  Out of the table without being destroyed: its key is its id
        zhashx_set_destructor (self->forwards, NULL);
        zhashx_delete (self->forwards, &forward->id);
        zhashx_set_destructor (self->forwards, (zhashx_destructor_fn *) s_forward_destroy);
    }
    forward->id = ++self->next_id;
    forward->instance = index;
    zhashx_insert (self->forwards, &forward->id, forward);
    self->instances [index].inflight++;
    json_t *meta = json_object_get (params, "_meta");
    if (json_object_get (meta, "progressToken"))
        json_object_set_new (meta, "progressToken", json_integer ((json_int_t) forward->id));
    json_t *request = json_pack ("{s:s,s:I,s:s}", "jsonrpc", "2.0", "id", (json_int_t) forward->id,
                                 "method", forward->method);
    if (params)
        json_object_set_new (request, "params", params);
    s_send_tagged (self, index, request, forward->id);
}

//  Sends a call (frames host, CALL, call-id, method, params, timeout) to an
//  instance
static void
s_dispatch (upstream_t *self, int index, zmq_msg_t *frames)
{
    forward_t *forward = (forward_t *) calloc (1, sizeof (forward_t));
    char timeout [16];
    json_t *params = json_loadb (zmq_msg_data (&frames [4]), zmq_msg_size (&frames [4]), 0, NULL);
    if (!forward || zmq_msg_size (&frames [2]) != sizeof (uint64_t)
    ||  !frames_text (&frames [3], forward->method, sizeof (forward->method))
    ||  !frames_text (&frames [5], timeout, sizeof (timeout))) {
        free (forward);
        json_decref (params);
        return;
    }
    zmq_msg_init (&forward->host);
    zmq_msg_copy (&forward->host, &frames [0]);
    memcpy (&forward->call_id, zmq_msg_data (&frames [2]), sizeof (uint64_t));
    forward->started = zclock_usecs ();
    forward->deadline = zclock_mono () + atol (timeout) + GRACE_MS;
    params = s_envelope (self, params);
    //  Kept for the next round of the requests that may ask for input
    if (self->era == ERA_MODERN && (streq (forward->method, "tools/call")
    ||  streq (forward->method, "prompts/get") || streq (forward->method, "resources/read")))
        forward->params = json_deep_copy (params);
    s_forward_send (self, forward, index, params);
}

//  Queued calls go to instances that have room
static void
s_pump (upstream_t *self)
{
    int index;
    while (zlistx_size (self->queue) && (index = s_free_instance (self)) >= 0) {
        pending_t *pending = (pending_t *) zlistx_first (self->queue);
        zlistx_detach_cur (self->queue);
        s_dispatch (self, index, pending->frames);
        frames_close (pending->frames, CALL_FRAMES);
        free (pending);
    }
}

static void
s_handle_call (upstream_t *self, zmq_msg_t *frames)
{
    int index = zlistx_size (self->queue)? -1: s_free_instance (self);
    if (index >= 0) {
        s_dispatch (self, index, frames);
        return;
    }
    pending_t *pending = zlistx_size (self->queue) < (size_t) self->upstream->queue?
                         (pending_t *) calloc (1, sizeof (pending_t)): NULL;
    if (!pending) {
        self->busy++;
        zmq_msg_send (&frames [0], self->raw, ZMQ_SNDMORE);
        frames_send_text (self->raw, "BUSY", ZMQ_SNDMORE);
        zmq_msg_send (&frames [2], self->raw, 0);
        return;
    }
    for (int at = 0; at < CALL_FRAMES; at++) {
        zmq_msg_init (&pending->frames [at]);
        zmq_msg_move (&pending->frames [at], &frames [at]);
    }
    zlistx_add_end (self->queue, pending);
}

//  Tells an instance to stop work on request id: a 2026 HTTP server by the
//  closing of its stream, any other by notifications/cancelled
static void
s_cancel_request (upstream_t *self, int index, uint64_t id, const char *reason)
{
    instance_t *instance = &self->instances [index];
    if (instance->remote && self->era == ERA_MODERN)
        remote_cancel (instance->remote, id);
    else
        s_send (self, index, json_pack ("{s:s,s:s,s:{s:I,s:s}}", "jsonrpc", "2.0", "method",
            "notifications/cancelled", "params", "requestId", (json_int_t) id, "reason", reason));
}

static forward_t *
s_forward_of (upstream_t *self, zmq_msg_t *host, zmq_msg_t *call_id)
{
    if (zmq_msg_size (call_id) != sizeof (uint64_t))
        return NULL;
    uint64_t wanted;
    memcpy (&wanted, zmq_msg_data (call_id), sizeof (wanted));
    for (forward_t *forward = (forward_t *) zhashx_first (self->forwards); forward;
         forward = (forward_t *) zhashx_next (self->forwards))
        if (forward->call_id == wanted && zmq_msg_size (&forward->host) == zmq_msg_size (host)
        &&  memcmp (zmq_msg_data (&forward->host), zmq_msg_data (host), zmq_msg_size (host)) == 0)
            return forward;
    return NULL;
}

//  The host gave up on a call (cancelled, timed out): so does the server
static void
s_handle_cancel (upstream_t *self, zmq_msg_t *frames)
{
    forward_t *forward = s_forward_of (self, &frames [0], &frames [2]);
    if (forward) {
        if (forward->instance >= 0)
            s_cancel_request (self, forward->instance, forward->id, "the client cancelled the request");
        s_end_forward (self, forward);
        s_pump (self);
        return;
    }
    //  Still queued: it leaves the queue
    for (pending_t *pending = (pending_t *) zlistx_first (self->queue); pending;
         pending = (pending_t *) zlistx_next (self->queue))
        if (zmq_msg_size (&pending->frames [0]) == zmq_msg_size (&frames [0])
        &&  memcmp (zmq_msg_data (&pending->frames [0]), zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0])) == 0
        &&  zmq_msg_size (&pending->frames [2]) == zmq_msg_size (&frames [2])
        &&  memcmp (zmq_msg_data (&pending->frames [2]), zmq_msg_data (&frames [2]), zmq_msg_size (&frames [2])) == 0) {
            zlistx_detach_cur (self->queue);
            frames_close (pending->frames, CALL_FRAMES);
            free (pending);
            return;
        }
}

//  --------------------------------------------------------------------------
//  Input a 2026 server asks for (input_required)

//  An instance for a call's next round: one with room, else the least
//  busy one up (the call was let in already); -1 when none is up
static int
s_instance_for_round (upstream_t *self)
{
    int best = s_free_instance (self);
    for (int index = 0; best < 0 && index < self->count; index++)
        if (self->instances [index].state == INSTANCE_READY)
            best = index;
    return best;
}

//  Every request answered: the call goes again, with the answers and the
//  state the server gave
static void
s_next_round (upstream_t *self, forward_t *forward)
{
    int index = s_instance_for_round (self);
    if (index < 0) {
        char message [320];
        snprintf (message, sizeof (message), "upstream %s: no instance is up", self->upstream->name);
        s_done (self, forward, NULL, JSONRPC_INTERNAL_ERROR, message);
        s_end_forward (self, forward);
        return;
    }
    json_t *params = json_deep_copy (forward->params);
    json_object_set (params, "inputResponses", forward->responses);
    if (forward->state)
        json_object_set (params, "requestState", forward->state);
    s_forward_send (self, forward, index, params);
}

//  Asks the call's session the next request it has not answered
static void
s_ask_next (upstream_t *self, forward_t *forward)
{
    const char *key;
    json_t *request;
    free (forward->asking);
    forward->asking = NULL;
    json_object_foreach (forward->requests, key, request)
        if (!json_object_get (forward->responses, key)) {
            forward->asking = strdup (key);
            s_ask (self, forward, json_object_get (request, "method"), json_object_get (request, "params"));
            return;
        }
    s_next_round (self, forward);
}

//  A call's answer is input_required: its instance is free while the
//  session answers (a 2026 server keeps nothing between rounds)
static void
s_input_required (upstream_t *self, forward_t *forward, json_t *result)
{
    if (++forward->rounds > ROUNDS_MAX) {
        char message [320];
        snprintf (message, sizeof (message), "upstream %s asked for input %d times", self->upstream->name,
                  ROUNDS_MAX);
        s_done (self, forward, NULL, JSONRPC_INTERNAL_ERROR, message);
        s_end_forward (self, forward);
        return;
    }
    json_t *requests = json_object_get (result, "inputRequests");
    json_decref (forward->requests);
    forward->requests = json_is_object (requests)? json_incref (requests): json_object ();
    json_decref (forward->responses);
    forward->responses = json_object ();
    json_decref (forward->state);
    forward->state = json_incref (json_object_get (result, "requestState"));
    if (self->instances [forward->instance].inflight)
        self->instances [forward->instance].inflight--;
    forward->instance = -1;
    s_ask_next (self, forward);
}

//  The session's answer to one request: kept, or (an error) the call's end
static void
s_input_answered (upstream_t *self, forward_t *forward, json_t *told)
{
    json_t *result = json_object_get (told, "result");
    if (json_object_get (told, "changed"))
        return;                 //  the client's roots changed: the next round asks again
    if (!result) {
        json_t *error = json_object_get (told, "error");
        json_t *code = json_object_get (error, "code");
        const char *message = json_string_value (json_object_get (error, "message"));
        s_done (self, forward, NULL, json_is_integer (code)? (int) json_integer_value (code): JSONRPC_INTERNAL_ERROR,
                message? message: "the client answered neither result nor error");
        s_end_forward (self, forward);
        return;
    }
    json_object_set (forward->responses, forward->asking, result);
    s_ask_next (self, forward);
}

//  The client's answer to what the instance asked during a call: a 2025
//  server gets it as the response to its request; for a 2026 server it is
//  kept for the call's next round
static void
s_handle_tell (upstream_t *self, zmq_msg_t *frames)
{
    forward_t *forward = s_forward_of (self, &frames [0], &frames [2]);
    json_t *told = json_loadb (zmq_msg_data (&frames [3]), zmq_msg_size (&frames [3]), 0, NULL);
    if (forward && forward->asking && json_is_object (told))
        s_input_answered (self, forward, told);
    else
    if (forward && forward->asked && json_is_object (told)) {
        json_t *answer = json_pack ("{s:s,s:O}", "jsonrpc", "2.0", "id", forward->asked);
        json_object_update (answer, told);
        json_decref (forward->asked);
        forward->asked = NULL;
        s_send (self, forward->instance, answer);
    }
    json_decref (told);
}

static void
s_handle_stats (upstream_t *self, zmq_msg_t *host, zmq_msg_t *tag)
{
    json_t *instances = json_array ();
    int inflight = 0;
    for (int index = 0; index < self->count; index++) {
        instance_t *instance = &self->instances [index];
        inflight += instance->inflight;
        json_array_append_new (instances, json_pack ("{s:s,s:i,s:i}", "state", s_states [instance->state],
            "pid", instance->child? (int) child_pid (instance->child): 0, "inflight", instance->inflight));
    }
    int ready = s_ready_count (self);
    json_t *figures = json_pack ("{s:s,s:s,s:s,s:o,s:i,s:i,s:I,s:I,s:I,s:I,s:s,s:o}",
        "name", self->upstream->name, "state", ready == self->count? "up": ready? "degraded": "down",
        "era", s_eras [self->era],
        "instances", instances, "inflight", inflight, "queued", (int) zlistx_size (self->queue),
        "calls", (json_int_t) self->calls, "errors", (json_int_t) self->errors,
        "restarts", (json_int_t) self->restarts, "busy", (json_int_t) self->busy,
        "last_error", self->last_error, "latency", histogram_to_json (&self->latency));
    char *text = json_dumps (figures, JSON_COMPACT);
    json_decref (figures);
    zmq_msg_send (host, self->raw, ZMQ_SNDMORE);
    frames_send_text (self->raw, "STATS", ZMQ_SNDMORE);
    zmq_msg_send (tag, self->raw, ZMQ_SNDMORE);
    frames_send_text (self->raw, text? text: "{}", 0);
    free (text);
}

//  Subscribes an instance to uri (its answer, to an id nobody waits for,
//  is dropped)
static void
s_subscribe (upstream_t *self, int index, const char *uri)
{
    json_t *params = json_pack ("{s:s}", "uri", uri);
    s_request (self, index, "resources/subscribe", params);
    json_decref (params);
}

//  The first session to watch a URI makes every instance subscribe;
//  instances that start later subscribe when they are up. A bound keeps a
//  client from growing the set without end.
static void
s_handle_subscribe (upstream_t *self, zmq_msg_t *uri_frame)
{
    char *uri = strndup ((const char *) zmq_msg_data (uri_frame), zmq_msg_size (uri_frame));
    if (uri && !zhashx_lookup (self->subscribed, uri) && zhashx_size (self->subscribed) < SUBSCRIBED_MAX) {
        zhashx_insert (self->subscribed, uri, (void *) 1);
        //  A 2026 server's listen stream names them all: a burst of
        //  subscriptions opens it anew once
        int64_t soon = zclock_mono () + LISTEN_DELAY_MS;
        for (int index = 0; index < self->count; index++) {
            instance_t *instance = &self->instances [index];
            if (instance->state == INSTANCE_READY && self->era == ERA_MODERN && !instance->listen_at)
                instance->listen_at = soon;
            else
            if (instance->state == INSTANCE_READY && self->era != ERA_MODERN)
                s_subscribe (self, index, uri);
        }
    }
    free (uri);
}

static void
s_handle_host (upstream_t *self)
{
    zmq_msg_t frames [CALL_FRAMES];
    int count;
    if (frames_recv (self->raw, frames, CALL_FRAMES, &count, ZMQ_DONTWAIT))
        return;
    if (count == CALL_FRAMES && frames_is (&frames [1], "CALL"))
        s_handle_call (self, frames);
    else
    if (count == 3 && frames_is (&frames [1], "CANCEL"))
        s_handle_cancel (self, frames);
    else
    if (count == 4 && frames_is (&frames [1], "TELL"))
        s_handle_tell (self, frames);
    else
    if (count == 3 && frames_is (&frames [1], "STATS"))
        s_handle_stats (self, &frames [0], &frames [2]);
    else
    if (count == 3 && frames_is (&frames [1], "SUBSCRIBE"))
        s_handle_subscribe (self, &frames [2]);
    frames_close (frames, count < CALL_FRAMES? count: CALL_FRAMES);
}

//  --------------------------------------------------------------------------
//  What instances send

//  The one call an instance serves, or NULL when it serves none or several
static forward_t *
s_only_call (upstream_t *self, int index)
{
    if (self->instances [index].inflight != 1)
        return NULL;
    for (forward_t *forward = (forward_t *) zhashx_first (self->forwards); forward;
         forward = (forward_t *) zhashx_next (self->forwards))
        if (forward->instance == index)
            return forward;
    return NULL;
}

//  An instance's listen stream ended (the server ended it, or it failed):
//  it opens again after a back-off, which an acknowledged stream resets
static void
s_listen_ended (upstream_t *self, int index)
{
    instance_t *instance = &self->instances [index];
    instance->listen_id = 0;
    instance->listen_backoff_ms = instance->listen_backoff_ms? instance->listen_backoff_ms * 2: LISTEN_RETRY_MS;
    if (instance->listen_backoff_ms > LISTEN_RETRY_MAX_MS)
        instance->listen_backoff_ms = LISTEN_RETRY_MAX_MS;
    instance->listen_at = zclock_mono () + instance->listen_backoff_ms;
}

//  Opens a subscriptions/listen stream on a ready 2026 instance for what
//  mcpz passes on (changes to what the server lists, updates of resources
//  sessions watch), then closes the one it had: its filter is fixed.
static void
s_listen_open (upstream_t *self, int index)
{
    instance_t *instance = &self->instances [index];
    json_t *capabilities = instance->capabilities;
    uint64_t old = instance->listen_id;
    instance->listen_at = 0;
    instance->listen_id = 0;
    json_t *wanted = json_object ();
    static const char *const kinds [][2] = {
        { "tools", "toolsListChanged" }, { "prompts", "promptsListChanged" },
        { "resources", "resourcesListChanged" } };
    for (size_t at = 0; at < sizeof (kinds) / sizeof (kinds [0]); at++)
        if (json_is_true (json_object_get (json_object_get (capabilities, kinds [at][0]), "listChanged")))
            json_object_set_new (wanted, kinds [at][1], json_true ());
    if (json_is_true (json_object_get (json_object_get (capabilities, "resources"), "subscribe"))
    &&  zhashx_size (self->subscribed)) {
        json_t *uris = json_array ();
        for (void *item = zhashx_first (self->subscribed); item; item = zhashx_next (self->subscribed))
            json_array_append_new (uris, json_string ((const char *) zhashx_cursor (self->subscribed)));
        json_object_set_new (wanted, "resourceSubscriptions", uris);
    }
    if (json_object_size (wanted)) {
        json_t *params = json_pack ("{s:O}", "notifications", wanted);
        instance->listen_id = s_request (self, index, "subscriptions/listen", params);
        json_decref (params);
    }
    json_decref (wanted);
    if (old && instance->state == INSTANCE_READY)
        s_cancel_request (self, index, old, "mcpz listens anew");
}

//  The handshake is done: the instance takes calls
static void
s_on_ready (upstream_t *self, int index, json_t *capabilities)
{
    instance_t *instance = &self->instances [index];
    json_decref (instance->capabilities);
    instance->capabilities = json_incref (capabilities);
    if (!json_is_object (capabilities)) {
        s_instance_down (self, index, "its answer names no capabilities");
        return;
    }
    instance->state = INSTANCE_READY;
    instance->up_since = zclock_mono ();
    instance->next_ping = instance->up_since + self->upstream->ping_ms;
    if (instance->child)
        log_info (self->name, "instance %d up (pid %d, %s)", index, (int) child_pid (instance->child), s_eras [self->era]);
    else
        log_info (self->name, "instance %d up (%s, %s)", index, self->upstream->spec, s_eras [self->era]);
    if (!self->lists || self->lists_stale || s_ready_count (self) == 1)
        s_list_start (self);
    if (instance->state != INSTANCE_READY)
        return;                 //  it could not take the list request
    if (self->era == ERA_MODERN)
        s_listen_open (self, index);
    else
        for (void *item = zhashx_first (self->subscribed); item; item = zhashx_next (self->subscribed))
            s_subscribe (self, index, (const char *) zhashx_cursor (self->subscribed));
    s_pump (self);
}

static void
s_on_initialized (upstream_t *self, int index, json_t *result)
{
    instance_t *instance = &self->instances [index];
    const char *version = json_string_value (json_object_get (result, "protocolVersion"));
    if (instance->remote && version)
        remote_set_version (instance->remote, version);
    if (s_send (self, index, json_pack ("{s:s,s:s}", "jsonrpc", "2.0", "method", "notifications/initialized")) == 0)
        s_on_ready (self, index, json_object_get (result, "capabilities"));
}

static void
s_initialize (upstream_t *self, int index)
{
    instance_t *instance = &self->instances [index];
    instance->probing = instance->discovering = false;
    instance->started = zclock_mono ();
    if (instance->remote)
        remote_set_version (instance->remote, "");
    //  What the client may be asked is relayed to the session of the call
    json_t *params = json_pack ("{s:s,s:{s:{},s:{},s:{}},s:{s:s,s:s}}", "protocolVersion", LEGACY,
        "capabilities", "sampling", "elicitation", "roots", "clientInfo", "name", "mcpz", "version", MCPZ_VERSION);
    instance->init_id = s_request (self, index, "initialize", params);
    json_decref (params);
}

//  server/discover: the handshake of a 2026 server, and the probe of an
//  upstream whose era is not known yet
static void
s_discover (upstream_t *self, int index)
{
    instance_t *instance = &self->instances [index];
    instance->probing = self->era == ERA_UNKNOWN;
    instance->discovering = true;
    if (instance->remote)
        remote_set_version (instance->remote, MODERN);
    instance->init_id = s_request (self, index, "server/discover", NULL);
}

static void
s_speaks_legacy (upstream_t *self, int index, const char *why)
{
    if (self->era == ERA_UNKNOWN)
        log_info (self->name, "speaks %s: %s", LEGACY, why);
    self->era = ERA_LEGACY;
    s_initialize (self, index);
}

//  A handshake failed under the era the upstream was thought to speak: the
//  next instance to start asks again, unless the settings name the era
static void
s_handshake_failed (upstream_t *self, int index, const char *reason)
{
    self->instances [index].probing = false;
    if (!*self->upstream->era && s_ready_count (self) == 0)
        self->era = ERA_UNKNOWN;
    s_instance_down (self, index, reason);
}

//  True when versions (an array) names version, or (version NULL) any
//  revision of the initialize era
static bool
s_offers (json_t *versions, const char *version)
{
    for (size_t at = 0; at < json_array_size (versions); at++) {
        const char *offered = json_string_value (json_array_get (versions, at));
        if (offered && (version? streq (offered, version):
                        strncmp (offered, "2024-", 5) == 0 || strncmp (offered, "2025-", 5) == 0))
            return true;
    }
    return false;
}

//  The answer to server/discover: a 2026 server's result, a modern error
//  (a 2026 server that does not speak our version), or another error (a
//  2025 server, when the era is being found)
static void
s_on_discovered (upstream_t *self, int index, json_t *message)
{
    instance_t *instance = &self->instances [index];
    json_t *result = json_object_get (message, "result");
    json_t *error = json_object_get (message, "error");
    json_t *versions = result? json_object_get (result, "supportedVersions"):
                       json_object_get (json_object_get (error, "data"), "supported");
    json_int_t code = json_integer_value (json_object_get (error, "code"));
    bool modern_error = code == MCP_HEADER_MISMATCH || code == MCP_MISSING_CAPABILITY
                     || code == MCP_UNSUPPORTED_VERSION;
    if (result && s_offers (versions, MODERN)) {
        if (self->era != ERA_MODERN)
            log_info (self->name, "speaks %s", MODERN);
        self->era = ERA_MODERN;
        instance->discovering = instance->probing = false;
        s_on_ready (self, index, json_object_get (result, "capabilities"));
    }
    else
    if (!*self->upstream->era && self->era != ERA_MODERN
    &&  (s_offers (versions, NULL) || (instance->probing && !result && !modern_error)))
        s_speaks_legacy (self, index, result || modern_error? "its server/discover offers it":
                         "it does not know server/discover");
    else {
        char reason [256];
        char *offered = versions? json_dumps (versions, JSON_COMPACT | JSON_ENCODE_ANY): NULL;
        const char *said = json_string_value (json_object_get (error, "message"));
        snprintf (reason, sizeof (reason), "server/discover: %s%s", offered? "it speaks only ": "",
                  offered? offered: said? said: "no answer mcpz can use");
        free (offered);
        s_handshake_failed (self, index, reason);
    }
}

static void
s_on_response (upstream_t *self, int index, json_t *message)
{
    instance_t *instance = &self->instances [index];
    json_t *id = json_object_get (message, "id");
    if (!json_is_integer (id))
        return;
    uint64_t number = (uint64_t) json_integer_value (id);
    json_t *result = json_object_get (message, "result");
    json_t *error = json_object_get (message, "error");
    if (number == instance->init_id && instance->state == INSTANCE_STARTING) {
        json_t *supported = json_object_get (json_object_get (error, "data"), "supported");
        if (instance->discovering)
            s_on_discovered (self, index, message);
        else
        if (result)
            s_on_initialized (self, index, result);
        else
        //  A 2026 server that was slow to answer the probe: it names its
        //  version when refusing initialize
        if (s_offers (supported, MODERN) && !*self->upstream->era
        &&  (self->era == ERA_MODERN || s_ready_count (self) == 0)) {
            if (self->era != ERA_MODERN)
                log_info (self->name, "speaks %s: it refused initialize for it", MODERN);
            self->era = ERA_MODERN;
            s_discover (self, index);
        }
        else
            s_handshake_failed (self, index, "it refused initialize");
        return;
    }
    if (number && number == instance->listen_id) {
        s_listen_ended (self, index);
        return;
    }
    if (number == instance->ping_id) {
        instance->ping_id = 0;
        return;
    }
    if (self->listing >= 0 && number == self->list_id) {
        if (result)
            s_list_page (self, result);
        else {
            self->listing++;        //  a list it cannot give counts as empty
            s_list_ask (self, NULL);
        }
        return;
    }
    forward_t *forward = (forward_t *) zhashx_lookup (self->forwards, &number);
    if (!forward || forward->instance < 0)
        return;                 //  cancelled, past its deadline, or answered already
    const char *type = json_string_value (json_object_get (result, "resultType"));
    if (type && streq (type, "input_required") && forward->params) {
        s_input_required (self, forward, result);
        s_pump (self);
        return;
    }
    //  The sessions' era has no result types
    if (type && streq (type, "complete"))
        json_object_del (result, "resultType");
    char *text = result? json_dumps (result, JSON_COMPACT | JSON_ENCODE_ANY): NULL;
    json_t *code = json_object_get (error, "code");
    const char *reason = json_string_value (json_object_get (error, "message"));
    s_done (self, forward, text, json_is_integer (code)? (int) json_integer_value (code): JSONRPC_INTERNAL_ERROR,
            text? NULL: reason? reason: "the upstream answered neither result nor error");
    free (text);
    s_end_forward (self, forward);
    s_pump (self);
}

static void
s_on_notification (upstream_t *self, int index, const char *method, json_t *params, uint64_t tag)
{
    if (streq (method, "notifications/progress")) {
        json_t *token = json_object_get (params, "progressToken");
        uint64_t number = json_is_integer (token)? (uint64_t) json_integer_value (token): 0;
        forward_t *forward = number? (forward_t *) zhashx_lookup (self->forwards, &number): NULL;
        if (!forward)
            return;
        json_t *report = json_deep_copy (params);
        json_object_del (report, "progressToken");
        char *text = json_dumps (report, JSON_COMPACT);
        json_decref (report);
        s_to_host (self, &forward->host, "PROGRESS", forward->call_id);
        frames_send_text (self->raw, text? text: "{}", 0);
        free (text);
    }
    else
    if (streq (method, "notifications/message")) {
        //  Over HTTP it came on the stream of the call it is about
        forward_t *forward = tag? (forward_t *) zhashx_lookup (self->forwards, &tag): s_only_call (self, index);
        char *text = json_dumps (params, JSON_COMPACT);
        if (forward && text) {
            s_to_host (self, &forward->host, "LOG", forward->call_id);
            frames_send_text (self->raw, text, 0);
        }
        else
            log_debug (self->name, "log message from instance %d: %s", index, text? text: "?");
        free (text);
    }
    else
    if (streq (method, "notifications/subscriptions/acknowledged"))
        self->instances [index].listen_backoff_ms = 0;
    else
    if (streq (method, "notifications/cancelled")
    &&  json_integer_value (json_object_get (params, "requestId")) == (json_int_t) self->instances [index].listen_id
    &&  self->instances [index].listen_id)
        s_listen_ended (self, index);       //  the server ends the stream
    else
    if (strstr (method, "/list_changed"))
        s_list_start (self);
    else
    if (streq (method, "notifications/resources/updated") && json_string_value (json_object_get (params, "uri")))
        frames_send_strings (zsock_resolve (self->pipe), "UPDATED", self->upstream->name,
                             json_string_value (json_object_get (params, "uri")), NULL);
}

//  A request from the instance: ping is answered here; one meant for a
//  client goes to the session of the only call it serves
static void
s_on_server_request (upstream_t *self, int index, json_t *message, uint64_t tag)
{
    json_t *id = json_object_get (message, "id");
    const char *method = json_string_value (json_object_get (message, "method"));
    //  Over HTTP it came on the stream of the call it serves
    forward_t *forward = tag? (forward_t *) zhashx_lookup (self->forwards, &tag): NULL;
    if (!forward)
        forward = s_only_call (self, index);
    if (streq (method, "ping") || !forward || forward->asked) {
        json_t *answer = json_pack ("{s:s,s:O}", "jsonrpc", "2.0", "id", id);
        if (streq (method, "ping"))
            json_object_set_new (answer, "result", json_object ());
        else
            json_object_set_new (answer, "error", json_pack ("{s:i,s:s}", "code", JSONRPC_INTERNAL_ERROR,
                "message", "mcpz relays a request to a client only while the instance serves one call"));
        s_send_tagged (self, index, answer, tag);
        return;
    }
    forward->asked = json_incref (id);
    s_ask (self, forward, json_object_get (message, "method"), json_object_get (message, "params"));
}

static void
s_on_message (upstream_t *self, int index, const char *line, size_t size, uint64_t tag)
{
    json_t *message = json_loadb (line, size, 0, NULL);
    const char *method = json_string_value (json_object_get (message, "method"));
    if (!json_is_object (message))
        log_warn (self->name, "instance %d wrote a line that is not JSON-RPC", index);
    else
    if (method && json_object_get (message, "id"))
        s_on_server_request (self, index, message, tag);
    else
    if (method)
        s_on_notification (self, index, method, json_object_get (message, "params"), tag);
    else
        s_on_response (self, index, message);
    json_decref (message);
}

static void
s_on_line (upstream_t *self, int index, const char *line, size_t size)
{
    s_on_message (self, index, line, size, 0);
}

//  What an HTTP instance's remote hands over; from a remote taken down
//  since, nothing counts
typedef struct {
    upstream_t *self;
    int index;
    remote_t *remote;
} delivery_t;

static void
s_remote_message (void *arg, const char *data, size_t size, uint64_t tag)
{
    delivery_t *delivery = (delivery_t *) arg;
    if (delivery->self->instances [delivery->index].remote == delivery->remote)
        s_on_message (delivery->self, delivery->index, data, size, tag);
}

//  A POST that failed: its call is answered with the reason; a failed
//  handshake, ping or list takes the instance down, a failed listen
//  stream opens again later. A probe answered with a client error (not
//  one of authentication or rate) is a 2025 server; on HTTP, silence or a
//  server error is an outage, not an era.
static void
s_remote_failed (void *arg, uint64_t tag, long status, const char *reason)
{
    delivery_t *delivery = (delivery_t *) arg;
    upstream_t *self = delivery->self;
    int index = delivery->index;
    instance_t *instance = &self->instances [index];
    if (instance->remote != delivery->remote)
        return;
    forward_t *forward = tag? (forward_t *) zhashx_lookup (self->forwards, &tag): NULL;
    if (forward && forward->instance < 0)
        return;                 //  its round ended with input_required: the session is being asked
    if (forward) {
        char message [320];
        snprintf (message, sizeof (message), "upstream %s: %s", self->upstream->name, reason);
        s_done (self, forward, NULL, JSONRPC_INTERNAL_ERROR, message);
        s_end_forward (self, forward);
        s_pump (self);
    }
    else
    if (tag && tag == instance->init_id && instance->probing && self->era == ERA_UNKNOWN
    &&  status >= 400 && status < 500
    &&  status != 401 && status != 403 && status != 408 && status != 429)
        s_speaks_legacy (self, index, reason);
    else
    if (tag && tag == instance->listen_id)
        s_listen_ended (self, index);
    else
    if (tag && (tag == instance->init_id || tag == instance->ping_id || tag == self->list_id))
        s_instance_down (self, index, reason);
    else
        log_debug (self->name, "instance %d: a POST nobody waits for failed: %s", index, reason);
}

static void
s_perform (upstream_t *self, int index)
{
    delivery_t delivery = { self, index, self->instances [index].remote };
    if (delivery.remote)
        remote_perform (delivery.remote, s_remote_message, s_remote_failed, &delivery);
}

static void
s_stderr_line (void *arg, const char *text)
{
    upstream_t *self = (upstream_t *) arg;
    if (*text)
        log_info (self->name, "stderr: %s", text);
}

//  --------------------------------------------------------------------------
//  Instances

static void
s_start_instance (upstream_t *self, int index)
{
    instance_t *instance = &self->instances [index];
    const char *error = "libcurl cannot start";
    if (!s_is_http (self))
        instance->child = child_new (self->upstream->spec + 6, self->upstream->cwd, self->upstream->env, &error);
    else
        instance->remote = remote_new (self->upstream->spec, self->upstream->headers,
                                       (self->upstream->timeout_ms? self->upstream->timeout_ms:
                                        self->config->request_timeout) + GRACE_MS);
    if (!instance->child && !instance->remote) {
        s_instance_down (self, index, error);
        return;
    }
    instance->state = INSTANCE_STARTING;
    instance->started = zclock_mono ();
    instance->ping_id = instance->listen_id = 0;
    instance->listen_at = 0;
    instance->listen_backoff_ms = 0;
    if (self->era == ERA_LEGACY)
        s_initialize (self, index);
    else
        s_discover (self, index);
}

//  Takes an instance down: its calls are answered with an error now, and
//  it starts again after its back-off
static void
s_instance_down (upstream_t *self, int index, const char *reason)
{
    instance_t *instance = &self->instances [index];
    bool was_ready = instance->state == INSTANCE_READY;
    int64_t now = zclock_mono ();
    snprintf (self->last_error, sizeof (self->last_error), "instance %d: %s", index, reason);
    log_warn (self->name, "instance %d down: %s", index, reason);
    instance->probing = instance->discovering = false;
    child_destroy (&instance->child);
    //  Its handlers may be running: it is freed on the next pass
    if (instance->remote)
        zlistx_add_end (self->graveyard, instance->remote);
    instance->remote = NULL;
    instance->state = INSTANCE_DOWN;
    if (instance->up_since && now - instance->up_since > STABLE_MS)
        instance->backoff_ms = 0;
    instance->backoff_ms = instance->backoff_ms? instance->backoff_ms * 2: BACKOFF_FIRST_MS;
    if (instance->backoff_ms > BACKOFF_MAX_MS)
        instance->backoff_ms = BACKOFF_MAX_MS;
    instance->restart_at = now + instance->backoff_ms;
    instance->up_since = 0;
    self->restarts++;
    char message [320];
    snprintf (message, sizeof (message), "upstream %s: %s", self->upstream->name, reason);
    zlistx_t *ended = zlistx_new ();
    for (forward_t *forward = (forward_t *) zhashx_first (self->forwards); forward;
         forward = (forward_t *) zhashx_next (self->forwards))
        if (forward->instance == index)
            zlistx_add_end (ended, forward);
    for (forward_t *forward = (forward_t *) zlistx_first (ended); forward;
         forward = (forward_t *) zlistx_next (ended)) {
        s_done (self, forward, NULL, JSONRPC_INTERNAL_ERROR, message);
        s_end_forward (self, forward);
    }
    zlistx_destroy (&ended);
    instance->inflight = 0;
    if (self->listing >= 0 && self->listing_instance == index) {
        self->listing = -1;
        self->lists_stale = true;
    }
    //  Nothing of it to offer while no instance is up
    if (was_ready && s_ready_count (self) == 0 && self->lists) {
        zhashx_purge (self->tool_rows);
        json_decref (self->lists);
        self->lists = NULL;
        s_publish (self);
    }
    else
    if (self->lists_stale)
        s_list_start (self);
}

//  Restarts, pings and deadlines due now; returns ms to the next
static long
s_timers (upstream_t *self)
{
    int64_t now = zclock_mono ();
    int64_t next = now + 60000;
    for (int index = 0; index < self->count; index++) {
        instance_t *instance = &self->instances [index];
        if (instance->state == INSTANCE_DOWN && instance->restart_at <= now)
            s_start_instance (self, index);
        if (instance->state == INSTANCE_STARTING && instance->probing && instance->discovering
        &&  instance->child && self->era == ERA_UNKNOWN && now - instance->started > PROBE_TIMEOUT_MS)
            s_speaks_legacy (self, index, "it is silent on server/discover");
        if (instance->state == INSTANCE_STARTING && now - instance->started > START_TIMEOUT_MS)
            s_handshake_failed (self, index, instance->discovering? "no answer to server/discover":
                                "no answer to initialize");
        if (instance->state == INSTANCE_READY && instance->ping_id
        &&  now - instance->ping_sent > self->upstream->ping_ms) {
            if (instance->child)
                child_kill (instance->child, SIGKILL);
            s_instance_down (self, index, "no answer to ping");
        }
        if (instance->state == INSTANCE_READY && !instance->ping_id && instance->next_ping <= now) {
            instance->ping_sent = now;
            instance->next_ping = now + self->upstream->ping_ms;
            //  2026 servers know no ping: discover is their cheapest request
            instance->ping_id = s_request (self, index, self->era == ERA_MODERN? "server/discover": "ping", NULL);
        }
        if (instance->state == INSTANCE_READY && instance->listen_at && instance->listen_at <= now)
            s_listen_open (self, index);
        long remote = instance->remote? remote_timeout (instance->remote): -1;
        if (remote == 0)
            s_perform (self, index);
        else
        if (remote > 0 && now + remote < next)
            next = now + remote;
        int64_t due = instance->state == INSTANCE_DOWN? instance->restart_at:
                      instance->state == INSTANCE_STARTING? instance->started +
                          (instance->probing && instance->child? PROBE_TIMEOUT_MS: START_TIMEOUT_MS):
                      instance->ping_id? instance->ping_sent + self->upstream->ping_ms: instance->next_ping;
        if (instance->state == INSTANCE_READY && instance->listen_at && instance->listen_at < due)
            due = instance->listen_at;
        if (due < next)
            next = due;
    }
    //  A forward past its deadline: the host answered it already
    zlistx_t *expired = zlistx_new ();
    for (forward_t *forward = (forward_t *) zhashx_first (self->forwards); forward;
         forward = (forward_t *) zhashx_next (self->forwards))
        if (forward->deadline <= now)
            zlistx_add_end (expired, forward);
        else
        if (forward->deadline < next)
            next = forward->deadline;
    for (forward_t *forward = (forward_t *) zlistx_first (expired); forward;
         forward = (forward_t *) zlistx_next (expired))
        s_end_forward (self, forward);
    zlistx_destroy (&expired);
    return next > now? (long) (next - now): 0;
}

static void
s_read_instance (upstream_t *self, int index)
{
    instance_t *instance = &self->instances [index];
    int rc = child_read (instance->child, LINE_LIMIT);
    if (rc) {
        //  Lines that came before the end still count
        char *line;
        size_t size;
        while (rc == -1 && instance->child && (line = child_line (instance->child, &size)))
            s_on_line (self, index, line, size);
        char reason [64] = "it wrote a line longer than 64 MB";
        if (rc == -1 && instance->child)
            child_describe_end (instance->child, reason, sizeof (reason));
        //  Some 2025 servers exit on any request before initialize
        if (rc == -1 && instance->child && instance->probing && instance->discovering && self->era == ERA_UNKNOWN) {
            log_info (self->name, "speaks %s: it exits on server/discover", LEGACY);
            self->era = ERA_LEGACY;
        }
        if (instance->child)
            s_instance_down (self, index, reason);
        return;
    }
    char *line;
    size_t size;
    while (instance->child && (line = child_line (instance->child, &size)))
        s_on_line (self, index, line, size);
}

//  --------------------------------------------------------------------------
//  The actor

static int
s_setup (upstream_t *self, upstream_args_t *args)
{
    self->config = args->config;
    self->upstream = args->upstream;
    self->count = self->upstream->instances < MAX_INSTANCES? self->upstream->instances: MAX_INSTANCES;
    self->listing = -1;
    snprintf (self->name, sizeof (self->name), "upstream %s", self->upstream->name);
    self->forwards = table_new ((zhashx_destructor_fn *) s_forward_destroy, true);
    self->queue = zlistx_new ();
    self->graveyard = zlistx_new ();
    self->subscribed = zhashx_new ();
    self->tool_rows = zhashx_new ();
    self->router = zsock_new (ZMQ_ROUTER);
    self->era = streq (self->upstream->era, MODERN)? ERA_MODERN: streq (self->upstream->era, LEGACY)? ERA_LEGACY: ERA_UNKNOWN;
    if (!self->forwards || !self->queue || !self->graveyard || !self->subscribed || !self->tool_rows || !self->router)
        return -1;
    zlistx_set_destructor (self->graveyard, (zlistx_destructor_fn *) remote_destroy);
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_sndhwm (self->router, 100000);
    zsock_set_rcvhwm (self->router, 100000);
    if (zsock_bind (self->router, "%s", args->endpoint) == -1)
        return -1;
    self->raw = zsock_resolve (self->router);
    return 0;
}

static void
s_stop (upstream_t *self)
{
    for (int index = 0; index < self->count; index++) {
        child_destroy (&self->instances [index].child);
        remote_destroy (&self->instances [index].remote);
        json_decref (self->instances [index].capabilities);
    }
    zlistx_destroy (&self->graveyard);
    zhashx_destroy (&self->subscribed);
    zhashx_destroy (&self->tool_rows);
    for (pending_t *pending = (pending_t *) zlistx_first (self->queue); pending;
         pending = (pending_t *) zlistx_next (self->queue)) {
        frames_close (pending->frames, CALL_FRAMES);
        free (pending);
    }
    zlistx_destroy (&self->queue);
    zhashx_destroy (&self->forwards);
    json_decref (self->lists);
    json_decref (self->building);
    zsock_destroy (&self->router);
}

//  Every descriptor to watch: pipe, router, and each instance's stdout,
//  stderr and (with output waiting) stdin. Returns how many; map says which
//  instance and stream each instance item is.
static int
s_items (upstream_t *self, zmq_pollitem_t *items, int *map)
{
    int used = 2;
    items [0] = (zmq_pollitem_t) { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 };
    items [1] = (zmq_pollitem_t) { self->raw, 0, ZMQ_POLLIN, 0 };
    for (int index = 0; index < self->count; index++) {
        remote_t *remote = self->instances [index].remote;
        if (remote) {
            int added = remote_items (remote, items + used, ITEMS - used);
            for (int at = 0; at < added; at++)
                map [used + at] = index * 3;
            used += added;
        }
        child_t *child = self->instances [index].child;
        if (!child)
            continue;
        map [used] = index * 3;
        items [used++] = (zmq_pollitem_t) { NULL, child_stdout (child), ZMQ_POLLIN, 0 };
        if (child_stderr (child) >= 0) {
            map [used] = index * 3 + 1;
            items [used++] = (zmq_pollitem_t) { NULL, child_stderr (child), ZMQ_POLLIN, 0 };
        }
        if (child_stdin_waiting (child) >= 0) {
            map [used] = index * 3 + 2;
            items [used++] = (zmq_pollitem_t) { NULL, child_stdin_waiting (child), ZMQ_POLLOUT, 0 };
        }
    }
    return used;
}

static void
s_on_item (upstream_t *self, zmq_pollitem_t *item, int what)
{
    int index = what / 3;
    instance_t *instance = &self->instances [index];
    if (instance->remote && item->revents && what % 3 == 0)
        s_perform (self, index);
    if (!instance->child || !item->revents)
        return;
    if (what % 3 == 0)
        s_read_instance (self, index);
    else
    if (what % 3 == 1)
        child_read_stderr (instance->child, s_stderr_line, self);
    else
    if (child_flush (instance->child))
        s_instance_down (self, index, "its input is closed");
}

void
upstream_actor (zsock_t *pipe, void *args)
{
    upstream_t self = { .pipe = pipe };
    if (s_setup (&self, (upstream_args_t *) args)) {
        s_stop (&self);
        actor_ready (pipe, "cannot start the upstream");
        return;
    }
    actor_ready (pipe, NULL);
    for (int index = 0; index < self.count; index++)
        s_start_instance (&self, index);
    zmq_pollitem_t items [ITEMS];
    int map [ITEMS];
    while (!self.terminated) {
        zlistx_purge (self.graveyard);
        long timeout = s_timers (&self);
        int count = s_items (&self, items, map);
        if (zmq_poll (items, count, timeout) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN)
            self.terminated = actor_told_to_stop (pipe);
        for (int at = 2; at < count; at++)
            s_on_item (&self, &items [at], map [at]);
        for (int batch = 0; batch < 256 && (items [1].revents & ZMQ_POLLIN) && frames_ready (self.raw); batch++)
            s_handle_host (&self);
    }
    s_stop (&self);
}
