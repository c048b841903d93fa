/*  store — engine dispatch and shared helpers. See store.h. */
#include "store/engine.h"
#include "proto/mcp.h"

#include <czmq.h>
#include <time.h>

bool
store_persistent (const char *url)
{
    return url && !streq (url, "none");
}

int
store_fail (store_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
    //  libpq's messages span lines; a reason is one log line
    size_t length = strlen (self->error);
    while (length && isspace ((unsigned char) self->error [length - 1]))
        self->error [--length] = 0;
    for (char *at = self->error; *at; at++)
        if (*at == '\n' || *at == '\t')
            *at = ' ';
    return -1;
}

store_t *
store_open (const char *url, const char *node, int timeout_ms, void *interrupt,
            char *error, size_t error_size)
{
    const store_engine_t *engine = NULL;
    const char *target = url;
    if (strncmp (url, "sqlite:", 7) == 0 && url [7]) {
        engine = &store_sqlite_engine;
        target = url + 7;
    }
    else
    if (strncmp (url, "postgresql://", 13) == 0 || strncmp (url, "postgres://", 11) == 0)
        engine = &store_pg_engine;
    if (!engine) {
        snprintf (error, error_size, "--store %s: expected sqlite:PATH or postgresql://...", url);
        return NULL;
    }
    store_t *self = (store_t *) calloc (1, sizeof (store_t));
    if (!self || !(self->target = strdup (target))) {
        free (self);
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->engine = engine;
    snprintf (self->node, sizeof (self->node), "%s", node);
    self->timeout_ms = timeout_ms;
    self->interrupt = interrupt;
    if (engine->connect (self)) {
        snprintf (error, error_size, "--store %s: %s", url, self->error);
        store_destroy (&self);
        return NULL;
    }
    self->connected = true;
    return self;
}

void
store_destroy (store_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_t *self = *self_p;
        self->engine->disconnect (self);
        free (self->target);
        free (self);
        *self_p = NULL;
    }
}

bool
store_connected (store_t *self)
{
    return self->connected;
}

int
store_reconnect (store_t *self)
{
    self->engine->disconnect (self);
    self->connected = self->engine->connect (self) == 0;
    return self->connected? 0: -1;
}

const char *
store_error (store_t *self)
{
    return self->error;
}

//  Each call runs only on a live connection. A call that finds the
//  connection lost (the server restarted since the last call) reconnects
//  once and runs again: every call is safe to repeat (inserts skip ids
//  already there, a load only bumps the epoch once more), so a restart
//  of the database costs the first caller a reconnect, not an error.
static bool
s_retry (store_t *self)
{
    //  A call that timed out already spent its time: repeating it would
    //  double the wait of everything queued behind it
    return !self->connected && !self->gave_up && store_reconnect (self) == 0;
}

#define REQUIRE_CONNECTION(self) \
    if (!(self)->connected) return store_fail ((self), "not connected to the store")

int
store_create (store_t *self, store_row_t *rows, size_t count)
{
    REQUIRE_CONNECTION (self);
    if (!count)
        return 0;
    self->gave_up = false;
    int rc = self->engine->create (self, rows, count);
    if (rc && s_retry (self))
        rc = self->engine->create (self, rows, count);
    return rc;
}

int
store_load (store_t *self, const char *id, int64_t not_before_ms, store_row_t *row)
{
    REQUIRE_CONNECTION (self);
    memset (row, 0, sizeof (*row));
    self->gave_up = false;
    int found = self->engine->load (self, id, not_before_ms, row);
    if (found < 0 && s_retry (self))
        found = self->engine->load (self, id, not_before_ms, row);
    return found;
}

int
store_delete (store_t *self, store_id_t *ids, const uint32_t *epochs, size_t count)
{
    REQUIRE_CONNECTION (self);
    if (!count)
        return 0;
    self->gave_up = false;
    int rc = self->engine->remove (self, ids, epochs, count);
    if (rc && s_retry (self))
        rc = self->engine->remove (self, ids, epochs, count);
    return rc;
}

int
store_refresh (store_t *self, store_id_t *ids, const int64_t *last_ms,
               const uint32_t *epochs, size_t count, bool *found)
{
    REQUIRE_CONNECTION (self);
    if (!count)
        return 0;
    self->gave_up = false;
    int rc = self->engine->refresh (self, ids, last_ms, epochs, count, found);
    if (rc && s_retry (self))
        rc = self->engine->refresh (self, ids, last_ms, epochs, count, found);
    return rc;
}

int64_t
store_expire (store_t *self, int64_t before_ms)
{
    REQUIRE_CONNECTION (self);
    self->gave_up = false;
    int64_t deleted = self->engine->expire (self, before_ms);
    if (deleted < 0 && s_retry (self))
        deleted = self->engine->expire (self, before_ms);
    return deleted;
}

int
store_heartbeat (store_t *self, const char *incarnation, const char *endpoint,
                 int64_t started_ms, int lease_ms, store_node_t **peers, size_t *count)
{
    *peers = NULL;
    *count = 0;
    REQUIRE_CONNECTION (self);
    //  Not retried: a heartbeat that failed is simply the next one's to do
    self->gave_up = false;
    int rc = self->engine->heartbeat (self, incarnation, endpoint, started_ms, lease_ms,
                                      peers, count);
    if (rc) {
        free (*peers);
        *peers = NULL;
        *count = 0;
    }
    return rc;
}

int
store_release (store_t *self, const char *incarnation)
{
    REQUIRE_CONNECTION (self);
    self->gave_up = false;
    return self->engine->release (self, incarnation);
}

int
store_add_peer (store_t *self, store_node_t **peers, size_t *count, const char *id,
                const char *endpoint, const char *incarnation)
{
    store_node_t *grown = (store_node_t *) realloc (*peers, (*count + 1) * sizeof (store_node_t));
    if (!grown)
        return store_fail (self, "out of memory");
    *peers = grown;
    snprintf (grown [*count].id, sizeof (grown [*count].id), "%s", id);
    snprintf (grown [*count].endpoint, sizeof (grown [*count].endpoint), "%s", endpoint);
    snprintf (grown [*count].incarnation, sizeof (grown [*count].incarnation), "%s", incarnation);
    (*count)++;
    return 0;
}

void
store_row_clear (store_row_t *row)
{
    free (row->client_info);
    free (row->capabilities);
    free (row->principal);
    free (row->owner);
    free (row->endpoint);
    row->client_info = row->capabilities = row->principal = row->owner = row->endpoint = NULL;
}

int64_t
store_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  --------------------------------------------------------------------------
//  Self-test: runs the same checks on SQLite, and on PostgreSQL when
//  MCPZ_TEST_PG_URL_FILE names a file holding a server's URL (the ctest
//  fixture starts a server and writes it).

static void
s_row (store_row_t *row, const char *id, int64_t now)
{
    memset (row, 0, sizeof (*row));
    memcpy (row->id, id, sizeof (row->id));
    row->version = 2;
    row->created_ms = now;
    row->last_accessed_ms = now;
    row->client_info = strdup ("{\"name\":\"t\\\"q\",\"version\":\"1\"}");
    row->capabilities = strdup ("{}");
    row->principal = strdup ("curve:test");
}

static store_t *
s_test_open (const char *url, const char *node, const char *incarnation, const char *endpoint)
{
    char error [512];
    store_t *store = store_open (url, node, 5000, NULL, error, sizeof (error));
    if (!store)
        fprintf (stderr, "store_open %s: %s\n", url, error);
    assert (store);
    store_node_t *peers;
    size_t count;
    assert (store_heartbeat (store, incarnation, endpoint, 1, 5000, &peers, &count) == 0);
    free (peers);
    return store;
}

//  Two nodes on one store: one owner at a time, fenced writes
static void
s_test_leases (const char *url, store_id_t id, int64_t now)
{
    char node_a [32], node_b [32];
    snprintf (node_a, sizeof (node_a), "a-%d-%d", getpid (), rand ());
    snprintf (node_b, sizeof (node_b), "b-%d-%d", getpid (), rand ());
    store_t *a = s_test_open (url, node_a, "ia", "tcp://a:1");
    store_t *b = s_test_open (url, node_b, "ib", "tcp://b:1");
    store_row_t row;
    s_row (&row, id, now);
    assert (store_create (a, &row, 1) == 0);
    store_row_clear (&row);
    assert (store_load (a, id, now - 1000, &row) == STORE_CLAIMED && row.epoch == 1);
    store_row_clear (&row);
    //  A live owner keeps it; the other node learns where it is
    assert (store_load (b, id, now - 1000, &row) == STORE_OWNED);
    assert (streq (row.owner, node_a) && streq (row.endpoint, "tcp://a:1"));
    store_row_clear (&row);
    //  The node id is taken while its lease is live
    store_node_t *peers;
    size_t count;
    char error [512];
    store_t *twin = store_open (url, node_a, 5000, NULL, error, sizeof (error));
    assert (twin && store_heartbeat (twin, "other", "", 1, 5000, &peers, &count) == 1);
    store_destroy (&twin);
    assert (store_heartbeat (b, "ib", "tcp://b:1", 1, 5000, &peers, &count) == 0);
    bool seen = false;
    for (size_t index = 0; index < count; index++)
        seen |= streq (peers [index].id, node_a) && streq (peers [index].endpoint, "tcp://a:1");
    free (peers);
    assert (seen);
    //  Released, it may be claimed; the old owner's writes change nothing
    assert (store_release (a, "ia") == 0);
    assert (store_load (b, id, now - 1000, &row) == STORE_CLAIMED && row.epoch == 2);
    store_row_clear (&row);
    int64_t last = now + 5000;
    uint32_t old_epoch = 1, new_epoch = 2;
    bool found = true;
    assert (store_refresh (a, (store_id_t *) id, &last, &old_epoch, 1, &found) == 0 && !found);
    assert (store_delete (a, (store_id_t *) id, &old_epoch, 1) == 0);
    assert (store_refresh (b, (store_id_t *) id, &last, &new_epoch, 1, &found) == 0 && found);
    assert (store_load (a, id, now - 1000, &row) == STORE_OWNED && streq (row.owner, node_b));
    store_row_clear (&row);
    //  A node without a live lease claims nothing, not even its own
    store_release (b, "ib");
    assert (store_load (b, id, now - 1000, &row) == -1);
    assert (strstr (store_error (b), "lease"));
    assert (store_heartbeat (b, "ib", "tcp://b:1", 1, 5000, &peers, &count) == 0);
    free (peers);
    assert (store_delete (b, (store_id_t *) id, &new_epoch, 1) == 0);
    assert (store_load (b, id, 0, &row) == STORE_MISSING);
    store_release (b, "ib");
    store_destroy (&a);
    store_destroy (&b);
}

static void
s_test_engine (const char *url, bool verbose)
{
    store_t *store = s_test_open (url, "node-a", "test", "");
    int64_t now = store_now_ms ();
    //  Fresh ids per run: the PostgreSQL database may be shared by runs
    uint8_t bytes [MCPZ_SID_BYTES];
    store_id_t ids [4];
    store_row_t rows [3];
    for (int index = 0; index < 4; index++) {
        for (int at = 0; at < MCPZ_SID_BYTES; at++)
            bytes [at] = (uint8_t) (rand () & 255);
        mcpz_sid_format (bytes, ids [index]);
        if (index < 3)
            s_row (&rows [index], ids [index], now - index * 60000);
    }
    assert (store_create (store, rows, 3) == 0);
    for (int index = 0; index < 3; index++)
        store_row_clear (&rows [index]);

    store_row_t row;
    assert (store_load (store, ids [0], now - 1000, &row) == 1);
    assert (row.version == 2 && row.epoch == 1 && row.created_ms == now);
    assert (streq (row.client_info, "{\"name\":\"t\\\"q\",\"version\":\"1\"}"));
    assert (streq (row.principal, "curve:test"));
    assert (streq (row.capabilities, "{}"));
    store_row_clear (&row);
    assert (store_load (store, ids [0], now - 1000, &row) == 1 && row.epoch == 2);
    store_row_clear (&row);
    //  Too old to resume: expired
    assert (store_load (store, ids [2], now - 1000, &row) == 0);

    //  Refresh moves forward only, and reports missing rows
    store_id_t probe [2];
    memcpy (probe [0], ids [2], sizeof (store_id_t));
    memcpy (probe [1], "00000000000000000000000000000000", sizeof (store_id_t));
    int64_t last [2] = { now, now };
    uint32_t epochs [2] = { 0, 0 };
    bool found [2] = { false, true };
    assert (store_refresh (store, probe, last, epochs, 2, found) == 0);
    assert (found [0] && !found [1]);
    assert (store_load (store, ids [2], now - 1000, &row) == 1);
    store_row_clear (&row);
    last [0] = now - 3600000;
    epochs [0] = 1;
    assert (store_refresh (store, probe, last, epochs, 1, found) == 0 && found [0]);
    assert (store_load (store, ids [2], now - 1000, &row) == 1);
    store_row_clear (&row);

    //  Expire removes what is old; delete removes by id, in its epoch
    assert (store_expire (store, now - 30000) >= 1);
    assert (store_load (store, ids [1], 0, &row) == 0);
    uint32_t epoch = 2;
    assert (store_delete (store, ids, &epoch, 1) == 0);
    assert (store_load (store, ids [0], 0, &row) == 0);
    assert (store_delete (store, &ids [2], &epoch, 1) == 0);
    assert (store_load (store, ids [2], 0, &row) == 0);

    //  A big batch in one call
    size_t many = 2500;
    store_row_t *batch = (store_row_t *) calloc (many, sizeof (store_row_t));
    store_id_t *batch_ids = (store_id_t *) calloc (many, sizeof (store_id_t));
    int64_t *batch_last = (int64_t *) calloc (many, sizeof (int64_t));
    uint32_t *batch_epochs = (uint32_t *) calloc (many, sizeof (uint32_t));
    bool *batch_found = (bool *) calloc (many, sizeof (bool));
    for (size_t index = 0; index < many; index++) {
        for (int at = 0; at < MCPZ_SID_BYTES; at++)
            bytes [at] = (uint8_t) (rand () & 255);
        mcpz_sid_format (bytes, batch_ids [index]);
        s_row (&batch [index], batch_ids [index], now);
        batch_last [index] = now + 1;
    }
    assert (store_create (store, batch, many) == 0);
    assert (store_refresh (store, batch_ids, batch_last, batch_epochs, many, batch_found) == 0);
    for (size_t index = 0; index < many; index++) {
        assert (batch_found [index]);
        store_row_clear (&batch [index]);
    }
    assert (store_delete (store, batch_ids, batch_epochs, many) == 0);
    free (batch);
    free (batch_ids);
    free (batch_last);
    free (batch_epochs);
    free (batch_found);
    assert (store_reconnect (store) == 0);
    assert (store_connected (store));
    assert (store_release (store, "test") == 0);
    store_destroy (&store);
    assert (!store);
    s_test_leases (url, ids [3], now);
}

void
store_test (bool verbose)
{
    printf (" * store: ");
    srand ((unsigned) time (NULL) ^ (unsigned) getpid ());
    char path [] = "/tmp/mcpz-store-test-XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    close (fd);
    unlink (path);
    char url [128];
    snprintf (url, sizeof (url), "sqlite:%s", path);
    s_test_engine (url, verbose);
    //  Reopening finds the schema in place
    s_test_engine (url, verbose);

    //  A file that is not an mcpz database is refused, not damaged
    char error [512];
    FILE *file = fopen (path, "w");
    fputs ("this is not a database, it is a text file of some length....", file);
    fclose (file);
    assert (!store_open (url, "n", 1000, NULL, error, sizeof (error)));
    assert (strstr (error, path));
    unlink (path);
    for (const char *suffix = "-wal"; suffix; suffix = streq (suffix, "-wal")? "-shm": NULL) {
        char extra [160];
        snprintf (extra, sizeof (extra), "%s%s", path, suffix);
        unlink (extra);
    }
    assert (!store_open ("sqlite:/nonexistent-dir/x.db", "n", 1000, NULL, error, sizeof (error)));
    assert (!store_open ("mysql://x", "n", 1000, NULL, error, sizeof (error)));

    //  The test script starts a server and leaves its URL in a file
    char pg [512] = "";
    const char *pg_file = getenv ("MCPZ_TEST_PG_URL_FILE");
    FILE *url_file = pg_file? fopen (pg_file, "r"): NULL;
    if (url_file) {
        if (!fgets (pg, sizeof (pg), url_file))
            *pg = 0;
        pg [strcspn (pg, "\n")] = 0;
        fclose (url_file);
    }
    if (*pg) {
        s_test_engine (pg, verbose);
        printf ("(sqlite, postgresql) ");
    }
    else
        printf ("(sqlite only: MCPZ_TEST_PG_URL_FILE unset) ");
    assert (!store_open ("postgresql://127.0.0.1:1/x?connect_timeout=2", "n", 2000, NULL,
                         error, sizeof (error)));
    printf ("OK\n");
}
