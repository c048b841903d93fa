/*  endpoint — the operator's control socket. */
#ifndef MCPZ_CONTROL_ENDPOINT_H
#define MCPZ_CONTROL_ENDPOINT_H

#include <czmq.h>
#include <sys/types.h>
#include "runtime/config.h"

//  A ROUTER bound on --control, or NULL with the reason in error. For an
//  ipc endpoint, *bound_p gets the socket file's inode (else 0).
zsock_t *
    control_endpoint_bind (const config_t *config, ino_t *bound_p, char *error, size_t error_size);

//  Closes the control socket and removes its ipc file, if the file is
//  still the one bound (bound: its inode): a later mcpzd's is left alone.
void
    control_endpoint_close (zsock_t **control_p, const config_t *config, ino_t bound);

#endif
