/*  lease — keeps this node's lease in the store (the nodes table), which
    is every session's lease it owns: one heartbeat renews them all.
*/
#ifndef MCPZ_LEASE_H
#define MCPZ_LEASE_H

#include <czmq.h>
#include "runtime/config.h"

typedef struct {
    const config_t *config;
    const char *incarnation;    //  this process, on the store and the link
    const char *endpoint;       //  advertised node link, "" = none
    int64_t started_ms;         //  wall clock at start
    int64_t leased_at;          //  monotonic ms the start's heartbeat was sent
    char (*db_endpoints) [64];  //  the DB workers
    int db_count;
} lease_args_t;

//  zactor body; start with actor_start. Sends on its pipe:
//    LEASE held|lost|taken    when the lease is won back, lapses here, or
//                             another live process holds this node id
//    PEERS asked-ms, JSON     the other live nodes, [[id, endpoint,
//                             incarnation]...], when they change
//  On $TERM it gives the lease up, so other nodes take over at once.
void
    lease_actor (zsock_t *pipe, void *args);

//  Takes this node's lease before anything is served, waiting for an
//  earlier process of the same node to let it lapse. Returns 0 with the
//  monotonic ms the winning heartbeat was sent, or -1 with the reason.
int
    lease_take (const config_t *config, const char *incarnation, const char *endpoint,
                int64_t started_ms, int64_t *leased_at, char *error, size_t error_size);

//  ms between heartbeats, and how long before the store's expiry this
//  node stops serving, for a lease of lease_ms.
int
    lease_heartbeat_ms (int lease_ms);
int
    lease_margin_ms (int lease_ms);

#endif
