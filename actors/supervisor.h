/*  supervisor — owns the client and control sockets and every other actor. */
#ifndef MCPZ_SUPERVISOR_H
#define MCPZ_SUPERVISOR_H

#include <czmq.h>
#include "runtime/config.h"
#include "tools/catalog.h"

typedef struct {
    const config_t *config;     //  read-only settings
    catalog_t *table;           //  read-only catalog
} supervisor_args_t;

//  zactor body; start it with actor_start. Send it SHUTDOWN to drain; it
//  answers SHUTDOWN when drained (or on an operator's shutdown), and the
//  creator then destroys it.
void
    supervisor_actor (zsock_t *pipe, void *args);

#endif
