/*  control — the operator's desk: owns the control socket and answers it. */
#ifndef MCPZ_CONTROL_ACTOR_H
#define MCPZ_CONTROL_ACTOR_H

#include <czmq.h>
#include "runtime/config.h"

typedef struct {
    const config_t *config;
    const char *endpoint;       //  inproc endpoint hosts connect to
    int host_count;             //  hosts are "host-0" .. "host-N-1"
    const char *tools_endpoint; //  the tool pool
    const char *cleanup_endpoint;   //  the cleanup actor
    char (*db_endpoints) [64];  //  the DB workers, none when store is none
    int db_count;
    const char *upstreams;      //  upstream N's endpoint is this and "-N"
    int upstream_count;
} control_args_t;

//  zactor body; start with actor_start. Fails to start (with the reason)
//  when the control endpoint cannot be bound or is not private.
//  Sends on its pipe: FIGURES tag (answer FIGURES tag JSON), DRAIN, SHUTDOWN.
void
    control_actor (zsock_t *pipe, void *args);

#endif
