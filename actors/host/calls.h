/*  calls — the life of a tool call on a session host: start, end, cancel,
    expire, and the progress and log messages it relays on the way.
*/
#ifndef MCPZ_HOST_CALLS_H
#define MCPZ_HOST_CALLS_H

#include <czmq.h>

#include "actors/host/methods.h"
#include "tools/tool.h"

//  Creates the host's call tables (host_tracking_destroy frees them).
//  Returns 0 or -1.
int
    calls_setup (host_t *self);

//  Runs a tools/call: an inline tool answers now; any other goes to the
//  tool pool with a deadline, or is refused (429 for a session at its
//  in-flight cap, 503 when the pool's queue is full). arguments is an
//  object; token is the progress token or NULL. Both borrowed.
void
    calls_start (host_t *self, request_t *request, const tool_def_t *def,
                 json_t *arguments, json_t *token);

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

//  Every call of a session still in flight gets ERR 404 and ends: before
//  the session goes.
void
    calls_end_session (host_t *self, session_t *session);

//  Answers every call past its deadline with -32001 and tells its worker
//  to stop. Returns ms until the next deadline, or -1 when none.
long
    calls_expire (host_t *self);

//  Acts on one message from the tool pool: its first frames, count of them in
//  all (see session_host.c's drain). Frames stay the caller's.
void
    calls_handle_pool (host_t *self, zmq_msg_t *frames, int count);

#endif
