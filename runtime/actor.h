/*  actor — start-up handshake for zactors.

    zactor_new ignores the status an actor signals, so an actor that cannot
    start (port in use, bad store) would look alive. Every mcpz actor calls
    actor_ready once after zsock_signal, and its creator starts it with
    actor_start, which returns NULL with the actor's reason on failure.
*/
#ifndef MCPZ_ACTOR_H
#define MCPZ_ACTOR_H

#include <czmq.h>

//  In the actor: reports start-up. reason is NULL on success. On failure the
//  actor must then return from its body.
void
    actor_ready (zsock_t *pipe, const char *reason);

//  In the actor: reads one command from its pipe; true when it says stop
//  ($TERM) or the pipe is gone. Other commands are read and dropped.
bool
    actor_told_to_stop (zsock_t *pipe);

//  In the creator: starts the actor and waits for its report. On failure
//  the actor is destroyed and reason (error_size bytes) says why.
zactor_t *
    actor_start (zactor_fn *body, void *args, char *error, size_t error_size);

#endif
