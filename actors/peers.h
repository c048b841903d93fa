/*  peers — the connections of a client ROUTER, counted and bounded:
    how many there are, the bytes each holds inside libzmq on the way in
    (frames of a message not yet whole) and on the way out (answers it
    has not read). Run by the supervisor's thread.
*/
#ifndef MCPZ_PEERS_H
#define MCPZ_PEERS_H

#include <czmq.h>
#include <jansson.h>

typedef struct _peers_t peers_t;

typedef struct {
    size_t max_connections;     //  past it a new connection is shut at once
    size_t inflight_bytes;      //  a peer holding more, unfinished, is dropped
    size_t queued_bytes;        //  a peer not reading more than this is dropped
} peers_limits_t;

//  Watches router (before it binds). NULL with the reason in error.
peers_t *
    peers_new (void *router, peers_limits_t limits, char *error, size_t error_size);

void
    peers_destroy (peers_t **self_p);

//  The monitor's socket, for the owner's poll; then peers_handle_monitor.
void *
    peers_monitor (peers_t *self);
void
    peers_handle_monitor (peers_t *self);

//  A whole message came from its peer: frames [0] its routing id, count
//  frames in all. Cheap: one lookup.
void
    peers_received (peers_t *self, zmq_msg_t *frames, int count);

//  size bytes were handed to libzmq for the peer with this routing id.
void
    peers_sent (peers_t *self, zmq_msg_t *routing_id, size_t size);

//  ms until peers_sweep is due.
long
    peers_timeout (peers_t *self);

//  Drops the connections past their byte bounds (every SWEEP_MS).
void
    peers_sweep (peers_t *self);

//  Figures as a JSON object: open, max, refused, dropped_inflight,
//  dropped_unread.
json_t *
    peers_figures (peers_t *self);

#endif
