/*  endpoint — the operator's control socket. */
#ifndef MCPZ_CONTROL_ENDPOINT_H
#define MCPZ_CONTROL_ENDPOINT_H

#include <czmq.h>
#include "runtime/config.h"

//  A ROUTER bound on --control, or NULL with the reason in error.
zsock_t *
    control_endpoint_bind (const config_t *config, char *error, size_t error_size);

#endif
