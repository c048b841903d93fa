/*  ops — a session host's requests to the store: writing a new session's
    row, deleting a closed one, loading one this host does not hold, each
    with a deadline.
*/
#ifndef MCPZ_HOST_OPS_H
#define MCPZ_HOST_OPS_H

#include <czmq.h>

#include "actors/session.h"

typedef struct _host_t host_t;

//  Creates the store-request tables (host_tracking_destroy frees them).
//  Returns 0 or -1.
int
    ops_setup (host_t *self);

//  Writes a new session's row; the initialize answer (request id, to peer)
//  waits for it. Returns -1 when the store queue is full.
int
    ops_persist (host_t *self, session_t *session, zmq_msg_t *peer, json_t *id,
                 int64_t received);

//  Deletes a session's row before it ends: CLOSE from peer, or an
//  operator's KILL when kill_tag is set. The session's calls end now; the
//  answer waits for the row. Returns -1 when the store queue is full.
int
    ops_delete (host_t *self, session_t *session, zmq_msg_t *peer, const char *kill_tag);

//  Keeps the 4 frames (cmd, peer, sid, body) of a session this host does
//  not hold and asks the store for it; they are routed once it is loaded,
//  or refused. The frames are moved out of frames.
void
    ops_load (host_t *self, zmq_msg_t *frames, const char *sid);

//  Ends store requests past their deadline as failed. Returns ms to the
//  next deadline, or -1 when none.
long
    ops_expire (host_t *self);

//  Acts on one message from the DB workers: its first frames, count of them in
//  all (see session_host.c's drain). Frames stay the caller's.
void
    ops_handle_db (host_t *self, zmq_msg_t *frames, int count);

//  The process is going: every store request ends now, as at its deadline,
//  so whoever waits on one gets its answer (503).
void
    ops_abandon (host_t *self);

#endif
