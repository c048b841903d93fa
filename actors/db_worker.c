/*  db_worker — an actor that owns exactly one store connection for its
    whole life, so a connection can never leak or be shared by threads.

    Whatever queued while the last call ran is taken as one batch: all its
    creates go in one transaction (group commit), all its deletes in one
    statement. Every request gets exactly one reply. When the store goes
    away the worker answers ERR at once and reconnects with back-off
    (100 ms doubling to 5 s) when the next request comes.

    Takes, on its ROUTER (DEALERs of session hosts and cleanup):
      CREATE  tag, id, version, created-ms, client-info, capabilities, principal
      LOAD    tag, id, not-before-ms
      DELETE  tag, id, epoch
      (each of these three from a session host with one more frame, its
      deadline in monotonic ms: one whose client was told 503 is not done)
      REFRESH tag, ids (32 bytes each), last-ms (int64 each), epochs (uint32 each)
      EXPIRE  tag, before-ms
      HEARTBEAT tag, incarnation, endpoint, started-ms, lease-ms
      RELEASE tag, incarnation
      STATS   tag
    Sends back: tag, then
      OK | ERR reason                          to CREATE, DELETE and RELEASE
      OK version created-ms client-info capabilities epoch principal | OWNED node
      endpoint | MISSING | ERR reason          to LOAD
      OK missing-ids | ERR reason              to REFRESH
      OK count | ERR reason                    to EXPIRE
      OK peers (JSON [[id, endpoint, incarnation]...]) | TAKEN | ERR reason
                                               to HEARTBEAT
      OK JSON                                  to STATS
    Takes $TERM on its pipe; a store call in progress ends early.
*/
#include "actors/db_worker.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/log.h"
#include "store/store.h"
#include "proto/metrics.h"

#include <inttypes.h>

#define MAX_FRAMES    10        //  routing id, command, tag, up to 7 arguments
#define MAX_BATCH     1024      //  requests taken at once
#define BACKOFF_MIN   100
#define BACKOFF_MAX   5000
#define WORKER_HWM    10000     //  requests queued per peer

typedef struct {
    zmq_msg_t frames [MAX_FRAMES];
    int count;
} request_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    void *raw;
    const config_t *config;
    char name [16];
    store_t *store;             //  NULL until connected once
    int64_t retry_at;           //  monotonic ms of the next connect attempt
    int backoff;                //  ms to wait after the next failure
    bool up;                    //  last known state, for logging changes
    request_t *batch;           //  requests being served
    uint64_t served, failed, batches;   //  figures
    uint64_t expired;           //  requests not run: their deadline had passed
    int64_t busy_us;            //  time spent in store calls
    histogram_t latency;        //  time per batch
    bool terminated;
} worker_t;

void
db_worker_endpoint (void *owner, int index, char *buffer, size_t size)
{
    snprintf (buffer, size, "inproc://mcpz-db-%p-%d", owner, index);
}

//  --------------------------------------------------------------------------
//  Replies

static void
s_reply_header (worker_t *self, request_t *request, const char *status, bool more)
{
    zmq_msg_send (&request->frames [0], self->raw, ZMQ_SNDMORE);        //  routing id
    zmq_msg_send (&request->frames [2], self->raw, ZMQ_SNDMORE);        //  tag
    frames_send_text (self->raw, status, more? ZMQ_SNDMORE: 0);
}

static void
s_reply_error (worker_t *self, request_t *request, const char *reason)
{
    s_reply_header (self, request, "ERR", true);
    frames_send_text (self->raw, reason, 0);
    self->failed++;
}

static void
s_reply_status (worker_t *self, request_t *request, int rc)
{
    if (rc)
        s_reply_error (self, request, store_error (self->store));
    else
        s_reply_header (self, request, "OK", false);
}

//  --------------------------------------------------------------------------
//  Connection

static bool
s_connected (worker_t *self)
{
    if (self->store && store_connected (self->store))
        return true;
    int64_t now = zclock_mono ();
    if (now < self->retry_at)
        return false;
    char error [512] = "";
    int rc;
    if (self->store)
        rc = store_reconnect (self->store);
    else {
        self->store = store_open (self->config->store, self->config->node_id,
                                  self->config->store_timeout, zsock_resolve (self->pipe),
                                  error, sizeof (error));
        rc = self->store? 0: -1;
    }
    if (rc == 0) {
        if (!self->up)
            log_info (self->name, "connected to the store");
        self->up = true;
        self->backoff = BACKOFF_MIN;
        return true;
    }
    if (self->up || self->backoff == BACKOFF_MIN)
        log_warn (self->name, "store unavailable, retrying in %d ms: %s", self->backoff,
                  self->store? store_error (self->store): error);
    self->up = false;
    self->retry_at = zclock_mono () + self->backoff;
    self->backoff = self->backoff * 2 > BACKOFF_MAX? BACKOFF_MAX: self->backoff * 2;
    return false;
}

//  --------------------------------------------------------------------------
//  Requests

static bool
s_is (request_t *request, const char *command, int count)
{
    return request->count == count && frames_is (&request->frames [1], command);
}

//  The same, with or without a deadline frame after the arguments
static bool
s_is_timed (request_t *request, const char *command, int count)
{
    return s_is (request, command, count) || s_is (request, command, count + 1);
}


static int64_t
s_number (zmq_msg_t *frame)
{
    char text [24];
    return frames_text (frame, text, sizeof (text))? strtoll (text, NULL, 10): 0;
}

//  True when the request carries a deadline that has passed: its sender
//  answered its client 503 already, so it must not take effect now
static bool
s_expired (request_t *request)
{
    int count = s_is (request, "CREATE", 10)? 9:
                s_is (request, "LOAD", 6) || s_is (request, "DELETE", 6)? 5: 0;
    return count && s_number (&request->frames [count]) < zclock_mono ();
}

static bool
s_id (zmq_msg_t *frame, char *id)
{
    return frames_text (frame, id, MCPZ_SID_SIZE + 1)
        && mcpz_sid_valid (id, zmq_msg_size (frame));
}

//  All creates of the batch in one transaction.
static void
s_creates (worker_t *self, request_t **creates, size_t count)
{
    if (!count)
        return;
    store_row_t *rows = (store_row_t *) calloc (count, sizeof (store_row_t));
    int rc = rows? 0: -1;
    for (size_t index = 0; rc == 0 && index < count; index++) {
        request_t *request = creates [index];
        store_row_t *row = &rows [index];
        frames_text (&request->frames [3], row->id, sizeof (row->id));
        row->version = (int) s_number (&request->frames [4]);
        row->created_ms = s_number (&request->frames [5]);
        row->last_accessed_ms = row->created_ms;
        row->client_info = frames_strdup (&request->frames [6]);
        row->capabilities = frames_strdup (&request->frames [7]);
        row->principal = frames_strdup (&request->frames [8]);
        if (!row->client_info || !row->capabilities || !row->principal)
            rc = -1;
    }
    if (rc == 0)
        rc = store_create (self->store, rows, count);
    for (size_t index = 0; index < count; index++) {
        if (rows)
            store_row_clear (&rows [index]);
        if (rows)
            s_reply_status (self, creates [index], rc);
        else
            s_reply_error (self, creates [index], "out of memory");
    }
    free (rows);
}

//  All deletes of the batch in one statement.
static void
s_deletes (worker_t *self, request_t **deletes, size_t count)
{
    if (!count)
        return;
    store_id_t *ids = (store_id_t *) calloc (count, sizeof (store_id_t));
    uint32_t *epochs = (uint32_t *) calloc (count, sizeof (uint32_t));
    int rc = -1;
    if (ids && epochs) {
        for (size_t index = 0; index < count; index++) {
            frames_text (&deletes [index]->frames [3], ids [index], sizeof (store_id_t));
            epochs [index] = (uint32_t) s_number (&deletes [index]->frames [4]);
        }
        rc = store_delete (self->store, ids, epochs, count);
    }
    for (size_t index = 0; index < count; index++)
        if (ids && epochs)
            s_reply_status (self, deletes [index], rc);
        else
            s_reply_error (self, deletes [index], "out of memory");
    free (ids);
    free (epochs);
}

static void
s_load (worker_t *self, request_t *request)
{
    char id [MCPZ_SID_SIZE + 1];
    frames_text (&request->frames [3], id, sizeof (id));
    store_row_t row;
    int found = store_load (self->store, id, s_number (&request->frames [4]), &row);
    if (found < 0) {
        s_reply_error (self, request, store_error (self->store));
        return;
    }
    if (found == STORE_MISSING) {
        s_reply_header (self, request, "MISSING", false);
        return;
    }
    if (found == STORE_OWNED) {
        s_reply_header (self, request, "OWNED", true);
        frames_send_text (self->raw, row.owner, ZMQ_SNDMORE);
        frames_send_text (self->raw, row.endpoint, 0);
        store_row_clear (&row);
        return;
    }
    char version [8], created [24], epoch [16];
    snprintf (version, sizeof (version), "%d", row.version);
    snprintf (created, sizeof (created), "%" PRId64, row.created_ms);
    snprintf (epoch, sizeof (epoch), "%" PRIu32, row.epoch);
    s_reply_header (self, request, "OK", true);
    frames_send_text (self->raw, version, ZMQ_SNDMORE);
    frames_send_text (self->raw, created, ZMQ_SNDMORE);
    frames_send_text (self->raw, row.client_info, ZMQ_SNDMORE);
    frames_send_text (self->raw, row.capabilities, ZMQ_SNDMORE);
    frames_send_text (self->raw, epoch, ZMQ_SNDMORE);
    frames_send_text (self->raw, row.principal, 0);
    store_row_clear (&row);
}

static void
s_refresh (worker_t *self, request_t *request)
{
    size_t count = zmq_msg_size (&request->frames [3]) / MCPZ_SID_SIZE;
    if (count * MCPZ_SID_SIZE != zmq_msg_size (&request->frames [3])
    ||  count * sizeof (int64_t) != zmq_msg_size (&request->frames [4])
    ||  count * sizeof (uint32_t) != zmq_msg_size (&request->frames [5])) {
        s_reply_error (self, request, "malformed REFRESH");
        return;
    }
    store_id_t *ids = (store_id_t *) calloc (count + 1, sizeof (store_id_t));
    int64_t *last = (int64_t *) calloc (count + 1, sizeof (int64_t));
    uint32_t *epochs = (uint32_t *) calloc (count + 1, sizeof (uint32_t));
    bool *found = (bool *) calloc (count + 1, sizeof (bool));
    char *missing = (char *) malloc (count * MCPZ_SID_SIZE + 1);
    if (!ids || !last || !epochs || !found || !missing)
        s_reply_error (self, request, "out of memory");
    else {
        const char *packed = (const char *) zmq_msg_data (&request->frames [3]);
        for (size_t index = 0; index < count; index++) {
            memcpy (ids [index], packed + index * MCPZ_SID_SIZE, MCPZ_SID_SIZE);
            ids [index][MCPZ_SID_SIZE] = 0;
        }
        memcpy (last, zmq_msg_data (&request->frames [4]), count * sizeof (int64_t));
        memcpy (epochs, zmq_msg_data (&request->frames [5]), count * sizeof (uint32_t));
        if (store_refresh (self->store, ids, last, epochs, count, found))
            s_reply_error (self, request, store_error (self->store));
        else {
            size_t gone = 0;
            for (size_t index = 0; index < count; index++)
                if (!found [index])
                    memcpy (missing + MCPZ_SID_SIZE * gone++, ids [index], MCPZ_SID_SIZE);
            s_reply_header (self, request, "OK", true);
            frames_send_copy (self->raw, missing, gone * MCPZ_SID_SIZE, 0);
        }
    }
    free (ids);
    free (last);
    free (epochs);
    free (found);
    free (missing);
}

static void
s_heartbeat (worker_t *self, request_t *request)
{
    char incarnation [64], endpoint [256];
    frames_text (&request->frames [3], incarnation, sizeof (incarnation));
    frames_text (&request->frames [4], endpoint, sizeof (endpoint));
    store_node_t *peers;
    size_t count;
    int rc = store_heartbeat (self->store, incarnation, endpoint, s_number (&request->frames [5]),
                              (int) s_number (&request->frames [6]), &peers, &count);
    if (rc < 0) {
        s_reply_error (self, request, store_error (self->store));
        return;
    }
    json_t *list = json_array ();
    for (size_t index = 0; index < count; index++)
        json_array_append_new (list, json_pack ("[sss]", peers [index].id, peers [index].endpoint,
                                                peers [index].incarnation));
    free (peers);
    char *text = json_dumps (list, JSON_COMPACT);
    json_decref (list);
    s_reply_header (self, request, rc? "TAKEN": "OK", rc == 0);
    if (rc == 0)
        frames_send_text (self->raw, text? text: "[]", 0);
    free (text);
}

static void
s_release (worker_t *self, request_t *request)
{
    char incarnation [64];
    frames_text (&request->frames [3], incarnation, sizeof (incarnation));
    s_reply_status (self, request, store_release (self->store, incarnation));
}

static void
s_expire (worker_t *self, request_t *request)
{
    int64_t deleted = store_expire (self->store, s_number (&request->frames [3]));
    if (deleted < 0) {
        s_reply_error (self, request, store_error (self->store));
        return;
    }
    char text [24];
    snprintf (text, sizeof (text), "%" PRId64, deleted);
    s_reply_header (self, request, "OK", true);
    frames_send_text (self->raw, text, 0);
}

static void
s_stats (worker_t *self, request_t *request)
{
    json_t *figures = json_pack ("{s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:o}",
        "worker", atoi (self->name + 3), "connected", self->up? 1: 0,
        "served", (json_int_t) self->served, "failed", (json_int_t) self->failed,
        "expired", (json_int_t) self->expired,
        "batches", (json_int_t) self->batches, "busy_ms", (json_int_t) (self->busy_us / 1000),
        "latency", histogram_to_json (&self->latency));
    char *text = json_dumps (figures, JSON_COMPACT);
    json_decref (figures);
    s_reply_header (self, request, "OK", true);
    frames_send_text (self->raw, text? text: "{}", 0);
    free (text);
}

//  Checks a request's shape; a bad one is answered at once.
static bool
s_valid (worker_t *self, request_t *request)
{
    char id [MCPZ_SID_SIZE + 1];
    bool valid = request->count >= 3 && (
           (s_is_timed (request, "CREATE", 9) && s_id (&request->frames [3], id))
        || (s_is_timed (request, "LOAD", 5) && s_id (&request->frames [3], id))
        || (s_is_timed (request, "DELETE", 5) && s_id (&request->frames [3], id))
        ||  s_is (request, "REFRESH", 6) || s_is (request, "EXPIRE", 4)
        ||  s_is (request, "HEARTBEAT", 7) || s_is (request, "RELEASE", 4)
        ||  s_is (request, "STATS", 3));
    if (!valid && request->count >= 3)
        s_reply_error (self, request, "malformed store request");
    return valid;
}

static void
s_serve (worker_t *self, int count)
{
    request_t **creates = (request_t **) calloc ((size_t) count, sizeof (request_t *));
    request_t **deletes = (request_t **) calloc ((size_t) count, sizeof (request_t *));
    assert (creates && deletes);
    size_t create_count = 0, delete_count = 0;
    bool connected = s_connected (self);
    int64_t started = zclock_usecs ();
    for (int index = 0; index < count; index++) {
        request_t *request = &self->batch [index];
        if (!s_valid (self, request))
            continue;
        self->served++;
        if (s_is (request, "STATS", 3))
            s_stats (self, request);
        else
        if (!connected)
            s_reply_error (self, request, "store unavailable");
        else
        if (s_expired (request)) {
            self->expired++;
            s_reply_error (self, request, "its deadline passed before it ran");
        }
        else
        if (s_is_timed (request, "CREATE", 9))
            creates [create_count++] = request;
        else
        if (s_is_timed (request, "DELETE", 5))
            deletes [delete_count++] = request;
        else
        if (s_is_timed (request, "LOAD", 5))
            s_load (self, request);
        else
        if (s_is (request, "REFRESH", 6))
            s_refresh (self, request);
        else
        if (s_is (request, "HEARTBEAT", 7))
            s_heartbeat (self, request);
        else
        if (s_is (request, "RELEASE", 4))
            s_release (self, request);
        else
            s_expire (self, request);
    }
    s_creates (self, creates, create_count);
    s_deletes (self, deletes, delete_count);
    int64_t spent = zclock_usecs () - started;
    self->busy_us += spent;
    self->batches++;
    histogram_observe (&self->latency, (double) spent / 1e6);
    free (creates);
    free (deletes);
}

//  Takes every waiting request, up to a batch, then serves them together.
static void
s_handle_router (worker_t *self)
{
    int count = 0;
    while (count < MAX_BATCH) {
        request_t *request = &self->batch [count];
        if (frames_recv (self->raw, request->frames, MAX_FRAMES, &request->count, ZMQ_DONTWAIT))
            break;
        if (request->count > MAX_FRAMES)
            request->count = MAX_FRAMES + 1;    //  matches no shape: refused
        count++;
    }
    if (count)
        s_serve (self, count);
    for (int index = 0; index < count; index++) {
        request_t *request = &self->batch [index];
        frames_close (request->frames, request->count < MAX_FRAMES? request->count: MAX_FRAMES);
    }
}

void
db_worker_actor (zsock_t *pipe, void *args)
{
    db_worker_args_t *start = (db_worker_args_t *) args;
    worker_t self = { .pipe = pipe, .config = start->config, .backoff = BACKOFF_MIN };
    snprintf (self.name, sizeof (self.name), "db %d", start->index);
    self.batch = (request_t *) calloc (MAX_BATCH, sizeof (request_t));
    self.router = zsock_new (ZMQ_ROUTER);
    if (self.router) {
        zsock_set_sndhwm (self.router, WORKER_HWM);
        zsock_set_rcvhwm (self.router, WORKER_HWM);
    }
    if (!self.batch || !self.router || zsock_bind (self.router, "%s", start->endpoint) == -1) {
        free (self.batch);
        zsock_destroy (&self.router);
        actor_ready (pipe, "cannot start a database worker");
        return;
    }
    self.raw = zsock_resolve (self.router);
    actor_ready (pipe, NULL);
    s_connected (&self);
    zmq_pollitem_t items [] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { self.raw, 0, ZMQ_POLLIN, 0 }
    };
    while (!self.terminated) {
        if (zmq_poll (items, 2, -1) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN)
            break;              //  $TERM is the only thing the pipe carries
        if (items [1].revents & ZMQ_POLLIN)
            s_handle_router (&self);
    }
    store_destroy (&self.store);
    zsock_destroy (&self.router);
    free (self.batch);
}
