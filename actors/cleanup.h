/*  cleanup — expires idle sessions and refreshes the store in parallel. */
#ifndef MCPZ_CLEANUP_H
#define MCPZ_CLEANUP_H

#include <czmq.h>
#include "runtime/config.h"

typedef struct {
    const config_t *config;     //  TTL, interval, store, db-workers
    const char *endpoint;       //  inproc endpoint that hosts connect to
    int host_count;             //  hosts are "host-0" .. "host-N-1"
    char (*db_endpoints) [64];  //  the DB workers, empty when store none
    int db_count;
} cleanup_args_t;

//  zactor body; start with actor_start.
//  Takes on its pipe: CYCLE (run one now, answer REPORT JSON), $TERM.
void
    cleanup_actor (zsock_t *pipe, void *args);

//  A host's identity on the cleanup socket, into buffer (16 bytes).
void
    cleanup_host_identity (int index, char *buffer, size_t size);

#endif
