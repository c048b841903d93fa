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

#define STORE_SCHEMA_VERSION 1

typedef struct _store_t store_t;

typedef struct {
    char id [MCPZ_SID_SIZE + 1];
    int version;                //  index into mcp_versions
    int64_t created_ms;
    int64_t last_accessed_ms;
    uint32_t epoch;             //  times the session was loaded; see session.h
    char *client_info;          //  JSON text, owned
    char *capabilities;         //  JSON text, owned
} store_row_t;

typedef char store_id_t [MCPZ_SID_SIZE + 1];

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

//  Loads a session last accessed at or after not_before_ms, records this
//  node as its server and bumps its epoch. Returns 1 and fills row (caller
//  frees with store_row_clear), 0 when missing or expired, -1 on failure.
int
    store_load (store_t *self, const char *id, int64_t not_before_ms,
                store_row_t *row);

//  Deletes these sessions. Returns 0 or -1.
int
    store_delete (store_t *self, store_id_t *ids, size_t count);

//  Moves last_accessed forward to last_ms [i] for each id (never back).
//  found [i] says whether the row exists. Returns 0 or -1.
int
    store_refresh (store_t *self, store_id_t *ids, const int64_t *last_ms,
                   size_t count, bool *found);

//  Deletes rows last accessed before before_ms. Returns how many, or -1.
int64_t
    store_expire (store_t *self, int64_t before_ms);

void
    store_row_clear (store_row_t *row);

//  Wall-clock ms since the epoch.
int64_t
    store_now_ms (void);

void
    store_test (bool verbose);

#endif
