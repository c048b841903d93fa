/*  operator — what a session host tells and does for the operator.

    Owns: nothing; it reads and answers the host's DEALER (identity
    host-N) to the control actor. Takes from the control actor:
      STATS tag;  LIST tag, cursor, limit;  INFO tag, id;  KILL tag, id
    Sends to it, never waiting (a reply it cannot take now is dropped and
    the operator's answer says "partial"):
      STATS tag, figures JSON;  LISTED tag, page JSON;  INFO tag, session
      JSON or "";  KILLED tag, ok|missing|reason
    STATS also comes on the pipe from the supervisor and is answered there.
    A kill ends the session as CLOSE would: with a store, once its row is
    deleted (ops.c answers KILLED then).
*/
#include "actors/host/operator.h"
#include "actors/host/replay.h"
#include "actors/host/host.h"
#include "actors/host/lifecycle.h"
#include "actors/host/ops.h"
#include "proto/mcp.h"
#include "runtime/frames.h"
#include "runtime/log.h"
#include "store/store.h"

//  Requests by method and outcome, their latency, and refusals by status
static void
s_add_requests (host_t *self, json_t *figures)
{
    json_t *methods = json_object (), *latency = json_object (), *refusals = json_object ();
    for (int method = 0; method < METHODS; method++) {
        json_t *outcomes = json_object ();
        for (int outcome = 0; outcome < OUTCOMES; outcome++)
            if (self->outcomes [method][outcome])
                json_object_set_new (outcomes, host_outcome_names [outcome],
                                     json_integer ((json_int_t) self->outcomes [method][outcome]));
        json_object_set_new (methods, methods_name ((method_t) method), outcomes);
        if (self->latency [method].count)
            json_object_set_new (latency, methods_name ((method_t) method),
                                 histogram_to_json (&self->latency [method]));
    }
    for (int index = 0; index < STATUSES; index++) {
        char status [8];
        snprintf (status, sizeof (status), "%d", host_statuses [index]);
        json_object_set_new (refusals, status, json_integer ((json_int_t) self->refusals [index]));
    }
    json_object_set_new (figures, "methods", methods);
    json_object_set_new (figures, "latency", latency);
    json_object_set_new (figures, "refusals", refusals);
}

//  This host's figures, as one JSON object.
static char *
s_figures (host_t *self)
{
    json_t *figures = json_pack ("{s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "host", atoi (self->name + 5),
        "sessions", (json_int_t) zhashx_size (self->sessions),
        "opened", (json_int_t) self->opened, "closed", (json_int_t) self->closed,
        "requests", (json_int_t) self->requests, "errors", (json_int_t) self->errors,
        "overloads", (json_int_t) self->overloads,
        "inflight", (json_int_t) zhashx_size (self->calls), "late", (json_int_t) self->late,
        "loading", (json_int_t) zhashx_size (self->loading),
        "store_ops", (json_int_t) zhashx_size (self->ops),
        "loads", (json_int_t) self->loads, "load_misses", (json_int_t) self->load_misses,
        "store_errors", (json_int_t) self->store_errors, "expired", (json_int_t) self->expired,
        "dropped", (json_int_t) self->dropped, "evicted", (json_int_t) self->evicted,
        "timeouts", (json_int_t) self->phases [PHASE_TIMED_OUT],
        "cancelled", (json_int_t) self->phases [PHASE_CANCELLED]);
    json_object_set_new (figures, "late_store", json_integer ((json_int_t) self->late_store));
    json_object_set_new (figures, "client_caps", json_integer ((json_int_t) self->client_caps));
    json_object_set_new (figures, "replay_bytes", json_integer ((json_int_t) replay_held (self)));
    json_object_set_new (figures, "budget_evicted", json_integer ((json_int_t) self->budget_evicted));
    s_add_requests (self, figures);
    char *text = json_dumps (figures, JSON_COMPACT);
    json_decref (figures);
    return text;
}

void
operator_stats (host_t *self, void *socket, zmq_msg_t *tag)
{
    char *figures = s_figures (self);
    if (socket == self->raw) {
        frames_send_text (socket, "STATS", ZMQ_SNDMORE);
        zmq_msg_send (tag, socket, ZMQ_SNDMORE);
    }
    else
    if (!host_reply_start (self, socket, "STATS", tag)) {
        free (figures);
        return;
    }
    frames_send_owned (socket, figures, figures? strlen (figures): 0, 0);
}

//  A session as the control protocol shows it.
static json_t *
s_session_json (host_t *self, session_t *session)
{
    static const char *const states [] = { "persisting", "initializing", "ready", "closing" };
    int64_t idle = zclock_mono () - session->last_activity_ms;
    return json_pack ("{s:s,s:s,s:O,s:I,s:I,s:I,s:i,s:s,s:I}",
        "id", session->id,
        "protocol_version", mcp_versions [session->version],
        "client", session->client_info,
        "last_activity", (json_int_t) (store_now_ms () - idle),
        "idle_ms", (json_int_t) idle,
        "created", (json_int_t) session->created_ms,
        "inflight", (int) session->inflight,
        "state", states [session->state],
        "last_event_id", (json_int_t) session->event_id);
}

static int
s_by_id (const void *a, const void *b)
{
    return strcmp ((*(session_t **) a)->id, (*(session_t **) b)->id);
}

//  LIST tag cursor limit: this host's sessions above the cursor, by id.
static void
s_list (host_t *self, zmq_msg_t *tag, const char *cursor, size_t limit)
{
    size_t size = zhashx_size (self->sessions), count = 0;
    session_t **above = (session_t **) calloc (size + 1, sizeof (session_t *));
    for (session_t *session = (session_t *) zhashx_first (self->sessions);
         session && above; session = (session_t *) zhashx_next (self->sessions))
        if (strcmp (session->id, cursor) > 0)
            above [count++] = session;
    if (above)
        qsort (above, count, sizeof (session_t *), s_by_id);
    json_t *sessions = json_array ();
    for (size_t index = 0; index < count && index < limit; index++)
        json_array_append_new (sessions, s_session_json (self, above [index]));
    json_t *page = json_pack ("{s:o,s:b}", "sessions", sessions, "more", count > limit);
    char *text = json_dumps (page, JSON_COMPACT);
    json_decref (page);
    free (above);
    if (host_reply_start (self, self->control_raw, "LISTED", tag))
        frames_send_owned (self->control_raw, text, text? strlen (text): 0, 0);
    else
        free (text);
}

static void
s_info (host_t *self, zmq_msg_t *tag, const char *sid)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, sid);
    char *text = NULL;
    if (session) {
        json_t *info = s_session_json (self, session);
        text = json_dumps (info, JSON_COMPACT);
        json_decref (info);
    }
    if (host_reply_start (self, self->control_raw, "INFO", tag))
        frames_send_text (self->control_raw, text? text: "", 0);
    free (text);
}

void
operator_killed (host_t *self, const char *tag, const char *status)
{
    frames_send_strings (self->control_raw, "KILLED", tag, status, NULL);
}

//  KILL tag id: ends the session as CLOSE would, answering the operator
//  once the row is deleted.
static void
s_kill (host_t *self, const char *tag, const char *sid)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, sid);
    if (!session || !session_live (session)) {
        operator_killed (self, tag, "missing");
        return;
    }
    log_info (self->name, "session %s killed by an operator", sid);
    if (!self->db) {
        lifecycle_end (self, session);
        self->closed++;
        operator_killed (self, tag, "ok");
    }
    else
    if (ops_delete (self, session, NULL, tag))
        operator_killed (self, tag, "store queue is full, try again");
}

void
operator_handle (host_t *self, zmq_msg_t *frames, int count)
{
    char tag [16], arg [MCPZ_SID_SIZE + 1] = "", limit [16] = "100";
    bool tagged = count >= 2 && frames_text (&frames [1], tag, sizeof (tag));
    if (count >= 3)
        frames_text (&frames [2], arg, sizeof (arg));
    if (count == 4)
        frames_text (&frames [3], limit, sizeof (limit));
    if (!tagged)
        ;
    else
    if (count == 2 && frames_is (&frames [0], "STATS"))
        operator_stats (self, self->control_raw, &frames [1]);
    else
    if (count == 4 && frames_is (&frames [0], "LIST"))
        s_list (self, &frames [1], arg, (size_t) atoi (limit));
    else
    if (count == 3 && frames_is (&frames [0], "INFO"))
        s_info (self, &frames [1], arg);
    else
    if (count == 3 && frames_is (&frames [0], "KILL"))
        s_kill (self, tag, arg);
}
