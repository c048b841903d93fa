/*  upstream — an actor that puts one MCP server behind mcpz. */
#ifndef MCPZ_UPSTREAM_H
#define MCPZ_UPSTREAM_H

#include <czmq.h>
#include "runtime/config.h"

typedef struct {
    const config_t *config;
    const config_upstream_t *upstream;
    const char *endpoint;       //  where session hosts connect (inproc)
} upstream_args_t;

//  zactor body; args is an upstream_args_t, read before it signals.
void
    upstream_actor (zsock_t *pipe, void *args);

#endif
