/*  endpoint — what a ZeroMQ endpoint's text says about who can reach it.
    Pure: no sockets.
*/
#ifndef MCPZ_ENDPOINT_H
#define MCPZ_ENDPOINT_H

#include <stdbool.h>

//  True when a tcp endpoint's address (the text after tcp://) is
//  HOST:PORT on loopback and nothing else: libzmq also reads
//  "SOURCE;HOST:PORT" and interface names, which a prefix check would let
//  through.
bool
    endpoint_tcp_loopback (const char *address);

//  True when only this machine can reach the endpoint: ipc and inproc,
//  and tcp on loopback.
bool
    endpoint_local (const char *endpoint);

void
    endpoint_test (bool verbose);

#endif
