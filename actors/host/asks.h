/*  asks — requests that calls send the client (sampling, elicitation,
    roots, ping) and the client's answers to them.
*/
#ifndef MCPZ_HOST_ASKS_H
#define MCPZ_HOST_ASKS_H

#include "actors/host/calls.h"

//  Creates the table of asks in flight. Returns 0 or -1.
int
    asks_setup (host_t *self);

void
    asks_destroy (host_t *self);

//  A call's ASK (body {"method","params"}): sent to the client on the
//  call's stream, or refused to the call when the client lacks what it
//  needs.
void
    asks_start (host_t *self, call_t *call, zmq_msg_t *body);

//  A client's response (result or error). Returns true when it answered
//  an ask, which then goes to the call that asked.
bool
    asks_answer (host_t *self, session_t *session, jsonrpc_t *msg);

//  The call ends: its ask, if any, is withdrawn (the client is told with
//  notifications/cancelled). Called before the call's last message, so
//  the notice goes on the stream the ask went on while it is open.
void
    asks_end_call (host_t *self, call_t *call);

//  notifications/roots/list_changed: every call of the session that asked
//  for roots hears of it.
void
    asks_roots_changed (host_t *self, session_t *session);

#endif
