/*  cleanup — an actor that runs cleanup cycles every --cleanup-interval
    seconds and when an operator asks.

    Phase 1 asks every session host at once to drop the sessions idle past
    --session-ttl (nothing received, nothing in flight) and to report the
    live ones with their last activity. Phase 2 splits the live ids into
    batches and fans them out to the DB workers, which refresh
    last_accessed in parallel; it gathers the replies with a deadline,
    tells hosts to drop the sessions the store no longer has (closed or
    expired by another node), and deletes expired rows.

    A failed or late batch never deletes anything: it is counted in
    "failed", its sessions stay, and expired rows are left for a cycle in
    which every refresh succeeded, so a live session whose row could not be
    refreshed is never taken for an expired one.

    Takes, on its pipe: $TERM.
    Takes from the control actor (identity "control" on the same ROUTER):
      CYCLE tag    run a cycle now; answered REPORT tag, JSON
      STATS tag    answered STATS tag, JSON (cycles, totals, last report)
    Sends to hosts (ROUTER; hosts connect with identity host-N):
      SWEEP tag, ttl-ms            answered SWEPT tag, expired, ids, last-ms, epochs
      DROP ids                     no answer
    Sends to DB workers (DEALER): REFRESH tag, ids, last-ms; EXPIRE tag, ms
*/
#include "actors/cleanup.h"
#include "proto/mcpz.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/log.h"
#include "store/store.h"

#include <inttypes.h>

#define REFRESH_BATCH   2000    //  ids per REFRESH statement
#define SWEEP_DEADLINE  5000    //  ms for hosts to report

typedef enum { IDLE, SWEEPING, REFRESHING, EXPIRING } phase_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *router;            //  session hosts
    log_limit_t trouble;        //  refresh failures, logged at most once a second
    void *router_raw;
    zsock_t *db;                //  DEALER to every DB worker
    void *db_raw;
    const config_t *config;
    int host_count;
    bool persistent;            //  a store to refresh
    phase_t phase;
    uint64_t cycle;             //  number of the current cycle, in tags
    int waiting;                //  replies still expected in this phase
    int64_t deadline;           //  monotonic ms: end of this phase
    int64_t started;            //  monotonic ms: start of the cycle
    int64_t next_cycle;         //  monotonic ms: the next timed cycle
    char *live;                 //  live ids from phase 1, 32 bytes each
    int64_t *live_last;         //  their last activity, wall ms
    uint32_t *live_epochs;      //  the epochs they were claimed in
    size_t live_count, live_size;
    int *batch_sizes;           //  ids in each REFRESH batch, by batch index
    int batches;
    bool *batch_done;
    int64_t checked, expired, refreshed, missing, failed, expired_rows;
    bool sweep_incomplete;      //  a host did not report: its sessions were
                                //  not refreshed, so no row may expire
    uint64_t cycles;            //  cycles finished
    int64_t totals [5];         //  checked, expired, refreshed, missing, failed
    json_t *last;               //  the last cycle's report
    zlistx_t *requested;        //  tags of CYCLE requests the running cycle answers
    zlistx_t *requested_next;   //  tags of CYCLE requests that came during it
} cleanup_t;

static const char *const s_name = "cleanup";

void
cleanup_host_identity (int index, char *buffer, size_t size)
{
    snprintf (buffer, size, "host-%d", index);
}

static int64_t
s_tag_cycle (zmq_msg_t *frame, int *batch)
{
    char text [48];
    if (!frames_text (frame, text, sizeof (text)))
        return -1;
    unsigned long long cycle = 0;
    int index = -1;
    if (sscanf (text, "%llu:%d", &cycle, &index) < 1)
        return -1;
    if (batch)
        *batch = index;
    return (int64_t) cycle;
}

//  --------------------------------------------------------------------------
//  Phase 3 and the report

static void
s_finish (cleanup_t *self)
{
    int64_t duration = zclock_mono () - self->started;
    json_t *report = json_pack ("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "checked", (json_int_t) self->checked, "expired", (json_int_t) self->expired,
        "refreshed", (json_int_t) self->refreshed, "missing", (json_int_t) self->missing,
        "failed", (json_int_t) self->failed, "duration_ms", (json_int_t) duration,
        "expired_rows", (json_int_t) self->expired_rows, "cycle", (json_int_t) self->cycle);
    char *text = json_dumps (report, JSON_COMPACT);
    json_decref (self->last);
    self->last = report;
    self->cycles++;
    int64_t figures [5] = { self->checked, self->expired, self->refreshed, self->missing, self->failed };
    for (int index = 0; index < 5; index++)
        self->totals [index] += figures [index];
    log_info (s_name, "cycle %" PRIu64 ": %s", self->cycle, text);
    for (char *tag = (char *) zlistx_first (self->requested); tag;
         tag = (char *) zlistx_next (self->requested))
        frames_send_strings (self->router_raw, "control", "REPORT", tag, text, NULL);
    free (text);
    zlistx_purge (self->requested);
    free (self->batch_sizes);
    free (self->batch_done);
    self->batch_sizes = NULL;
    self->batch_done = NULL;
    self->phase = IDLE;
}

static void
s_expire_rows (cleanup_t *self)
{
    if (!self->persistent || self->failed || self->sweep_incomplete) {
        if (self->failed || self->sweep_incomplete)
            log_warn (s_name, "cycle %" PRIu64 ": %s; expired rows are kept until a "
                      "cycle refreshes everything", self->cycle,
                      self->failed? "refreshes failed": "not every host reported");
        s_finish (self);
        return;
    }
    char tag [48], before [24];
    snprintf (tag, sizeof (tag), "%" PRIu64, self->cycle);
    snprintf (before, sizeof (before), "%" PRId64,
              store_now_ms () - (int64_t) self->config->session_ttl * 1000);
    if (zmq_send (self->db_raw, "EXPIRE", 6, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        s_finish (self);
        return;
    }
    frames_send_text (self->db_raw, tag, ZMQ_SNDMORE);
    frames_send_text (self->db_raw, before, 0);
    self->phase = EXPIRING;
    self->waiting = 1;
    self->deadline = zclock_mono () + self->config->store_timeout + 1000;
}

//  --------------------------------------------------------------------------
//  Phase 2: refresh

static void
s_drop (cleanup_t *self, const char *ids, size_t count)
{
    //  Each id goes to the host that owns it, as in the supervisor
    for (int host = 0; host < self->host_count; host++) {
        char *mine = (char *) malloc (count * MCPZ_SID_SIZE + 1);
        size_t found = 0;
        for (size_t index = 0; mine && index < count; index++) {
            const char *id = ids + index * MCPZ_SID_SIZE;
            if ((int) mcpz_sid_host (id, (uint32_t) self->host_count) == host)
                memcpy (mine + MCPZ_SID_SIZE * found++, id, MCPZ_SID_SIZE);
        }
        char identity [16];
        cleanup_host_identity (host, identity, sizeof (identity));
        if (found && zmq_send (self->router_raw, identity, strlen (identity),
                               ZMQ_SNDMORE | ZMQ_DONTWAIT) != -1) {
            frames_send_text (self->router_raw, "DROP", ZMQ_SNDMORE);
            frames_send_copy (self->router_raw, mine, found * MCPZ_SID_SIZE, 0);
        }
        free (mine);
    }
}

static void
s_refresh (cleanup_t *self)
{
    self->checked += (int64_t) self->live_count;
    if (!self->persistent || self->live_count == 0) {
        s_expire_rows (self);
        return;
    }
    self->batches = (int) ((self->live_count + REFRESH_BATCH - 1) / REFRESH_BATCH);
    self->batch_sizes = (int *) calloc ((size_t) self->batches, sizeof (int));
    self->batch_done = (bool *) calloc ((size_t) self->batches, sizeof (bool));
    assert (self->batch_sizes && self->batch_done);
    self->waiting = 0;
    for (int batch = 0; batch < self->batches; batch++) {
        size_t first = (size_t) batch * REFRESH_BATCH;
        size_t count = self->live_count - first < REFRESH_BATCH?
                       self->live_count - first: REFRESH_BATCH;
        self->batch_sizes [batch] = (int) count;
        char tag [48];
        snprintf (tag, sizeof (tag), "%" PRIu64 ":%d", self->cycle, batch);
        //  The DEALER deals batches round-robin: the workers run them in parallel
        if (zmq_send (self->db_raw, "REFRESH", 7, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
            self->failed += (int64_t) count;
            self->batch_done [batch] = true;
            continue;
        }
        frames_send_text (self->db_raw, tag, ZMQ_SNDMORE);
        frames_send_copy (self->db_raw, self->live + first * MCPZ_SID_SIZE,
                          count * MCPZ_SID_SIZE, ZMQ_SNDMORE);
        frames_send_copy (self->db_raw, self->live_last + first, count * sizeof (int64_t), ZMQ_SNDMORE);
        frames_send_copy (self->db_raw, self->live_epochs + first, count * sizeof (uint32_t), 0);
        self->waiting++;
    }
    self->phase = REFRESHING;
    self->deadline = zclock_mono () + self->config->store_timeout + 1000;
    if (self->waiting == 0)
        s_expire_rows (self);
}

static void
s_handle_db (cleanup_t *self)
{
    zmq_msg_t frames [4];
    int count;
    if (frames_recv (self->db_raw, frames, 4, &count, ZMQ_DONTWAIT))
        return;
    int batch = -1;
    int64_t cycle = count >= 2? s_tag_cycle (&frames [0], &batch): -1;
    bool ok = count >= 2 && frames_is (&frames [1], "OK");
    if (cycle != (int64_t) self->cycle)
        ;                       //  a reply after its cycle's deadline
    else
    if (self->phase == REFRESHING && batch >= 0 && batch < self->batches
    &&  !self->batch_done [batch]) {
        self->batch_done [batch] = true;
        self->waiting--;
        if (ok && count == 3) {
            size_t gone = zmq_msg_size (&frames [2]) / MCPZ_SID_SIZE;
            self->missing += (int64_t) gone;
            self->refreshed += self->batch_sizes [batch] - (int64_t) gone;
            if (gone)
                s_drop (self, (const char *) zmq_msg_data (&frames [2]), gone);
        }
        else {
            self->failed += self->batch_sizes [batch];
            char reason [256] = "";
            if (count >= 3)
                frames_text (&frames [2], reason, sizeof (reason));
            log_limited (&self->trouble, LEVEL_WARN, s_name, "refresh of %d sessions failed: %s",
                         self->batch_sizes [batch], reason);
        }
        if (self->waiting == 0)
            s_expire_rows (self);
    }
    else
    if (self->phase == EXPIRING && batch < 0) {
        char text [24];
        if (ok && count == 3 && frames_text (&frames [2], text, sizeof (text)))
            self->expired_rows = strtoll (text, NULL, 10);
        s_finish (self);
    }
    frames_close (frames, count < 4? count: 4);
}

//  --------------------------------------------------------------------------
//  Phase 1: sweep

static void
s_start (cleanup_t *self)
{
    self->cycle++;
    self->started = zclock_mono ();
    self->checked = self->expired = self->refreshed = 0;
    self->missing = self->failed = self->expired_rows = 0;
    self->sweep_incomplete = false;
    self->live_count = 0;
    //  Requests that waited for this cycle are answered by it
    zlistx_t *swap = self->requested;
    self->requested = self->requested_next;
    self->requested_next = swap;
    self->next_cycle = self->started + (int64_t) self->config->cleanup_interval * 1000;
    char tag [48], ttl [24];
    snprintf (tag, sizeof (tag), "%" PRIu64, self->cycle);
    snprintf (ttl, sizeof (ttl), "%" PRId64, (int64_t) self->config->session_ttl * 1000);
    self->waiting = 0;
    for (int host = 0; host < self->host_count; host++) {
        char identity [16];
        cleanup_host_identity (host, identity, sizeof (identity));
        if (zmq_send (self->router_raw, identity, strlen (identity),
                      ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
            self->sweep_incomplete = true;
            continue;
        }
        frames_send_text (self->router_raw, "SWEEP", ZMQ_SNDMORE);
        frames_send_text (self->router_raw, tag, ZMQ_SNDMORE);
        frames_send_text (self->router_raw, ttl, 0);
        self->waiting++;
    }
    self->phase = SWEEPING;
    self->deadline = self->started + SWEEP_DEADLINE;
    if (self->waiting == 0)
        s_refresh (self);
}

//  Appends a host's live ids, times and epochs.
static void
s_add_live (cleanup_t *self, zmq_msg_t *ids, zmq_msg_t *last, zmq_msg_t *epochs)
{
    size_t count = zmq_msg_size (ids) / MCPZ_SID_SIZE;
    if (count == 0 || count * sizeof (int64_t) != zmq_msg_size (last)
    ||  count * sizeof (uint32_t) != zmq_msg_size (epochs))
        return;
    if (self->live_count + count > self->live_size) {
        size_t size = (self->live_count + count) * 2;
        char *live = (char *) realloc (self->live, size * MCPZ_SID_SIZE);
        if (live)
            self->live = live;
        int64_t *live_last = live? (int64_t *) realloc (self->live_last, size * sizeof (int64_t)): NULL;
        if (live_last)
            self->live_last = live_last;
        uint32_t *live_epochs = live_last? (uint32_t *) realloc (self->live_epochs, size * sizeof (uint32_t)): NULL;
        if (live_epochs)
            self->live_epochs = live_epochs;
        if (!live_epochs) {
            log_error (s_name, "out of memory gathering live sessions");
            self->sweep_incomplete = true;
            return;
        }
        self->live_size = size;
    }
    memcpy (self->live + self->live_count * MCPZ_SID_SIZE, zmq_msg_data (ids), count * MCPZ_SID_SIZE);
    memcpy (self->live_last + self->live_count, zmq_msg_data (last), count * sizeof (int64_t));
    memcpy (self->live_epochs + self->live_count, zmq_msg_data (epochs), count * sizeof (uint32_t));
    self->live_count += count;
}

static void
s_stats (cleanup_t *self, zmq_msg_t *tag)
{
    json_t *figures = json_pack ("{s:I,s:{s:I,s:I,s:I,s:I,s:I},s:O*}",
        "cycles", (json_int_t) self->cycles,
        "totals", "checked", (json_int_t) self->totals [0], "expired", (json_int_t) self->totals [1],
        "refreshed", (json_int_t) self->totals [2], "missing", (json_int_t) self->totals [3],
        "failed", (json_int_t) self->totals [4],
        "last", self->last);
    char *text = json_dumps (figures, JSON_COMPACT);
    json_decref (figures);
    char tag_text [16];
    if (frames_text (tag, tag_text, sizeof (tag_text)))
        frames_send_strings (self->router_raw, "control", "STATS", tag_text, text? text: "{}", NULL);
    free (text);
}


static void
s_handle_host (cleanup_t *self)
{
    zmq_msg_t frames [7];
    int count;
    if (frames_recv (self->router_raw, frames, 7, &count, ZMQ_DONTWAIT))
        return;
    if (count == 3 && frames_is (&frames [0], "control")) {
        char tag [16];
        if (frames_is (&frames [1], "STATS"))
            s_stats (self, &frames [2]);
        else
        if (frames_is (&frames [1], "CYCLE") && frames_text (&frames [2], tag, sizeof (tag))) {
            zlistx_add_end (self->requested_next, strdup (tag));
            if (self->phase == IDLE)
                s_start (self);
        }
    }
    else
    if (self->phase == SWEEPING && count == 7 && frames_is (&frames [1], "SWEPT")
    &&  s_tag_cycle (&frames [2], NULL) == (int64_t) self->cycle) {
        char text [24];
        if (frames_text (&frames [3], text, sizeof (text)))
            self->expired += strtoll (text, NULL, 10);
        s_add_live (self, &frames [4], &frames [5], &frames [6]);
        if (--self->waiting == 0)
            s_refresh (self);
    }
    frames_close (frames, count < 7? count: 7);
}

//  --------------------------------------------------------------------------

static void
s_timeout (cleanup_t *self)
{
    if (self->phase == SWEEPING) {
        log_warn (s_name, "cycle %" PRIu64 ": %d hosts did not report in time",
                  self->cycle, self->waiting);
        self->sweep_incomplete = true;
        s_refresh (self);
    }
    else
    if (self->phase == REFRESHING) {
        for (int batch = 0; batch < self->batches; batch++)
            if (!self->batch_done [batch]) {
                self->batch_done [batch] = true;
                self->failed += self->batch_sizes [batch];
            }
        log_warn (s_name, "cycle %" PRIu64 ": %d refresh batches got no answer in time",
                  self->cycle, self->waiting);
        s_expire_rows (self);
    }
    else
    if (self->phase == EXPIRING)
        s_finish (self);
}

static int
s_setup (cleanup_t *self, cleanup_args_t *args)
{
    self->config = args->config;
    self->host_count = args->host_count;
    self->requested = zlistx_new ();
    self->requested_next = zlistx_new ();
    if (!self->requested || !self->requested_next)
        return -1;
    zlistx_set_destructor (self->requested, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_destructor (self->requested_next, (zlistx_destructor_fn *) zstr_free);
    self->persistent = args->db_count > 0;
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router)
        return -1;
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_sndtimeo (self->router, 0);
    if (zsock_bind (self->router, "%s", args->endpoint) == -1)
        return -1;
    self->router_raw = zsock_resolve (self->router);
    if (self->persistent) {
        self->db = zsock_new (ZMQ_DEALER);
        if (!self->db)
            return -1;
        for (int index = 0; index < args->db_count; index++)
            if (zsock_connect (self->db, "%s", args->db_endpoints [index]) == -1)
                return -1;
        self->db_raw = zsock_resolve (self->db);
    }
    self->next_cycle = zclock_mono () + (int64_t) self->config->cleanup_interval * 1000;
    return 0;
}

void
cleanup_actor (zsock_t *pipe, void *args)
{
    cleanup_t self = { .pipe = pipe };
    if (s_setup (&self, (cleanup_args_t *) args)) {
        zlistx_destroy (&self.requested);
        zlistx_destroy (&self.requested_next);
        zsock_destroy (&self.router);
        zsock_destroy (&self.db);
        actor_ready (pipe, "cannot start the cleanup actor");
        return;
    }
    actor_ready (pipe, NULL);
    zmq_pollitem_t items [] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { self.router_raw, 0, ZMQ_POLLIN, 0 },
        { self.db_raw, 0, ZMQ_POLLIN, 0 }
    };
    bool terminated = false;
    while (!terminated) {
        int64_t wake = self.phase == IDLE? self.next_cycle: self.deadline;
        long timeout = (long) (wake - zclock_mono ());
        if (zmq_poll (items, self.persistent? 3: 2, timeout < 0? 0: timeout) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN)
            terminated = actor_told_to_stop (pipe);
        while (!terminated && (items [1].revents & ZMQ_POLLIN) && frames_ready (self.router_raw))
            s_handle_host (&self);
        while (!terminated && self.persistent && (items [2].revents & ZMQ_POLLIN)
                           && frames_ready (self.db_raw))
            s_handle_db (&self);
        int64_t now = zclock_mono ();
        if (self.phase != IDLE && now >= self.deadline)
            s_timeout (&self);
        if (self.phase == IDLE && (zlistx_size (self.requested_next) || now >= self.next_cycle))
            s_start (&self);
    }
    zlistx_destroy (&self.requested);
    zlistx_destroy (&self.requested_next);
    json_decref (self.last);
    free (self.live);
    free (self.live_last);
    free (self.live_epochs);
    free (self.batch_sizes);
    free (self.batch_done);
    zsock_destroy (&self.db);
    zsock_destroy (&self.router);
}
