/*  store — one connection to the session store, for one thread.

    Engines: "none" has no connection (callers skip the store), sqlite:PATH
    (embedded, WAL mode) and a libpq URI (postgresql:// or postgres://).
    Every call is bounded by the timeout given at open; PostgreSQL calls use
    libpq's asynchronous API and also return early when the interrupt
    socket (the owning actor's pipe) becomes readable, so a hung server
    never holds up a shutdown. A call that fails leaves the store usable or
    marks it disconnected; store_reconnect brings it back.

    Times are wall-clock milliseconds since the epoch, chosen by the node.
*/
#ifndef MCPZ_STORE_H
#define MCPZ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/mcpz.h"

#define STORE_SCHEMA_VERSION 3

typedef struct _store_t store_t;

typedef struct {
    char id [MCPZ_SID_SIZE + 1];
    int version;                //  index into mcp_versions
    int64_t created_ms;
    int64_t last_accessed_ms;
    uint32_t epoch;             //  times the session was claimed; see session.h
    char *client_info;          //  JSON text, owned
    char *capabilities;         //  JSON text, owned
    char *principal;            //  who opened it, "" for anyone; owned
    char *owner;                //  store_load: the live node that owns it, owned
    char *endpoint;             //  and that node's link endpoint, owned
} store_row_t;

typedef char store_id_t [MCPZ_SID_SIZE + 1];

//  Another live node, as a heartbeat sees it
typedef struct {
    char id [256];
    char endpoint [256];
    char incarnation [64];
} store_node_t;

//  store_load's answers
#define STORE_MISSING   0       //  no such session, or expired
#define STORE_CLAIMED   1       //  this node owns it now
#define STORE_OWNED     2       //  another live node owns it

//  True when url names a persistent store (not "none").
bool
    store_persistent (const char *url);

//  Connects, then creates or checks the schema. Returns NULL with a
//  one-line reason when the URL is bad, the server is unreachable, or the
//  database is not an mcpz database or has a newer schema.
store_t *
    store_open (const char *url, const char *node, int timeout_ms,
                void *interrupt, char *error, size_t error_size);

void
    store_destroy (store_t **self_p);

//  False after a call lost the connection.
bool
    store_connected (store_t *self);

//  Tries once to connect again. Returns 0 or -1.
int
    store_reconnect (store_t *self);

//  The reason of the last failure.
const char *
    store_error (store_t *self);

//  Inserts count rows in one transaction. Returns 0 or -1.
int
    store_create (store_t *self, store_row_t *rows, size_t count);

//  Claims a session last accessed at or after not_before_ms: when this
//  node owns it, or its owner's lease has lapsed, and this node's own
//  lease is live, records this node as its owner and bumps its epoch.
//  Returns STORE_CLAIMED and fills row (caller frees with
//  store_row_clear); STORE_OWNED with row->owner and row->endpoint when a
//  live node owns it; STORE_MISSING; -1 on failure (this node holding no
//  live lease is one).
int
    store_load (store_t *self, const char *id, int64_t not_before_ms,
                store_row_t *row);

//  Deletes these sessions where this node owns them in these epochs.
//  Returns 0 or -1.
int
    store_delete (store_t *self, store_id_t *ids, const uint32_t *epochs,
                  size_t count);

//  Moves last_accessed forward to last_ms [i] for each id (never back),
//  where this node owns it in epochs [i]. found [i] says whether it does.
//  Returns 0 or -1.
int
    store_refresh (store_t *self, store_id_t *ids, const int64_t *last_ms,
                   const uint32_t *epochs, size_t count, bool *found);

//  Deletes rows last accessed before before_ms that this node or no live
//  node owns. Returns how many, or -1.
int64_t
    store_expire (store_t *self, int64_t before_ms);

//  Takes or renews this node's lease for lease_ms from now (the store's
//  clock), under this process's incarnation, advertising endpoint ("" =
//  none). Fills *peers (caller frees) with the other live nodes. Returns 0
//  when leased, 1 when another live process holds this node id, -1 on
//  failure.
int
    store_heartbeat (store_t *self, const char *incarnation, const char *endpoint,
                     int64_t started_ms, int lease_ms, store_node_t **peers,
                     size_t *count);

//  Gives up this incarnation's lease: its sessions may be claimed at once.
//  Returns 0 or -1.
int
    store_release (store_t *self, const char *incarnation);

void
    store_row_clear (store_row_t *row);

//  Wall-clock ms since the epoch.
int64_t
    store_now_ms (void);

void
    store_test (bool verbose);

#endif
