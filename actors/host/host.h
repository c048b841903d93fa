/*  host — the state of one session-host actor, shared by the files of
    actors/host/ and actors/session_host.c. Every field is touched by the
    host's own thread only; each group says which file owns it.

    It also holds what every room needs: answering the client through the
    supervisor (host.c) and counting a request's phases and outcomes.
*/
#ifndef MCPZ_HOST_H
#define MCPZ_HOST_H

#include <czmq.h>

#include "actors/session.h"
#include "actors/host/batch.h"
#include "actors/host/methods.h"
#include "proto/metrics.h"
#include "runtime/config.h"
#include "runtime/heap.h"
#include "runtime/log.h"
#include "tools/catalog.h"

//  How long a refused client should wait before trying again
#define RETRY_QUEUE_MS 100
#define RETRY_CAP_MS   1000
#define RETRY_STORE_MS 1000
//  A client's frame from the supervisor: command, peer, session id, body,
//  and the principal the front authenticated ("" when none)
#define HOST_CLIENT_FRAMES 5

typedef struct _replay_t replay_t;

//  Phases of a request, counted for metrics and logged at debug
typedef enum {
    PHASE_RECEIVED, PHASE_QUEUED, PHASE_ANSWERED, PHASE_TIMED_OUT,
    PHASE_CANCELLED, PHASE_REFUSED, PHASES
} phase_t;

typedef enum {
    OUTCOME_OK, OUTCOME_ERROR, OUTCOME_REFUSED, OUTCOME_TIMEOUT, OUTCOME_CANCELLED, OUTCOMES
} outcome_t;

//  ERR statuses counted apart
#define STATUSES 5

struct _host_t {
    //  The actor (session_host.c), which also owns every socket below
    zsock_t *pipe;              //  to the supervisor
    void *raw;                  //  the pipe's libzmq socket
    const config_t *config;
    catalog_t *table;
    char name [16];             //  "host N", for logs
    zhashx_t *sessions;         //  session id -> session_t
    size_t max_sessions;        //  this host's share of --max-sessions
    zhashx_t *openers;          //  session.opener -> sessions it holds here (a count)
    replay_t *replay;           //  the host's share of --replay-budget (replay.c)
    size_t host_count;          //  hosts of the node: shares are split this many ways
    size_t max_client_sessions; //  this host's share of --max-client-sessions
    unsigned char opener_key [16];  //  keys the openers' hash: never chosen by a client
    unsigned capabilities;      //  mcp_capability_t bits sessions are offered
    //  The lists as this host shows them (lists.c)
    zhashx_t *hidden [LISTS];   //  rows an operator disabled, or NULL
    char **pages [LISTS];       //  pages without them, or NULL: the catalog's
    size_t page_counts [LISTS];
    catalog_filter_t filter;
    //  The MCP servers behind mcpz (upstreams.c)
    int upstream_count;
    zsock_t *upstream_sockets [CONFIG_MAX_UPSTREAMS];
    void *upstream_raw [CONFIG_MAX_UPSTREAMS];
    json_t *upstream_lists [CONFIG_MAX_UPSTREAMS];  //  as the supervisor sent them last
    json_t *upstream_names [CONFIG_MAX_UPSTREAMS];  //  per list, what sessions call each row
    zhashx_t *upstream_rows [CONFIG_MAX_UPSTREAMS][LISTS];  //  name -> place in its list + 1
    batch_t *collecting;        //  while set, answers go into this batch
    bool terminated;

    //  Tool calls (calls.c)
    zsock_t *tools;             //  DEALER to the tool pool
    void *tools_raw;
    zhashx_t *calls;            //  call id -> call_t
    zhashx_t *by_request;       //  "sid/id" -> call_t, for cancellation
    heap_t *timers;             //  deadlines of calls on workers
    uint64_t next_call;         //  last call id handed out
    uint64_t late;              //  worker answers after the call ended
    zhashx_t *asks;             //  "sid/id" -> call_t asking the client (asks.c)
    uint64_t next_ask;          //  last id of a request to a client

    //  Store requests (ops.c)
    zsock_t *db;                //  DEALER to the DB workers, or NULL
    void *db_raw;
    zhashx_t *ops;              //  tag -> op_t, store requests in progress
    zhashx_t *loading;          //  session id -> op_t of its LOAD
    heap_t *op_timers;          //  deadlines of store requests
    uint64_t next_tag;          //  last store tag handed out
    uint64_t loads, load_misses, store_errors;
    uint64_t late_store;        //  store answers after their deadline
    bool fenced;                //  the node holds no lease (lifecycle.c)
    int64_t lease_until;        //  monotonic ms: past it, fenced
    uint64_t fence_count;       //  fences so far: a claim asked before one is void
    uint64_t forwarded, fenced_drops;

    //  Operator and cleanup (operator.c, sweep.c)
    zsock_t *control;           //  DEALER (identity host-N) to the control actor
    void *control_raw;
    zsock_t *cleanup;           //  DEALER to the cleanup actor
    void *cleanup_raw;
    uint64_t expired, dropped;

    //  Figures every room adds to (host.c counts most)
    uint64_t phases [PHASES];   //  requests per phase
    uint64_t outcomes [METHODS][OUTCOMES];
    histogram_t latency [METHODS];  //  arrival to answer, ok and error only
    uint64_t refusals [STATUSES];   //  ERR answers by status
    uint64_t evicted;           //  replay events evicted
    uint64_t opened, closed, requests, errors, overloads;
    uint64_t client_caps;       //  initializes refused by --max-client-sessions
    bool abandoned;             //  the process is going: nothing waits any more
    log_limit_t store_trouble;  //  store failures, logged at most once a second
    uint64_t budget_evicted;    //  replay events evicted by --replay-budget
};

//  Names of phases, outcomes and counted statuses, for logs and figures
extern const char *const host_phase_names [PHASES];
extern const char *const host_outcome_names [OUTCOMES];
extern const int host_statuses [STATUSES];

//  Sends one client-bound message; takes ownership of body. kind is MSG, or
//  ANS for a MSG that answers a request (the last message of that request:
//  the supervisor sends it as MSG, the HTTP edge ends the request's
//  response with it), OK, ERR or END (see host_end). session is given for MSG and ANS: the
//  message gets its next event id and a place in the replay ring, so a
//  peer that is gone loses nothing. A NULL peer (a session without a
//  listener) keeps the message for replay only.
void
    host_send (host_t *self, const char *kind, zmq_msg_t *peer, const char *sid,
               session_t *session, char *body, size_t size);

//  A notice not tied to a request (list changed, resource updated): to the
//  session's listener, else to the peer that spoke last, else kept for
//  replay only. Takes ownership of body.
void
    host_notify (host_t *self, session_t *session, char *body, size_t size);

//  END to peer: nothing more will come for its request (it was cancelled,
//  its stream moved). Fronts that need no word of it drop it (MCPZ/1 has
//  none); the HTTP edge ends the response. An END whose body is "session"
//  (lifecycle.c) says the session ended: every stream of it ends; one
//  whose body is "detach" (calls.c) ends a stream the client can resume,
//  and a response that cannot be a stream ignores it.
void
    host_end (host_t *self, zmq_msg_t *peer, const char *sid);

//  The tag of the stream a peer's messages are kept under for replay.
uint64_t
    host_stream_tag (zmq_msg_t *peer);

//  A JSON-RPC result (text) for the request id.
void
    host_answer_result (host_t *self, session_t *session, zmq_msg_t *peer,
                        json_t *id, const char *result);

//  A JSON-RPC error for the request id; counted as an error.
void
    host_answer_error (host_t *self, session_t *session, zmq_msg_t *peer,
                       json_t *id, int code, const char *message);

//  ERR naming the request id (may be NULL) and echoing the session id.
//  retry_after_ms < 0 leaves it out. For a request of a batch being
//  answered (self->collecting) it is a JSON-RPC error in the batch instead.
void
    host_refuse (host_t *self, zmq_msg_t *peer, const char *sid, int status,
                 const char *message, json_t *id, int retry_after_ms);

//  As host_refuse, reading the id from a raw body.
void
    host_refuse_body (host_t *self, zmq_msg_t *peer, const char *sid, int status,
                      const char *message, zmq_msg_t *body, int retry_after_ms);

//  One line per request phase at debug, and a count for metrics. since is
//  the request's arrival in µs, or 0.
void
    host_phase (host_t *self, phase_t phase, const char *sid, json_t *id, int64_t since);

//  A request's end: counted by method and outcome, timed when answered.
void
    host_outcome (host_t *self, method_t method, outcome_t outcome, int64_t received);

//  Starts a reply to the control or cleanup actor: command, then tag. It
//  never waits: a reply they cannot take now is dropped, and they answer
//  "partial" or count the cycle's batch failed; a host never stalls on an
//  operator. Returns false when nothing was sent.
bool
    host_reply_start (host_t *self, void *socket, const char *command, zmq_msg_t *tag);

//  Acts on one message from the supervisor: cmd, peer, sid, body (or
//  STATS tag, or $TERM). Frames stay the caller's. (session_host.c)
void
    host_route (host_t *self, zmq_msg_t *frames, int count);

//  What calls and store requests both keep: items owned by their uint64
//  id, an index of them by a string key, and their deadlines. Returns 0,
//  or -1 (destroy what was made with host_tracking_destroy).
int
    host_tracking_new (zhashx_t **items_p, zhashx_destructor_fn *destructor,
                       zhashx_t **index_p, heap_t **deadlines_p);

//  The item of a uint64-keyed table that an 8-byte frame names, or NULL.
void *
    host_tracked (zhashx_t *items, zmq_msg_t *frame);

//  Calls expired for every node of deadlines that is due (it must take the
//  node out of the heap). Returns ms to the next deadline, or -1 when none.
long
    host_expire (host_t *self, heap_t *deadlines,
                 void (*expired) (host_t *self, heap_node_t *node));

void
    host_tracking_destroy (zhashx_t **items_p, zhashx_t **index_p, heap_t **deadlines_p);

#endif
