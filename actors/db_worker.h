/*  db_worker — owns one store connection and serves store requests. */
#ifndef MCPZ_DB_WORKER_H
#define MCPZ_DB_WORKER_H

#include <czmq.h>
#include "runtime/config.h"

typedef struct {
    const config_t *config;     //  store URL, node id, store timeout
    int index;                  //  which worker, for logs
    const char *endpoint;       //  inproc endpoint to bind
} db_worker_args_t;

//  zactor body; start with actor_start. It starts even when the store is
//  down, and connects when it can.
void
    db_worker_actor (zsock_t *pipe, void *args);

//  The endpoint of worker index, written into buffer (64 bytes).
void
    db_worker_endpoint (void *owner, int index, char *buffer, size_t size);

#endif
