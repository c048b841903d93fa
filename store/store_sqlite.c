/*  store_sqlite — the embedded engine: one sqlite3 connection, WAL mode,
    synchronous=FULL so a committed session survives a crash of the process
    and of the machine. Batches run in one transaction: one fsync per
    batch, not per session (group commit).

    Calls are bounded: busy_timeout for locks held by other connections,
    and a progress handler that aborts a statement past its deadline.
*/
#include "store/engine.h"
#include "proto/mcp.h"
#include "store/schema.h"

#include <czmq.h>
#include <fcntl.h>
#include <sqlite3.h>

typedef struct {
    sqlite3_stmt *insert, *load, *owner, *remove, *refresh, *expire;
    sqlite3_stmt *heartbeat, *peers, *release;
    sqlite3_stmt *begin, *commit, *rollback;
    int64_t deadline;           //  monotonic ms; the progress handler's limit
} statements_t;

#define DB(self) ((sqlite3 *) (self)->handle)
#define ST(self) ((statements_t *) (self)->statements)

static int
s_fail_db (store_t *self, const char *what)
{
    return store_fail (self, "%s: %s", what, sqlite3_errmsg (DB (self)));
}

static int
s_progress (void *arg)
{
    store_t *self = (store_t *) arg;
    return zclock_mono () > ST (self)->deadline;
}

static void
s_arm (store_t *self)
{
    ST (self)->deadline = zclock_mono () + self->timeout_ms;
}

//  Runs a statement to completion and resets it. Returns 0 or -1.
static int
s_step (store_t *self, sqlite3_stmt *statement, const char *what)
{
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW)
        ;
    sqlite3_reset (statement);
    sqlite3_clear_bindings (statement);
    return rc == SQLITE_DONE? 0: s_fail_db (self, what);
}

static int
s_exec (store_t *self, const char *sql, const char *what)
{
    char *message = NULL;
    if (sqlite3_exec (DB (self), sql, NULL, NULL, &message) == SQLITE_OK)
        return 0;
    store_fail (self, "%s: %s", what, message? message: sqlite3_errmsg (DB (self)));
    sqlite3_free (message);
    return -1;
}

//  A single integer from a query, or -1.
static int64_t
s_scalar (store_t *self, const char *sql)
{
    sqlite3_stmt *statement = NULL;
    int64_t value = -1;
    if (sqlite3_prepare_v2 (DB (self), sql, -1, &statement, NULL) == SQLITE_OK
    &&  sqlite3_step (statement) == SQLITE_ROW)
        value = sqlite3_column_int64 (statement, 0);
    sqlite3_finalize (statement);
    return value;
}

//  Moves an older schema to this version: the schema script only adds
//  what is missing, but SQLite cannot add a column only when missing.
static int
s_migrate (store_t *self)
{
    if (s_scalar (self, "SELECT count(*) FROM pragma_table_info('sessions') "
                        "WHERE name = 'principal'") == 0
    &&  s_exec (self, "ALTER TABLE sessions ADD COLUMN principal text NOT NULL DEFAULT ''",
                "cannot add sessions.principal"))
        return -1;
    return s_exec (self, schema_sqlite, "cannot move the schema to this version");
}

//  Creates the schema in an empty file, accepts ours at our version or
//  older, refuses anything else without touching it.
static int
s_schema (store_t *self)
{
    if (s_exec (self, "BEGIN IMMEDIATE", "cannot lock the database"))
        return -1;
    int rc = 0;
    int64_t ours = s_scalar (self, "SELECT count(*) FROM sqlite_master "
                                   "WHERE type = 'table' AND name = 'mcpz_schema'");
    int64_t tables = s_scalar (self, "SELECT count(*) FROM sqlite_master");
    if (ours < 0 || tables < 0)
        rc = s_fail_db (self, "cannot read the database");
    else
    if (ours == 0 && tables > 0)
        rc = store_fail (self, "not an mcpz database (it holds other tables)");
    else
    if (ours == 0)
        rc = s_exec (self, schema_sqlite, "cannot create the schema");
    else {
        int64_t version = s_scalar (self, "SELECT max(version) FROM mcpz_schema");
        if (version > STORE_SCHEMA_VERSION)
            rc = store_fail (self, "schema version %lld is newer than this mcpzd knows (%d)",
                             (long long) version, STORE_SCHEMA_VERSION);
        else
        if (version < 1)
            rc = store_fail (self, "not an mcpz database (no schema version)");
        else
        if (version < STORE_SCHEMA_VERSION)
            rc = s_migrate (self);
    }
    s_exec (self, rc? "ROLLBACK": "COMMIT", "cannot finish the schema check");
    return rc;
}

static int
s_prepare (store_t *self)
{
    statements_t *st = ST (self);
    struct { sqlite3_stmt **slot; const char *sql; } list [] = {
        { &st->insert, "INSERT INTO sessions (id, node, created_at, last_accessed, "
                       "protocol_version, client_info, capabilities, state, epoch, principal) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', 0, ?) ON CONFLICT (id) DO NOTHING" },
        //  Claimed when this node owns it or its owner's lease lapsed, and
        //  this node's own lease is live
        { &st->load,   "UPDATE sessions SET epoch = epoch + 1, node = ?1, "
                       "last_accessed = max(last_accessed, ?4) "
                       "WHERE id = ?2 AND last_accessed >= ?3 "
                       "AND EXISTS (SELECT 1 FROM nodes m WHERE m.id = ?1 AND m.lease_until >= ?4) "
                       "AND (node = ?1 OR NOT EXISTS (SELECT 1 FROM nodes o WHERE "
                       "o.id = sessions.node AND o.lease_until >= ?4)) RETURNING created_at, "
                       "last_accessed, protocol_version, client_info, capabilities, epoch, principal" },
        { &st->owner,  "SELECT s.node, coalesce(n.endpoint, ''), coalesce(n.lease_until >= ?3, 0) "
                       "FROM sessions s LEFT JOIN nodes n ON n.id = s.node "
                       "WHERE s.id = ?1 AND s.last_accessed >= ?2" },
        { &st->remove, "DELETE FROM sessions WHERE id = ? AND node = ? AND epoch = ?" },
        { &st->refresh, "UPDATE sessions SET last_accessed = max(last_accessed, ?) "
                        "WHERE id = ? AND node = ? AND epoch = ?" },
        { &st->expire, "DELETE FROM sessions WHERE last_accessed < ?1 AND (node = ?2 OR "
                       "NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = sessions.node "
                       "AND n.lease_until >= ?3))" },
        { &st->heartbeat, "INSERT INTO nodes (id, endpoint, incarnation, started_at, lease_until) "
                          "VALUES (?1, ?2, ?3, ?4, ?5 + ?6) ON CONFLICT (id) DO UPDATE SET "
                          "endpoint = excluded.endpoint, incarnation = excluded.incarnation, "
                          "started_at = excluded.started_at, lease_until = excluded.lease_until "
                          "WHERE nodes.incarnation = excluded.incarnation OR nodes.lease_until < ?5" },
        { &st->peers,  "SELECT id, endpoint, incarnation FROM nodes WHERE lease_until >= ?1 AND id <> ?2" },
        { &st->release, "UPDATE nodes SET lease_until = 0 WHERE id = ? AND incarnation = ?" },
        { &st->begin, "BEGIN IMMEDIATE" },
        { &st->commit, "COMMIT" },
        { &st->rollback, "ROLLBACK" },
    };
    for (size_t index = 0; index < sizeof (list) / sizeof (list [0]); index++)
        if (sqlite3_prepare_v3 (DB (self), list [index].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                list [index].slot, NULL) != SQLITE_OK)
            return s_fail_db (self, "cannot prepare a statement");
    return 0;
}

static void
s_disconnect (store_t *self)
{
    statements_t *st = ST (self);
    if (st) {
        sqlite3_stmt *all [] = { st->insert, st->load, st->owner, st->remove, st->refresh,
                                 st->expire, st->heartbeat, st->peers, st->release,
                                 st->begin, st->commit, st->rollback };
        for (size_t index = 0; index < sizeof (all) / sizeof (all [0]); index++)
            sqlite3_finalize (all [index]);
        free (st);
        self->statements = NULL;
    }
    if (self->handle)
        sqlite3_close (DB (self));
    self->handle = NULL;
}

//  A new database file is made readable by its owner only: it holds
//  session ids, which are bearer credentials. SQLite gives the WAL and
//  shared-memory files the database file's mode.
static void
s_create_private (const char *path)
{
    if (streq (path, ":memory:"))
        return;
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        close (fd);
}

static int
s_connect (store_t *self)
{
    sqlite3 *db = NULL;
    s_create_private (self->target);
    //  NOMUTEX: each connection belongs to one thread
    int rc = sqlite3_open_v2 (self->target, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                              | SQLITE_OPEN_NOMUTEX, NULL);
    self->handle = db;
    self->statements = calloc (1, sizeof (statements_t));
    if (rc != SQLITE_OK || !self->statements) {
        store_fail (self, "cannot open %s: %s", self->target,
                    db? sqlite3_errmsg (db): "out of memory");
        s_disconnect (self);
        return -1;
    }
    //  SQLite opens a file it may not write read-only, without a word:
    //  every session would be refused later, so nothing starts
    if (sqlite3_db_readonly (db, "main") == 1) {
        store_fail (self, "cannot write %s: the file is read-only to this process", self->target);
        s_disconnect (self);
        return -1;
    }
    sqlite3_busy_timeout (db, self->timeout_ms);
    sqlite3_progress_handler (db, 10000, s_progress, self);
    s_arm (self);
    //  The schema check first: a file that is not ours is left as it was
    if (s_schema (self)
    ||  s_exec (self, "PRAGMA journal_mode = WAL", self->target)
    ||  s_exec (self, "PRAGMA synchronous = FULL", self->target)
    ||  s_prepare (self)) {
        char reason [512];
        snprintf (reason, sizeof (reason), "%s", self->error);
        store_fail (self, "%s: %s", self->target, reason);
        s_disconnect (self);
        return -1;
    }
    return 0;
}

//  Runs body inside BEGIN IMMEDIATE ... COMMIT, rolling back on failure.
static int
s_transaction (store_t *self, int (*body) (store_t *, void *), void *arg)
{
    s_arm (self);
    if (s_step (self, ST (self)->begin, "cannot begin"))
        return -1;
    if (body (self, arg) || s_step (self, ST (self)->commit, "cannot commit")) {
        char reason [512];
        snprintf (reason, sizeof (reason), "%s", self->error);
        s_step (self, ST (self)->rollback, "cannot roll back");
        store_fail (self, "%s", reason);
        return -1;
    }
    return 0;
}

typedef struct {
    store_row_t *rows;
    store_id_t *ids;
    const int64_t *last_ms;
    const uint32_t *epochs;
    bool *found;
    size_t count;
} batch_t;

static int
s_insert_rows (store_t *self, void *arg)
{
    batch_t *batch = (batch_t *) arg;
    sqlite3_stmt *insert = ST (self)->insert;
    for (size_t index = 0; index < batch->count; index++) {
        store_row_t *row = &batch->rows [index];
        sqlite3_bind_text (insert, 1, row->id, -1, SQLITE_STATIC);
        sqlite3_bind_text (insert, 2, self->node, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (insert, 3, row->created_ms);
        sqlite3_bind_int64 (insert, 4, row->last_accessed_ms);
        sqlite3_bind_text (insert, 5, mcp_versions [row->version], -1, SQLITE_STATIC);
        sqlite3_bind_text (insert, 6, row->client_info, -1, SQLITE_STATIC);
        sqlite3_bind_text (insert, 7, row->capabilities, -1, SQLITE_STATIC);
        sqlite3_bind_text (insert, 8, row->principal? row->principal: "", -1, SQLITE_STATIC);
        if (s_step (self, insert, "cannot insert a session"))
            return -1;
    }
    return 0;
}

static int
s_create (store_t *self, store_row_t *rows, size_t count)
{
    batch_t batch = { .rows = rows, .count = count };
    return s_transaction (self, s_insert_rows, &batch);
}

static char *
s_column_text (sqlite3_stmt *statement, int column)
{
    const unsigned char *text = sqlite3_column_text (statement, column);
    return strdup (text? (const char *) text: "{}");
}

//  Not claimed: who owns the row. STORE_OWNED when a live node does,
//  STORE_MISSING when there is none, -1 when this node's lease lapsed.
static int
s_owner (store_t *self, const char *id, int64_t not_before_ms, int64_t now, store_row_t *row)
{
    sqlite3_stmt *owner = ST (self)->owner;
    sqlite3_bind_text (owner, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (owner, 2, not_before_ms);
    sqlite3_bind_int64 (owner, 3, now);
    int rc = sqlite3_step (owner), found = STORE_MISSING;
    if (rc == SQLITE_ROW) {
        const char *node = (const char *) sqlite3_column_text (owner, 0);
        if (!node || streq (node, self->node) || !sqlite3_column_int (owner, 2))
            found = store_fail (self, "this node holds no live lease");
        else {
            row->owner = strdup (node);
            row->endpoint = s_column_text (owner, 1);
            found = row->owner && row->endpoint? STORE_OWNED: store_fail (self, "out of memory");
        }
    }
    else
    if (rc != SQLITE_DONE)
        found = s_fail_db (self, "cannot load a session");
    sqlite3_reset (owner);
    sqlite3_clear_bindings (owner);
    if (found < 0)
        store_row_clear (row);
    return found;
}

static int
s_load (store_t *self, const char *id, int64_t not_before_ms, store_row_t *row)
{
    sqlite3_stmt *load = ST (self)->load;
    s_arm (self);
    int64_t now = store_now_ms ();
    sqlite3_bind_text (load, 1, self->node, -1, SQLITE_STATIC);
    sqlite3_bind_text (load, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (load, 3, not_before_ms);
    sqlite3_bind_int64 (load, 4, now);
    int rc = sqlite3_step (load);
    int found = STORE_MISSING;
    if (rc == SQLITE_ROW) {
        snprintf (row->id, sizeof (row->id), "%s", id);
        row->created_ms = sqlite3_column_int64 (load, 0);
        row->last_accessed_ms = sqlite3_column_int64 (load, 1);
        row->version = mcp_negotiate_version ((const char *) sqlite3_column_text (load, 2));
        row->client_info = s_column_text (load, 3);
        row->capabilities = s_column_text (load, 4);
        row->epoch = (uint32_t) sqlite3_column_int64 (load, 5);
        row->principal = s_column_text (load, 6);
        found = STORE_CLAIMED;
        rc = sqlite3_step (load);
    }
    if (rc != SQLITE_DONE) {
        s_fail_db (self, "cannot load a session");
        store_row_clear (row);
        found = -1;
    }
    sqlite3_reset (load);
    sqlite3_clear_bindings (load);
    return found == STORE_MISSING? s_owner (self, id, not_before_ms, now, row): found;
}

static int
s_remove_rows (store_t *self, void *arg)
{
    batch_t *batch = (batch_t *) arg;
    for (size_t index = 0; index < batch->count; index++) {
        sqlite3_bind_text (ST (self)->remove, 1, batch->ids [index], -1, SQLITE_STATIC);
        sqlite3_bind_text (ST (self)->remove, 2, self->node, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (ST (self)->remove, 3, batch->epochs [index]);
        if (s_step (self, ST (self)->remove, "cannot delete a session"))
            return -1;
    }
    return 0;
}

static int
s_remove (store_t *self, store_id_t *ids, const uint32_t *epochs, size_t count)
{
    batch_t batch = { .ids = ids, .epochs = epochs, .count = count };
    return s_transaction (self, s_remove_rows, &batch);
}

static int
s_refresh_rows (store_t *self, void *arg)
{
    batch_t *batch = (batch_t *) arg;
    sqlite3_stmt *refresh = ST (self)->refresh;
    for (size_t index = 0; index < batch->count; index++) {
        sqlite3_bind_int64 (refresh, 1, batch->last_ms [index]);
        sqlite3_bind_text (refresh, 2, batch->ids [index], -1, SQLITE_STATIC);
        sqlite3_bind_text (refresh, 3, self->node, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (refresh, 4, batch->epochs [index]);
        if (s_step (self, refresh, "cannot refresh a session"))
            return -1;
        batch->found [index] = sqlite3_changes (DB (self)) > 0;
    }
    return 0;
}

static int
s_refresh (store_t *self, store_id_t *ids, const int64_t *last_ms, const uint32_t *epochs,
           size_t count, bool *found)
{
    batch_t batch = { .ids = ids, .last_ms = last_ms, .epochs = epochs, .found = found,
                      .count = count };
    return s_transaction (self, s_refresh_rows, &batch);
}

static int64_t
s_expire (store_t *self, int64_t before_ms)
{
    s_arm (self);
    sqlite3_stmt *expire = ST (self)->expire;
    sqlite3_bind_int64 (expire, 1, before_ms);
    sqlite3_bind_text (expire, 2, self->node, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (expire, 3, store_now_ms ());
    if (s_step (self, expire, "cannot expire sessions"))
        return -1;
    return sqlite3_changes (DB (self));
}

static int
s_peers (store_t *self, int64_t now, store_node_t **peers, size_t *count)
{
    sqlite3_stmt *statement = ST (self)->peers;
    sqlite3_bind_int64 (statement, 1, now);
    sqlite3_bind_text (statement, 2, self->node, -1, SQLITE_STATIC);
    int rc, added = 0;
    while (added == 0 && (rc = sqlite3_step (statement)) == SQLITE_ROW)
        added = store_add_peer (self, peers, count, (const char *) sqlite3_column_text (statement, 0),
                                (const char *) sqlite3_column_text (statement, 1),
                                (const char *) sqlite3_column_text (statement, 2));
    sqlite3_reset (statement);
    sqlite3_clear_bindings (statement);
    return added? -1: rc == SQLITE_DONE? 0: s_fail_db (self, "cannot read the nodes");
}

static int
s_heartbeat (store_t *self, const char *incarnation, const char *endpoint, int64_t started_ms,
             int lease_ms, store_node_t **peers, size_t *count)
{
    s_arm (self);
    int64_t now = store_now_ms ();
    sqlite3_stmt *heartbeat = ST (self)->heartbeat;
    sqlite3_bind_text (heartbeat, 1, self->node, -1, SQLITE_STATIC);
    sqlite3_bind_text (heartbeat, 2, endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_text (heartbeat, 3, incarnation, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (heartbeat, 4, started_ms);
    sqlite3_bind_int64 (heartbeat, 5, now);
    sqlite3_bind_int64 (heartbeat, 6, lease_ms);
    if (s_step (self, heartbeat, "cannot renew the lease"))
        return -1;
    int leased = sqlite3_changes (DB (self)) > 0;
    if (s_peers (self, now, peers, count))
        return -1;
    return leased? 0: 1;
}

static int
s_release (store_t *self, const char *incarnation)
{
    s_arm (self);
    sqlite3_stmt *release = ST (self)->release;
    sqlite3_bind_text (release, 1, self->node, -1, SQLITE_STATIC);
    sqlite3_bind_text (release, 2, incarnation, -1, SQLITE_STATIC);
    return s_step (self, release, "cannot release the lease");
}

const store_engine_t store_sqlite_engine = {
    s_connect, s_disconnect, s_create, s_load, s_remove, s_refresh, s_expire,
    s_heartbeat, s_release
};
