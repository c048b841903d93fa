/*  tool_pool — hands tool calls from session hosts to idle tool workers. */
#ifndef MCPZ_TOOL_POOL_H
#define MCPZ_TOOL_POOL_H

#include <czmq.h>
#include "runtime/config.h"
#include "tools/catalog.h"

typedef struct {
    const config_t *config;     //  tool-threads, tool-queue
    catalog_t *table;           //  read-only catalog
    const char *endpoint;       //  inproc endpoint to bind for hosts
} tool_pool_args_t;

//  zactor body; args is a tool_pool_args_t, read before the actor signals.
//  Signals 0 when bound, -1 when it could not start.
void
    tool_pool_actor (zsock_t *pipe, void *args);

#endif
