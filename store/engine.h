/*  engine — what a store engine implements; private to store/. */
#ifndef MCPZ_STORE_ENGINE_H
#define MCPZ_STORE_ENGINE_H

#include "store/store.h"

typedef struct {
    //  Connects and checks or creates the schema. 0 or -1 (error set).
    int (*connect) (store_t *self);
    void (*disconnect) (store_t *self);
    int (*create) (store_t *self, store_row_t *rows, size_t count);
    int (*load) (store_t *self, const char *id, int64_t not_before_ms, store_row_t *row);
    int (*remove) (store_t *self, store_id_t *ids, const uint32_t *epochs, size_t count);
    int (*refresh) (store_t *self, store_id_t *ids, const int64_t *last_ms,
                    const uint32_t *epochs, size_t count, bool *found);
    int64_t (*expire) (store_t *self, int64_t before_ms);
    int (*heartbeat) (store_t *self, const char *incarnation, const char *endpoint,
                      int64_t started_ms, int lease_ms, store_node_t **peers, size_t *count);
    int (*release) (store_t *self, const char *incarnation);
} store_engine_t;

struct _store_t {
    const store_engine_t *engine;
    char *target;               //  file path or libpq URI
    char node [256];            //  this node's name
    int timeout_ms;             //  bound of every call
    void *interrupt;            //  zmq socket whose input aborts a wait
    void *handle;               //  sqlite3 * or PGconn *
    void *statements;           //  engine's prepared statements
    bool connected;
    bool gave_up;               //  the last call ran out of time or was
                                //  interrupted: not worth repeating
    char error [512];           //  last failure
};

extern const store_engine_t store_sqlite_engine;
extern const store_engine_t store_pg_engine;

//  Appends a peer to a growing array. Returns 0 or -1 (error set).
int
    store_add_peer (store_t *self, store_node_t **peers, size_t *count,
                    const char *id, const char *endpoint, const char *incarnation);

//  Records a failure reason; returns -1 for convenience.
int
    store_fail (store_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

#endif
