/*  sweep — a session host's part of a cleanup cycle. */
#ifndef MCPZ_HOST_SWEEP_H
#define MCPZ_HOST_SWEEP_H

#include <czmq.h>

typedef struct _host_t host_t;

//  Acts on one message from the cleanup actor: its first frames, count of them in
//  all (see session_host.c's drain). Frames stay the caller's.
void
    sweep_handle (host_t *self, zmq_msg_t *frames, int count);

#endif
