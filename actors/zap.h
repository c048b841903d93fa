/*  zap — who may connect to the CURVE endpoints, and who they are.
*/
#ifndef MCPZ_ZAP_H
#define MCPZ_ZAP_H

#include <czmq.h>
#include "runtime/config.h"

//  The ZAP domains of the sockets the handler judges
#define ZAP_DOMAIN_CLIENTS "mcpz-clients"
#define ZAP_DOMAIN_NODES   "mcpz-nodes"
//  What a client's principal starts with; its public key (Z85) follows
#define ZAP_PRINCIPAL_PREFIX "curve:"

//  zactor body (start with actor_start, before any CURVE socket binds:
//  libzmq lets every CURVE client in when no handler is there). Takes on
//  its pipe: RELOAD, answered OK count | ERR reason (the allow-list is
//  read again; on failure the old one stays).
void
    zap_actor (zsock_t *pipe, void *args);

//  Makes socket a CURVE server in domain with the certificate in path
//  (secret key included), before it binds. Returns 0, or -1 with the
//  reason.
int
    zap_serve (zsock_t *socket, const char *path, const char *domain,
               char *error, size_t error_size);

//  Makes socket a CURVE client of the cluster's nodes with the
//  certificate in path, which every node holds (so it is the server's key
//  too), before it connects. Returns 0, or -1 with the reason.
int
    zap_join (zsock_t *socket, const char *path, char *error, size_t error_size);

void
    zap_test (bool verbose);

#endif
