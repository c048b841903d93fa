/*  sweep — a session host's part of each cleanup cycle.

    Owns: nothing; it reads and answers the host's DEALER (identity
    host-N) to the cleanup actor. Takes from the cleanup actor:
      SWEEP tag, ttl-ms    drop idle sessions; answer SWEPT tag, expired,
                           live ids (32 bytes each), last activity (int64
                           wall ms each), epochs (uint32 each)
      DROP ids             the store no longer has these, or another node
                           owns them now: end them
    The answer never waits: one the cleanup actor cannot take now is
    dropped, and the cycle counts this host's batch failed (and deletes no
    rows).
*/
#include "actors/host/sweep.h"
#include "actors/host/host.h"
#include "actors/host/lifecycle.h"
#include "runtime/frames.h"
#include "runtime/log.h"
#include "store/store.h"

//  Drops sessions idle past the TTL, reports the others with their last
//  activity as wall-clock ms.
static void
s_sweep (host_t *self, zmq_msg_t *tag, int64_t ttl_ms)
{
    size_t size = zhashx_size (self->sessions);
    char *ids = (char *) malloc (size * MCPZ_SID_SIZE + 1);
    int64_t *last = (int64_t *) malloc (size * sizeof (int64_t) + 1);
    uint32_t *epochs = (uint32_t *) malloc (size * sizeof (uint32_t) + 1);
    zlistx_t *idle = zlistx_new ();
    int64_t mono = zclock_mono ();
    int64_t wall = store_now_ms ();
    size_t live = 0;
    for (session_t *session = (session_t *) zhashx_first (self->sessions);
         session && ids && last && epochs; session = (session_t *) zhashx_next (self->sessions)) {
        if (!session_live (session))
            continue;           //  its row is being written or deleted
        if (session->inflight == 0 && mono - session->last_activity_ms >= ttl_ms)
            zlistx_add_end (idle, session);
        else {
            //  A session with a call in flight is active now, however long
            //  ago its last frame came
            memcpy (ids + live * MCPZ_SID_SIZE, session->id, MCPZ_SID_SIZE);
            epochs [live] = session_epoch (session);
            last [live++] = session->inflight? wall: wall - (mono - session->last_activity_ms);
        }
    }
    size_t expired = zlistx_size (idle);
    for (session_t *session = (session_t *) zlistx_first (idle); session;
         session = (session_t *) zlistx_next (idle)) {
        log_debug (self->name, "session %s expired", session->id);
        lifecycle_end (self, session);
    }
    zlistx_destroy (&idle);
    self->expired += expired;
    char count [24];
    snprintf (count, sizeof (count), "%zu", expired);
    if (host_reply_start (self, self->cleanup_raw, "SWEPT", tag)) {
        frames_send_text (self->cleanup_raw, count, ZMQ_SNDMORE);
        frames_send_copy (self->cleanup_raw, ids, live * MCPZ_SID_SIZE, ZMQ_SNDMORE);
        frames_send_copy (self->cleanup_raw, last, live * sizeof (int64_t), ZMQ_SNDMORE);
        frames_send_copy (self->cleanup_raw, epochs, live * sizeof (uint32_t), 0);
    }
    free (ids);
    free (last);
    free (epochs);
}

static void
s_drop (host_t *self, zmq_msg_t *ids)
{
    size_t count = zmq_msg_size (ids) / MCPZ_SID_SIZE;
    for (size_t index = 0; index < count; index++) {
        char sid [MCPZ_SID_SIZE + 1];
        memcpy (sid, (char *) zmq_msg_data (ids) + index * MCPZ_SID_SIZE, MCPZ_SID_SIZE);
        sid [MCPZ_SID_SIZE] = 0;
        session_t *session = (session_t *) zhashx_lookup (self->sessions, sid);
        if (session && session_live (session)) {
            log_debug (self->name, "session %s is gone from the store", sid);
            lifecycle_end (self, session);
            self->dropped++;
        }
    }
}

void
sweep_handle (host_t *self, zmq_msg_t *frames, int count)
{
    char ttl [24];
    if (count == 3 && frames_is (&frames [0], "SWEEP") && frames_text (&frames [2], ttl, sizeof (ttl)))
        s_sweep (self, &frames [1], strtoll (ttl, NULL, 10));
    else
    if (count == 2 && frames_is (&frames [0], "DROP"))
        s_drop (self, &frames [1]);
}
