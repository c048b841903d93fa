/*  tool_worker — an actor that runs provider code, one call at a time.

    Owns: nothing but the call it is running. Provider code may block here
    (a slow tool occupies one worker, never a session host), and so may its
    questions to the client: the worker waits for the answer, the host does
    not.

    Takes, on its pipe from the tool pool:
      CALL   host, call-id, method, params JSON, timeout ms
      CANCEL call-id            stop the running call if it is this one
      TELL   call-id, JSON      the answer to its ASK, or {"changed":"roots"}
      $TERM                     stop; a running call is cancelled first
    Sends, on its pipe:
      PROGRESS host, call-id, {"progress","total","message"} JSON
      LOG      host, call-id, notifications/message params JSON
      ASK      host, call-id, {"method","params"} JSON
      DETACH   host, call-id, ""
      UPDATED  host, call-id, uri
      DONE     host, call-id, result JSON ("" on error), error code, message
*/
#include "actors/tool_worker.h"
#include "proto/jsonrpc.h"
#include "proto/mcp.h"
#include "runtime/frames.h"

#include <inttypes.h>

//  A worker gives up waiting for the client this long after its call's
//  deadline: the host ends the call first, and this is only for a CANCEL
//  that could not reach the worker
#define DEADLINE_GRACE_MS 1000

typedef struct {
    zsock_t *pipe;              //  to the tool pool
    void *raw;                  //  the pipe's libzmq socket
    catalog_t *table;           //  read-only catalog
    zmq_msg_t host;             //  routing id of the host that asked
    zmq_msg_t call_id;          //  call id of the running call
    bool cancelled;             //  the running call was cancelled
    bool terminated;            //  $TERM arrived
    tool_call_t *call;          //  the running call
    int64_t deadline;           //  the call's (mono ms): past it nobody reads an answer
    json_t *answer;             //  TELL with the answer to its ASK
} worker_t;

static bool
s_is_running (worker_t *self, zmq_msg_t *call_id)
{
    return zmq_msg_size (call_id) == zmq_msg_size (&self->call_id)
        && memcmp (zmq_msg_data (call_id), zmq_msg_data (&self->call_id), zmq_msg_size (call_id)) == 0;
}

//  Handles one message on the pipe while a call runs or between calls.
static void
s_handle_control (worker_t *self, zmq_msg_t *frames, int count)
{
    if (frames_is (&frames [0], "$TERM")) {
        self->terminated = true;
        self->cancelled = true;
    }
    else
    if (frames_is (&frames [0], "CANCEL") && count >= 2 && s_is_running (self, &frames [1]))
        self->cancelled = true;
    else
    if (frames_is (&frames [0], "TELL") && count == 3 && s_is_running (self, &frames [1]) && self->call) {
        json_t *told = json_loadb (zmq_msg_data (&frames [2]), zmq_msg_size (&frames [2]), 0, NULL);
        if (json_object_get (told, "changed"))
            self->call->roots_changed = true;
        else
        if (told && !self->answer) {
            self->answer = told;
            told = NULL;
        }
        json_decref (told);
    }
}

//  Takes pipe messages until ms pass (-1: until the call's deadline), the
//  call is cancelled, or the answer to its ASK is in. Returns false on
//  cancel, and when the call's deadline passed while it waited for an
//  answer: the host may not have been able to tell it (its CANCEL is
//  dropped when the pool's queue is full), and a worker must never wait
//  for nobody.
static bool
s_listen (worker_t *self, int ms)
{
    int64_t deadline = ms < 0? self->deadline: zclock_mono () + ms;
    while (!self->cancelled && !(ms < 0 && self->answer)) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return ms >= 0;
        zmq_pollitem_t item = { self->raw, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) left) > 0) {
            zmq_msg_t frames [3];
            int count;
            if (frames_recv (self->raw, frames, 3, &count, ZMQ_DONTWAIT) == 0) {
                s_handle_control (self, frames, count);
                frames_close (frames, count < 3? count: 3);
            }
        }
    }
    return !self->cancelled;
}

static bool
s_wait (tool_call_t *call, int ms)
{
    return s_listen ((worker_t *) call->runner, ms);
}

//  Sends host and call id as the first two frames of a reply.
static void
s_send_header (worker_t *self, const char *command)
{
    zmq_msg_t host, call_id;
    zmq_msg_init (&host);
    zmq_msg_init (&call_id);
    zmq_msg_copy (&host, &self->host);
    zmq_msg_copy (&call_id, &self->call_id);
    frames_send_text (self->raw, command, ZMQ_SNDMORE);
    zmq_msg_send (&host, self->raw, ZMQ_SNDMORE);
    zmq_msg_send (&call_id, self->raw, ZMQ_SNDMORE);
}

static void
s_progress (tool_call_t *call, double progress, double total, const char *message)
{
    worker_t *self = (worker_t *) call->runner;
    json_t *body = json_pack ("{s:f}", "progress", progress);
    if (total >= 0)
        json_object_set_new (body, "total", json_real (total));
    if (message)
        json_object_set_new (body, "message", json_string (message));
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    if (!text)
        return;
    s_send_header (self, "PROGRESS");
    frames_send_owned (self->raw, text, strlen (text), 0);
}

static void
s_log (tool_call_t *call, const char *level, const char *logger, const char *message)
{
    worker_t *self = (worker_t *) call->runner;
    char *text = mcp_log_params (level, logger, message);
    if (!text)
        return;
    s_send_header (self, "LOG");
    frames_send_owned (self->raw, text, strlen (text), 0);
}

//  Asks the client through the host, and waits for the answer or the end
//  of the call (its deadline or cancellation, which the host enforces).
static json_t *
s_ask (tool_call_t *call, const char *method, json_t *params, int *code_p, char **message_p)
{
    worker_t *self = (worker_t *) call->runner;
    json_t *ask = json_pack ("{s:s}", "method", method);
    if (params)
        json_object_set (ask, "params", params);
    char *text = ask? json_dumps (ask, JSON_COMPACT): NULL;
    json_decref (ask);
    if (!text) {
        *code_p = JSONRPC_INTERNAL_ERROR;
        *message_p = strdup ("out of memory");
        return NULL;
    }
    s_send_header (self, "ASK");
    frames_send_owned (self->raw, text, strlen (text), 0);
    json_decref (self->answer);
    self->answer = NULL;
    if (!s_listen (self, -1)) {
        *code_p = JSONRPC_REQUEST_TIMEOUT;
        *message_p = strdup ("the call ended while it waited for the client");
        return NULL;
    }
    json_t *answer = self->answer;
    self->answer = NULL;
    json_t *result = json_incref (json_object_get (answer, "result"));
    if (!result) {
        json_t *error = json_object_get (answer, "error");
        json_t *code = json_object_get (error, "code");
        const char *message = json_string_value (json_object_get (error, "message"));
        *code_p = json_is_integer (code)? (int) json_integer_value (code): JSONRPC_INTERNAL_ERROR;
        *message_p = strdup (message? message: "the client answered with an error");
    }
    json_decref (answer);
    return result;
}

//  DETACH and UPDATED: news for the host
static void
s_notify (tool_call_t *call, const char *what, const char *detail)
{
    worker_t *self = (worker_t *) call->runner;
    s_send_header (self, what);
    frames_send_text (self->raw, detail, 0);
}

static void
s_run (worker_t *self, zmq_msg_t *frames)
{
    char method [64], message [200];
    tool_call_t call = { 0 };
    catalog_target_t target = { 0 };
    call.progress = s_progress;
    call.wait = s_wait;
    call.log = s_log;
    call.ask = s_ask;
    call.notify = s_notify;
    call.runner = self;
    self->call = &call;
    json_t *params = frames_text (&frames [3], method, sizeof (method))?
        json_loadb (zmq_msg_data (&frames [4]), zmq_msg_size (&frames [4]), 0, NULL): NULL;
    int code = params? catalog_resolve (self->table, NULL, method, params, &call, &target,
                                        message, sizeof (message)): JSONRPC_INTERNAL_ERROR;
    if (code)
        tool_call_fail (&call, code, params? message: "tool worker got a malformed call");
    else {
        target.run (&call);
        catalog_check_output (&call);
    }
    catalog_target_clear (&target);
    json_decref (params);
    json_decref (self->answer);
    self->answer = NULL;
    self->call = NULL;

    char code_text [16];
    snprintf (code_text, sizeof (code_text), "%d", call.error_code);
    s_send_header (self, "DONE");
    frames_send_text (self->raw, call.result? call.result: "", ZMQ_SNDMORE);
    frames_send_text (self->raw, code_text, ZMQ_SNDMORE);
    frames_send_text (self->raw, call.error_message? call.error_message: "", 0);
    tool_call_clear (&call);
}

void
tool_worker_actor (zsock_t *pipe, void *args)
{
    worker_t self = { .pipe = pipe, .raw = zsock_resolve (pipe), .table = (catalog_t *) args };
    zmq_msg_init (&self.host);
    zmq_msg_init (&self.call_id);
    zsock_signal (pipe, 0);
    while (!self.terminated) {
        zmq_msg_t frames [6];
        int count;
        if (frames_recv (self.raw, frames, 6, &count, 0))
            break;                  //  interrupted or context ended
        char timeout [16];
        if (frames_is (&frames [0], "CALL") && count == 6 && frames_text (&frames [5], timeout, sizeof (timeout))) {
            zmq_msg_copy (&self.host, &frames [1]);
            zmq_msg_copy (&self.call_id, &frames [2]);
            self.deadline = zclock_mono () + atol (timeout) + DEADLINE_GRACE_MS;
            self.cancelled = false;
            s_run (&self, frames);
        }
        else
            s_handle_control (&self, frames, count);
        frames_close (frames, count < 6? count: 6);
    }
    zmq_msg_close (&self.host);
    zmq_msg_close (&self.call_id);
}
