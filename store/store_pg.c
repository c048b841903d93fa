/*  store_pg — the PostgreSQL engine: one PGconn, driven through libpq's
    asynchronous API so every call is bounded by the store's timeout and
    ends early when the owning actor's pipe has input ($TERM). A call that
    times out drops the connection rather than wait for a cancel; the
    server's statement_timeout ends the statement on its side.

    Batches are one statement each: a multi-row INSERT, DELETE ... = ANY,
    and UPDATE ... FROM unnest(ids, times), which measured ~75x faster than
    one UPDATE per session over five connections (DESIGN.md).
*/
#include "store/engine.h"
#include "proto/mcp.h"
#include "store/schema.h"

#include <czmq.h>
#include <inttypes.h>
#include <libpq-fe.h>

#define CONN(self) ((PGconn *) (self)->handle)

//  Rows per INSERT: ROW_PARAMS parameters each, under libpq's 65535 limit
#define ROW_PARAMS  8
#define INSERT_ROWS 4096

//  Waits until the socket is ready or the deadline or an interrupt comes.
//  Returns 0 when ready, -1 otherwise (error set).
static int
s_wait (store_t *self, int events, int64_t deadline)
{
    zmq_pollitem_t items [2] = {
        { NULL, PQsocket (CONN (self)), (short) events, 0 },
        { self->interrupt, 0, ZMQ_POLLIN, 0 }
    };
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0) {
            self->gave_up = true;
            return store_fail (self, "no answer within %d ms", self->timeout_ms);
        }
        int rc = zmq_poll (items, self->interrupt? 2: 1, (long) left);
        if (rc == -1 && errno == EINTR)
            continue;
        if (rc == -1)
            return store_fail (self, "poll failed: %s", zmq_strerror (errno));
        if (self->interrupt && (items [1].revents & ZMQ_POLLIN)) {
            self->gave_up = true;
            return store_fail (self, "interrupted");
        }
        if (items [0].revents)
            return 0;
    }
}

static bool
s_failed (PGresult *result)
{
    return result && PQresultStatus (result) != PGRES_COMMAND_OK
                  && PQresultStatus (result) != PGRES_TUPLES_OK;
}

//  Sends what libpq buffered and collects the results of one query. Returns
//  the first failing result, else the last one; NULL when the connection
//  broke or time ran out (then the connection is dropped).
static PGresult *
s_finish (store_t *self, int64_t deadline)
{
    PGconn *conn = CONN (self);
    int flush;
    while ((flush = PQflush (conn)) == 1)
        if (s_wait (self, ZMQ_POLLIN | ZMQ_POLLOUT, deadline)
        ||  !PQconsumeInput (conn))
            goto lost;
    if (flush == -1)
        goto lost;
    PGresult *kept = NULL;
    while (true) {
        while (PQisBusy (conn))
            if (s_wait (self, ZMQ_POLLIN, deadline) || !PQconsumeInput (conn)) {
                PQclear (kept);
                goto lost;
            }
        PGresult *result = PQgetResult (conn);
        if (!result)
            break;
        if (s_failed (kept))
            PQclear (result);       //  keep the first failure
        else {
            PQclear (kept);
            kept = result;
        }
    }
    if (PQstatus (conn) == CONNECTION_BAD) {
        PQclear (kept);
        goto lost;
    }
    return kept;
lost:
    if (!*self->error || PQstatus (conn) == CONNECTION_BAD)
        store_fail (self, "connection lost: %s", PQerrorMessage (conn));
    self->connected = false;
    return NULL;
}

//  Runs a query with text parameters; NULL parameters list = simple query
//  (several statements allowed). Returns the result or NULL (error set).
static PGresult *
s_query (store_t *self, const char *sql, int count, const char *const *values)
{
    *self->error = 0;
    int64_t deadline = zclock_mono () + self->timeout_ms;
    int sent = values? PQsendQueryParams (CONN (self), sql, count, NULL, values, NULL, NULL, 0):
                       PQsendQuery (CONN (self), sql);
    if (!sent) {
        store_fail (self, "cannot send: %s", PQerrorMessage (CONN (self)));
        if (PQstatus (CONN (self)) == CONNECTION_BAD)
            self->connected = false;
        return NULL;
    }
    PGresult *result = s_finish (self, deadline);
    if (s_failed (result)) {
        store_fail (self, "%s", PQresultErrorMessage (result));
        PQclear (result);
        return NULL;
    }
    return result;
}

static int
s_command (store_t *self, const char *sql, int count, const char *const *values)
{
    PGresult *result = s_query (self, sql, count, values);
    PQclear (result);
    return result? 0: -1;
}

static void
s_disconnect (store_t *self)
{
    if (self->handle)
        PQfinish (CONN (self));
    self->handle = NULL;
}

static int
s_connect_poll (store_t *self)
{
    int64_t deadline = zclock_mono () + self->timeout_ms;
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    while (status != PGRES_POLLING_OK) {
        if (status == PGRES_POLLING_FAILED)
            return store_fail (self, "cannot connect: %s", PQerrorMessage (CONN (self)));
        //  The socket may change between polls: ask for it every time
        if (s_wait (self, status == PGRES_POLLING_READING? ZMQ_POLLIN: ZMQ_POLLOUT, deadline))
            return -1;
        status = PQconnectPoll (CONN (self));
    }
    return 0;
}

static int
s_schema (store_t *self)
{
    //  One transaction under an advisory lock: nodes and workers starting
    //  together create the schema once.
    char *sql = NULL;
    if (asprintf (&sql, "BEGIN; SELECT pg_advisory_xact_lock(7272657); %s COMMIT;",
                  schema_postgresql) < 0)
        return store_fail (self, "out of memory");
    int rc = s_command (self, sql, 0, NULL);
    free (sql);
    if (rc) {
        s_command (self, "ROLLBACK", 0, NULL);
        return -1;
    }
    PGresult *result = s_query (self, "SELECT max(version) FROM mcpz_schema", 0, NULL);
    if (!result)
        return -1;
    long version = PQntuples (result) == 1 && !PQgetisnull (result, 0, 0)?
                   atol (PQgetvalue (result, 0, 0)): 0;
    PQclear (result);
    if (version > STORE_SCHEMA_VERSION)
        return store_fail (self, "schema version %ld is newer than this mcpzd knows (%d)",
                           version, STORE_SCHEMA_VERSION);
    if (version < 1)
        return store_fail (self, "not an mcpz database (no schema version)");
    return 0;
}

static int
s_connect (store_t *self)
{
    const char *keys [] = { "dbname", "application_name", NULL };
    const char *values [] = { self->target, "mcpzd", NULL };
    self->handle = PQconnectStartParams (keys, values, 1);
    if (!self->handle)
        return store_fail (self, "out of memory");
    if (PQstatus (CONN (self)) == CONNECTION_BAD) {
        store_fail (self, "bad URL: %s", PQerrorMessage (CONN (self)));
        s_disconnect (self);
        return -1;
    }
    char timeout [160];
    //  Notices (the schema's "already exists") would go to stderr
    //  random_page_cost: the session table lives in memory; at the default
    //  the planner hashes the whole table for a 2,000-row refresh instead
    //  of probing the key (measured 70 ms against 25 ms).
    snprintf (timeout, sizeof (timeout), "SET statement_timeout = %d; "
              "SET client_min_messages = warning; SET random_page_cost = 1.1",
              self->timeout_ms);
    if (s_connect_poll (self)
    ||  PQsetnonblocking (CONN (self), 1)
    ||  s_command (self, timeout, 0, NULL)
    ||  s_schema (self)) {
        s_disconnect (self);
        return -1;
    }
    self->connected = true;
    return 0;
}

//  Appends the ids as a text[] literal: hex needs no quoting.
static char *
s_id_array (store_id_t *ids, size_t count)
{
    char *text = (char *) malloc (count * (MCPZ_SID_SIZE + 1) + 3);
    if (!text)
        return NULL;
    char *at = text;
    *at++ = '{';
    for (size_t index = 0; index < count; index++) {
        if (index)
            *at++ = ',';
        memcpy (at, ids [index], MCPZ_SID_SIZE);
        at += MCPZ_SID_SIZE;
    }
    *at++ = '}';
    *at = 0;
    return text;
}

static int
s_create_some (store_t *self, store_row_t *rows, size_t count)
{
    //  INSERT ... VALUES ($1..$8), ($9..$16), ...: node is a literal-free
    //  parameter per row to keep one statement shape
    size_t params = count * ROW_PARAMS;
    const char **values = (const char **) calloc (params, sizeof (char *));
    char (*numbers) [2][24] = calloc (count, sizeof (*numbers));
    char *sql = (char *) malloc (240 + count * 96);
    if (!values || !numbers || !sql) {
        free (values);
        free (numbers);
        free (sql);
        return store_fail (self, "out of memory");
    }
    char *at = sql + sprintf (sql, "INSERT INTO sessions (id, node, created_at, last_accessed, "
                              "protocol_version, client_info, capabilities, principal, state) VALUES ");
    for (size_t index = 0; index < count; index++) {
        size_t base = index * ROW_PARAMS;
        at += sprintf (at, "%s($%zu,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu,'open')", index? ",": "",
                       base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7,
                       base + 8);
        snprintf (numbers [index][0], 24, "%" PRId64, rows [index].created_ms);
        snprintf (numbers [index][1], 24, "%" PRId64, rows [index].last_accessed_ms);
        values [base] = rows [index].id;
        values [base + 1] = self->node;
        values [base + 2] = numbers [index][0];
        values [base + 3] = numbers [index][1];
        values [base + 4] = mcp_versions [rows [index].version];
        values [base + 5] = rows [index].client_info;
        values [base + 6] = rows [index].capabilities;
        values [base + 7] = rows [index].principal? rows [index].principal: "";
    }
    strcpy (at, " ON CONFLICT (id) DO NOTHING");
    int rc = s_command (self, sql, (int) params, values);
    free (values);
    free (numbers);
    free (sql);
    return rc;
}

static int
s_create (store_t *self, store_row_t *rows, size_t count)
{
    if (count <= INSERT_ROWS)
        return s_create_some (self, rows, count);
    //  Larger batches: one transaction around several statements
    if (s_command (self, "BEGIN", 0, NULL))
        return -1;
    for (size_t done = 0; done < count; done += INSERT_ROWS) {
        size_t some = count - done < INSERT_ROWS? count - done: INSERT_ROWS;
        if (s_create_some (self, rows + done, some)) {
            char reason [512];
            snprintf (reason, sizeof (reason), "%s", self->error);
            if (self->connected)
                s_command (self, "ROLLBACK", 0, NULL);
            return store_fail (self, "%s", reason);
        }
    }
    return s_command (self, "COMMIT", 0, NULL);
}

//  The store's clock: every node's lease is judged by this one clock, so
//  nodes' clocks need not agree
#define NOW_MS "(extract(epoch FROM statement_timestamp()) * 1000)::bigint"

//  The claim, and when it is refused, who owns the row: one round trip
static const char s_claim_sql [] =
    "WITH claimed AS ("
    " UPDATE sessions AS s SET epoch = s.epoch + 1, node = $1,"
    " last_accessed = GREATEST(s.last_accessed, $4::bigint)"
    " WHERE s.id = $2 AND s.last_accessed >= $3::bigint"
    " AND EXISTS (SELECT 1 FROM nodes m WHERE m.id = $1 AND m.lease_until >= " NOW_MS ")"
    " AND (s.node = $1 OR NOT EXISTS (SELECT 1 FROM nodes o WHERE o.id = s.node"
    " AND o.lease_until >= " NOW_MS "))"
    " RETURNING s.created_at, s.last_accessed, s.protocol_version, s.client_info,"
    " s.capabilities, s.epoch, s.principal) "
    "SELECT created_at, last_accessed, protocol_version, client_info, capabilities, epoch,"
    " principal, NULL::text, NULL::text, NULL::boolean FROM claimed "
    "UNION ALL "
    "SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, s.node, coalesce(n.endpoint, ''),"
    " coalesce(n.lease_until >= " NOW_MS ", false)"
    " FROM sessions s LEFT JOIN nodes n ON n.id = s.node"
    " WHERE s.id = $2 AND s.last_accessed >= $3::bigint AND NOT EXISTS (SELECT 1 FROM claimed)";

static int
s_claimed (store_t *self, PGresult *result, const char *id, store_row_t *row)
{
    snprintf (row->id, sizeof (row->id), "%s", id);
    row->created_ms = strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    row->last_accessed_ms = strtoll (PQgetvalue (result, 0, 1), NULL, 10);
    row->version = mcp_negotiate_version (PQgetvalue (result, 0, 2));
    row->client_info = strdup (PQgetvalue (result, 0, 3));
    row->capabilities = strdup (PQgetvalue (result, 0, 4));
    row->epoch = (uint32_t) strtoul (PQgetvalue (result, 0, 5), NULL, 10);
    row->principal = strdup (PQgetvalue (result, 0, 6));
    if (!row->client_info || !row->capabilities || !row->principal) {
        store_row_clear (row);
        return store_fail (self, "out of memory");
    }
    return STORE_CLAIMED;
}

//  Not claimed: owned by a live node, or this node's own lease lapsed. A
//  lapsed owner that was not claimed lost a race to another claim, which
//  the statement's snapshot did not see: *again says to ask once more.
static int
s_refused (store_t *self, PGresult *result, store_row_t *row, bool *again)
{
    const char *owner = PQgetvalue (result, 0, 7);
    *again = !streq (owner, self->node) && !streq (PQgetvalue (result, 0, 9), "t");
    if (streq (owner, self->node) || !streq (PQgetvalue (result, 0, 9), "t"))
        return store_fail (self, "this node holds no live lease");
    row->owner = strdup (owner);
    row->endpoint = strdup (PQgetvalue (result, 0, 8));
    if (!row->owner || !row->endpoint) {
        store_row_clear (row);
        return store_fail (self, "out of memory");
    }
    return STORE_OWNED;
}

static int
s_load (store_t *self, const char *id, int64_t not_before_ms, store_row_t *row)
{
    char not_before [24], now [24];
    snprintf (not_before, sizeof (not_before), "%" PRId64, not_before_ms);
    snprintf (now, sizeof (now), "%" PRId64, store_now_ms ());
    const char *values [] = { self->node, id, not_before, now };
    int found = -1;
    bool again = true;
    for (int attempt = 0; attempt < 2 && again; attempt++) {
        //  A resumed session is active now: its row must not expire before
        //  the next refresh reaches it
        PGresult *result = s_query (self, s_claim_sql, 4, values);
        if (!result)
            return -1;
        again = false;
        found = STORE_MISSING;
        if (PQntuples (result) == 1)
            found = PQgetisnull (result, 0, 0)? s_refused (self, result, row, &again):
                                                s_claimed (self, result, id, row);
        PQclear (result);
    }
    return found;
}

//  A bigint[] literal of the epochs
static char *
s_epoch_array (const uint32_t *epochs, size_t count)
{
    char *text = (char *) malloc (count * 11 + 3);
    if (!text)
        return NULL;
    char *at = text;
    *at++ = '{';
    for (size_t index = 0; index < count; index++)
        at += sprintf (at, "%s%" PRIu32, index? ",": "", epochs [index]);
    strcpy (at, "}");
    return text;
}

static int
s_remove (store_t *self, store_id_t *ids, const uint32_t *epochs, size_t count)
{
    char *array = s_id_array (ids, count);
    char *fences = s_epoch_array (epochs, count);
    int rc = -1;
    if (array && fences) {
        const char *values [] = { array, fences, self->node };
        rc = s_command (self, "DELETE FROM sessions AS s USING unnest($1::text[], $2::bigint[]) "
                        "AS v(id, e) WHERE s.id = v.id AND s.node = $3 AND s.epoch = v.e",
                        3, values);
    }
    else
        store_fail (self, "out of memory");
    free (array);
    free (fences);
    return rc;
}

static int
s_refresh (store_t *self, store_id_t *ids, const int64_t *last_ms, const uint32_t *epochs,
           size_t count, bool *found)
{
    char *array = s_id_array (ids, count);
    char *fences = s_epoch_array (epochs, count);
    char *times = (char *) malloc (count * 21 + 3);
    if (!array || !times || !fences) {
        free (array);
        free (fences);
        free (times);
        return store_fail (self, "out of memory");
    }
    char *at = times;
    *at++ = '{';
    for (size_t index = 0; index < count; index++)
        at += sprintf (at, "%s%" PRId64, index? ",": "", last_ms [index]);
    strcpy (at, "}");
    const char *values [] = { array, times, fences, self->node };
    PGresult *result = s_query (self,
        "UPDATE sessions AS s SET last_accessed = GREATEST(s.last_accessed, v.t) "
        "FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(id, t, e) "
        "WHERE s.id = v.id AND s.node = $4 AND s.epoch = v.e RETURNING s.id", 4, values);
    free (array);
    free (fences);
    free (times);
    if (!result)
        return -1;
    //  Ids come back in any order; mark them through a hash of positions
    zhashx_t *positions = zhashx_new ();
    zhashx_set_key_duplicator (positions, NULL);
    zhashx_set_key_destructor (positions, NULL);
    for (size_t index = 0; index < count; index++) {
        found [index] = false;
        zhashx_insert (positions, ids [index], &found [index]);
    }
    for (int row = 0; row < PQntuples (result); row++) {
        bool *slot = (bool *) zhashx_lookup (positions, PQgetvalue (result, row, 0));
        if (slot)
            *slot = true;
    }
    zhashx_destroy (&positions);
    PQclear (result);
    return 0;
}

static int64_t
s_expire (store_t *self, int64_t before_ms)
{
    char before [24];
    snprintf (before, sizeof (before), "%" PRId64, before_ms);
    const char *values [] = { before, self->node };
    //  A live node's rows are its own to expire: its refreshes may be late
    PGresult *result = s_query (self, "DELETE FROM sessions AS s WHERE s.last_accessed < $1::bigint "
                                "AND (s.node = $2 OR NOT EXISTS (SELECT 1 FROM nodes n WHERE "
                                "n.id = s.node AND n.lease_until >= " NOW_MS "))", 2, values);
    if (!result)
        return -1;
    int64_t deleted = strtoll (PQcmdTuples (result), NULL, 10);
    PQclear (result);
    return deleted;
}

static int
s_heartbeat (store_t *self, const char *incarnation, const char *endpoint, int64_t started_ms,
             int lease_ms, store_node_t **peers, size_t *count)
{
    char started [24], lease [16];
    snprintf (started, sizeof (started), "%" PRId64, started_ms);
    snprintf (lease, sizeof (lease), "%d", lease_ms);
    const char *values [] = { self->node, endpoint, incarnation, started, lease };
    //  The first row, empty, says the lease is ours; then the other live nodes
    PGresult *result = s_query (self,
        "WITH me AS (INSERT INTO nodes AS n (id, endpoint, incarnation, started_at, lease_until) "
        "VALUES ($1, $2, $3, $4::bigint, " NOW_MS " + $5::bigint) ON CONFLICT (id) DO UPDATE SET "
        "endpoint = EXCLUDED.endpoint, incarnation = EXCLUDED.incarnation, "
        "started_at = EXCLUDED.started_at, lease_until = EXCLUDED.lease_until "
        "WHERE n.incarnation = EXCLUDED.incarnation OR n.lease_until < " NOW_MS " RETURNING n.id) "
        "SELECT '', '', '' FROM me UNION ALL SELECT id, endpoint, incarnation FROM nodes "
        "WHERE lease_until >= " NOW_MS " AND id <> $1", 5, values);
    if (!result)
        return -1;
    int leased = PQntuples (result) > 0 && !*PQgetvalue (result, 0, 0);
    int rc = 0;
    for (int row = leased; rc == 0 && row < PQntuples (result); row++)
        rc = store_add_peer (self, peers, count, PQgetvalue (result, row, 0),
                             PQgetvalue (result, row, 1), PQgetvalue (result, row, 2));
    PQclear (result);
    return rc? -1: leased? 0: 1;
}

static int
s_release (store_t *self, const char *incarnation)
{
    const char *values [] = { self->node, incarnation };
    return s_command (self, "UPDATE nodes SET lease_until = 0 WHERE id = $1 AND incarnation = $2",
                      2, values);
}

const store_engine_t store_pg_engine = {
    s_connect, s_disconnect, s_create, s_load, s_remove, s_refresh, s_expire,
    s_heartbeat, s_release
};
