/*  calls — the life of a tool call on a session host: start, end, cancel,
    expire, and the progress and log messages it relays on the way.
*/
#ifndef MCPZ_HOST_CALLS_H
#define MCPZ_HOST_CALLS_H

#include <czmq.h>

#include "actors/host/batch.h"
#include "actors/host/methods.h"
#include "runtime/heap.h"
#include "tools/tool.h"

//  A request running on a tool worker
typedef struct {
    uint64_t call_id;           //  host-unique; also the hash key
    void *socket;               //  where it runs: the tool pool or an upstream
    method_t method;            //  tools/call, resources/read, prompts/get, completion/complete
    char sid [MCPZ_SID_SIZE + 1];   //  its session
    json_t *id;                 //  JSON-RPC id of the request
    char *key;                  //  "sid/id": finds it for notifications/cancelled
    json_t *progress_token;     //  _meta.progressToken, or NULL
    zmq_msg_t peer;             //  routing id of the peer that asked
    heap_node_t timer;          //  its deadline
    int timeout_ms;             //  for the timeout message
    int64_t received;           //  µs when the request arrived
    batch_t *batch;             //  the batch it answers into, or NULL
    uint64_t asking;            //  id of its request to the client, or 0
    bool asked_roots;           //  it asked roots/list: tell it of changes
    bool roots_told;            //  told since its last roots/list: once is enough
} call_t;

//  Creates the host's call tables (host_tracking_destroy frees them).
//  Returns 0 or -1.
int
    calls_setup (host_t *self);

//  Runs a request a provider answers (tools/call, resources/read,
//  prompts/get, completion/complete): what it names is found in the
//  catalog, or the request gets the catalog's error; inline code answers
//  now; any other goes to the tool pool with a deadline, or is refused (429
//  for a session at its in-flight cap, 503 when the pool's queue is full).
void
    calls_start (host_t *self, request_t *request, method_t method);

//  The call a session's JSON-RPC id names, or NULL.
call_t *
    calls_find (host_t *self, const char *sid, json_t *id);

//  Sends a message to the worker running call: TELL call-id, JSON.
void
    calls_tell (host_t *self, call_t *call, const char *json);

//  Runs a request on an upstream (upstreams.c found it there): params
//  (borrowed) are what the upstream is asked, its own names restored.
void
    calls_start_upstream (host_t *self, request_t *request, int upstream, json_t *params);

//  True when a call of session with this JSON-RPC id is in flight.
bool
    calls_in_flight (host_t *self, session_t *session, json_t *id);

//  notifications/cancelled for request_id: the call stops and is never
//  answered. Unknown, finished or malformed ids are ignored.
void
    calls_cancel (host_t *self, session_t *session, json_t *request_id);

//  The calls of a session whose messages went to the stream tagged stream
//  send the rest to peer (copied): that stream was resumed there.
void
    calls_retarget (host_t *self, session_t *session, uint64_t stream, zmq_msg_t *peer);

//  Every call of a session still in flight gets ERR status with reason
//  and ends: before the session goes.
void
    calls_end_session (host_t *self, session_t *session, int status, const char *reason);

//  The process is going: every call in flight is answered 503 now.
void
    calls_abandon (host_t *self);

//  Answers every call past its deadline with -32001 and tells its worker
//  to stop. Returns ms until the next deadline, or -1 when none.
long
    calls_expire (host_t *self);

//  Acts on one message from the tool pool: its first frames, count of them in
//  all (see session_host.c's drain). Frames stay the caller's.
void
    calls_handle_pool (host_t *self, zmq_msg_t *frames, int count);

#endif
