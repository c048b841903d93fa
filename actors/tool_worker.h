/*  tool_worker — runs one tool call at a time, for the tool pool. */
#ifndef MCPZ_TOOL_WORKER_H
#define MCPZ_TOOL_WORKER_H

#include <czmq.h>
#include "tools/catalog.h"

//  zactor body; args is the catalog_t (read-only, shared).
void
    tool_worker_actor (zsock_t *pipe, void *args);

#endif
