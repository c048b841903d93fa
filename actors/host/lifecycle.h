/*  lifecycle — a session opening, replaying to a listener, and ending. */
#ifndef MCPZ_HOST_LIFECYCLE_H
#define MCPZ_HOST_LIFECYCLE_H

#include <czmq.h>

#include "actors/session.h"

typedef struct _host_t host_t;

//  NEW: a client's initialize under a fresh session id (sid).
void
    lifecycle_open (host_t *self, zmq_msg_t *peer, const char *sid, zmq_msg_t *body,
                    zmq_msg_t *principal);

//  Answers the initialize request id that opened session (its row, if any,
//  is committed).
void
    lifecycle_opened (host_t *self, session_t *session, zmq_msg_t *peer, json_t *id,
                      int64_t received);

//  CLOSE: ends the session; with a store, once its row is deleted.
void
    lifecycle_close (host_t *self, zmq_msg_t *peer, session_t *session);

//  LISTEN: replays kept events after the body's event id and makes peer
//  the session's listener.
void
    lifecycle_listen (host_t *self, zmq_msg_t *peer, session_t *session, zmq_msg_t *body);

//  RESUME: as LISTEN, but replays only the events after the body's event
//  id that were sent on the same stream as it (none for an empty body).
void
    lifecycle_resume (host_t *self, zmq_msg_t *peer, session_t *session, zmq_msg_t *body);

//  Ends a session here, now: its calls are answered, its memory freed.
void
    lifecycle_end (host_t *self, session_t *session);

//  The node lost its lease (fenced) or holds it again. Losing it ends
//  every session here (their calls get 503); while fenced, frames of
//  sessions not held are refused and nothing claimed is served.
void
    lifecycle_fence (host_t *self, bool fenced);

//  The node holds its lease until then (monotonic ms; 0: lost): past it
//  the host fences itself, by its own clock, before it serves a frame.
void
    lifecycle_lease (host_t *self, int64_t until);

//  Who opens a session, as session.opener: the principal, else the peer
//  (which may be NULL when the principal is not empty).
uint64_t
    lifecycle_opener (host_t *self, zmq_msg_t *peer, zmq_msg_t *principal);
//  Counts session against the client that opened it (--max-client-sessions).
void
    lifecycle_count (host_t *self, session_t *session, uint64_t opener);
//  Takes a session out of its client's count and its ring out of the
//  replay budget, before it goes.
void
    lifecycle_uncount (host_t *self, session_t *session);

#endif
