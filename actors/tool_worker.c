/*  tool_worker — an actor that runs tool code, one call at a time.

    Owns: nothing but the call it is running. Tool code may block here (a
    slow tool occupies one worker, never a session host).

    Takes, on its pipe from the tool pool:
      CALL   host, call-id, tool name, arguments JSON
      CANCEL call-id            stop the running call if it is this one
      $TERM                     stop; a running call is cancelled first
    Sends, on its pipe:
      PROGRESS host, call-id, {"progress","total","message"} JSON
      LOG      host, call-id, notifications/message params JSON
      DONE     host, call-id, result JSON ("" on error), error code, message
*/
#include "actors/tool_worker.h"
#include "proto/jsonrpc.h"
#include "proto/mcp.h"
#include "runtime/frames.h"

#include <inttypes.h>

typedef struct {
    zsock_t *pipe;              //  to the tool pool
    void *raw;                  //  the pipe's libzmq socket
    tool_table_t *table;        //  read-only tool table
    zmq_msg_t host;             //  routing id of the host that asked
    zmq_msg_t call_id;          //  call id of the running call
    bool cancelled;             //  the running call was cancelled
    bool terminated;            //  $TERM arrived
} worker_t;

//  Handles one message on the pipe while a call runs or between calls.
//  Returns the command name seen, for the caller to act on.
static void
s_handle_control (worker_t *self, zmq_msg_t *frames, int count)
{
    if (frames_is (&frames [0], "$TERM")) {
        self->terminated = true;
        self->cancelled = true;
    }
    else
    if (frames_is (&frames [0], "CANCEL") && count >= 2
    &&  zmq_msg_size (&frames [1]) == zmq_msg_size (&self->call_id)
    &&  memcmp (zmq_msg_data (&frames [1]), zmq_msg_data (&self->call_id),
                zmq_msg_size (&frames [1])) == 0)
        self->cancelled = true;
}

static bool
s_wait (tool_call_t *call, int ms)
{
    worker_t *self = (worker_t *) call->runner;
    int64_t deadline = zclock_mono () + ms;
    while (!self->cancelled) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return true;
        zmq_pollitem_t item = { self->raw, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) left) > 0) {
            zmq_msg_t frames [2];
            int count;
            if (frames_recv (self->raw, frames, 2, &count, ZMQ_DONTWAIT) == 0) {
                s_handle_control (self, frames, count);
                frames_close (frames, count < 2? count: 2);
            }
        }
    }
    return false;
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

static void
s_run (worker_t *self, zmq_msg_t *frames)
{
    char name [256];
    json_t *arguments = NULL;
    tool_call_t call = { 0 };
    call.progress = s_progress;
    call.wait = s_wait;
    call.log = s_log;
    call.runner = self;
    const tool_def_t *def = frames_text (&frames [3], name, sizeof (name))?
                            tool_table_find (self->table, name): NULL;
    if (def)
        arguments = json_loadb (zmq_msg_data (&frames [4]), zmq_msg_size (&frames [4]), 0, NULL);
    if (!def || !json_is_object (arguments))
        tool_call_fail (&call, JSONRPC_INTERNAL_ERROR, "tool worker got a malformed call");
    else {
        call.arguments = arguments;
        def->call (&call);
    }
    json_decref (arguments);

    char code [16];
    snprintf (code, sizeof (code), "%d", call.error_code);
    s_send_header (self, "DONE");
    frames_send_text (self->raw, call.result? call.result: "", ZMQ_SNDMORE);
    frames_send_text (self->raw, code, ZMQ_SNDMORE);
    frames_send_text (self->raw, call.error_message? call.error_message: "", 0);
    tool_call_clear (&call);
}

void
tool_worker_actor (zsock_t *pipe, void *args)
{
    worker_t self = { .pipe = pipe, .raw = zsock_resolve (pipe), .table = (tool_table_t *) args };
    zmq_msg_init (&self.host);
    zmq_msg_init (&self.call_id);
    zsock_signal (pipe, 0);
    while (!self.terminated) {
        zmq_msg_t frames [5];
        int count;
        if (frames_recv (self.raw, frames, 5, &count, 0))
            break;                  //  interrupted or context ended
        if (frames_is (&frames [0], "CALL") && count == 5) {
            zmq_msg_copy (&self.host, &frames [1]);
            zmq_msg_copy (&self.call_id, &frames [2]);
            self.cancelled = false;
            s_run (&self, frames);
        }
        else
            s_handle_control (&self, frames, count);
        frames_close (frames, count < 5? count: 5);
    }
    zmq_msg_close (&self.host);
    zmq_msg_close (&self.call_id);
}
