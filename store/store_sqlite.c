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
    sqlite3_stmt *insert, *load, *remove, *refresh, *expire;
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
                       "protocol_version, client_info, capabilities, state, epoch) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', 0) ON CONFLICT (id) DO NOTHING" },
        { &st->load,   "UPDATE sessions SET epoch = epoch + 1, node = ?1, "
                       "last_accessed = max(last_accessed, ?4) "
                       "WHERE id = ?2 AND last_accessed >= ?3 RETURNING created_at, "
                       "last_accessed, protocol_version, client_info, capabilities, epoch" },
        { &st->remove, "DELETE FROM sessions WHERE id = ?" },
        { &st->refresh, "UPDATE sessions SET last_accessed = max(last_accessed, ?) WHERE id = ?" },
        { &st->expire, "DELETE FROM sessions WHERE last_accessed < ?" },
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
        sqlite3_stmt *all [] = { st->insert, st->load, st->remove, st->refresh,
                                 st->expire, st->begin, st->commit, st->rollback };
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

static int
s_load (store_t *self, const char *id, int64_t not_before_ms, store_row_t *row)
{
    sqlite3_stmt *load = ST (self)->load;
    s_arm (self);
    sqlite3_bind_text (load, 1, self->node, -1, SQLITE_STATIC);
    sqlite3_bind_text (load, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (load, 3, not_before_ms);
    sqlite3_bind_int64 (load, 4, store_now_ms ());
    int rc = sqlite3_step (load);
    int found = 0;
    if (rc == SQLITE_ROW) {
        snprintf (row->id, sizeof (row->id), "%s", id);
        row->created_ms = sqlite3_column_int64 (load, 0);
        row->last_accessed_ms = sqlite3_column_int64 (load, 1);
        row->version = mcp_negotiate_version ((const char *) sqlite3_column_text (load, 2));
        row->client_info = s_column_text (load, 3);
        row->capabilities = s_column_text (load, 4);
        row->epoch = (uint32_t) sqlite3_column_int64 (load, 5);
        found = 1;
        rc = sqlite3_step (load);
    }
    if (rc != SQLITE_DONE) {
        s_fail_db (self, "cannot load a session");
        store_row_clear (row);
        found = -1;
    }
    sqlite3_reset (load);
    sqlite3_clear_bindings (load);
    return found;
}

static int
s_remove_rows (store_t *self, void *arg)
{
    batch_t *batch = (batch_t *) arg;
    for (size_t index = 0; index < batch->count; index++) {
        sqlite3_bind_text (ST (self)->remove, 1, batch->ids [index], -1, SQLITE_STATIC);
        if (s_step (self, ST (self)->remove, "cannot delete a session"))
            return -1;
    }
    return 0;
}

static int
s_remove (store_t *self, store_id_t *ids, size_t count)
{
    batch_t batch = { .ids = ids, .count = count };
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
        if (s_step (self, refresh, "cannot refresh a session"))
            return -1;
        batch->found [index] = sqlite3_changes (DB (self)) > 0;
    }
    return 0;
}

static int
s_refresh (store_t *self, store_id_t *ids, const int64_t *last_ms, size_t count, bool *found)
{
    batch_t batch = { .ids = ids, .last_ms = last_ms, .found = found, .count = count };
    return s_transaction (self, s_refresh_rows, &batch);
}

static int64_t
s_expire (store_t *self, int64_t before_ms)
{
    s_arm (self);
    sqlite3_bind_int64 (ST (self)->expire, 1, before_ms);
    if (s_step (self, ST (self)->expire, "cannot expire sessions"))
        return -1;
    return sqlite3_changes (DB (self));
}

const store_engine_t store_sqlite_engine = {
    s_connect, s_disconnect, s_create, s_load, s_remove, s_refresh, s_expire
};
