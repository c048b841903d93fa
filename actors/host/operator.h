/*  operator — a session host's answers to the operator: figures, session
    lists and details, kills.
*/
#ifndef MCPZ_HOST_OPERATOR_H
#define MCPZ_HOST_OPERATOR_H

#include <czmq.h>

typedef struct _host_t host_t;

//  STATS tag: this host's figures on socket (the pipe, which always
//  drains, or the control actor's, which may drop them).
void
    operator_stats (host_t *self, void *socket, zmq_msg_t *tag);

//  Acts on one message from the control actor: its first frames, count of them in
//  all (see session_host.c's drain). Frames stay the caller's.
void
    operator_handle (host_t *self, zmq_msg_t *frames, int count);

//  KILLED tag status: a kill's end, once the session's row is gone.
void
    operator_killed (host_t *self, const char *tag, const char *status);

#endif
