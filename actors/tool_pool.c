/*  tool_pool — an actor that queues tool calls and gives each to the worker
    that has been idle longest.

    Why a broker: PUSH/PULL would deal calls round-robin to workers that may
    be busy for minutes, so a quick call could wait behind a slow one while
    another worker idles. The pool only ever gives a worker one call.

    Owns: the tool workers (zactors), the queue of waiting calls (bounded by
    --tool-queue), and which call each worker runs.

    Takes, on its ROUTER from session hosts (DEALER):
      CALL   call-id, method, params JSON, timeout ms, trace ("session/request"
             for the debug log of the request's phases)
      CANCEL call-id          drop it if queued, else tell its worker
      TELL   call-id, JSON    for the worker running it (an ASK's answer)
      STATS  tag
    Sends to session hosts:
      PROGRESS call-id, JSON    from the worker running the call
      LOG      call-id, JSON    likewise; and ASK, DETACH, UPDATED
      DONE     call-id, result, error code, error message
      BUSY     call-id          the queue is full; answer 503
      STATS    tag, JSON        queued, busy workers, calls run, refused
    Takes $TERM on its pipe.
*/
#include "actors/tool_pool.h"
#include "actors/tool_worker.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/log.h"

#include <inttypes.h>

//  Messages that may wait on the pool's socket in each direction per host.
//  Hosts send without waiting and turn a full queue into a 503.
#define POOL_HWM 100000
#define CALL_FRAMES 7           //  host, CALL, call-id, method, params, timeout, trace

typedef struct {
    zmq_msg_t frames [CALL_FRAMES];
} pending_t;

typedef struct {
    zactor_t *actor;            //  the worker
    void *raw;                  //  its pipe's libzmq socket
    bool busy;                  //  running a call
    zmq_msg_t host;             //  routing id of the call's host
    zmq_msg_t call_id;          //  the call it runs
    char trace [80];            //  "session/request", for the debug log
    int64_t started;            //  µs when the worker got the call
} slot_t;

typedef struct {
    zsock_t *pipe;              //  to the supervisor
    zsock_t *router;            //  session hosts connect here
    void *raw;                  //  router's libzmq socket
    slot_t *slots;              //  one per worker
    int workers;                //  how many
    pending_t *queue;           //  ring of waiting calls
    int capacity;               //  ring size (--tool-queue)
    int head, count;            //  ring position and fill
    uint64_t calls, refused, cancelled;     //  figures for stats
    bool terminated;
} pool_t;

static bool
s_same (zmq_msg_t *a, zmq_msg_t *b)
{
    return zmq_msg_size (a) == zmq_msg_size (b)
        && memcmp (zmq_msg_data (a), zmq_msg_data (b), zmq_msg_size (a)) == 0;
}

static slot_t *
s_idle_slot (pool_t *self)
{
    for (int index = 0; index < self->workers; index++)
        if (!self->slots [index].busy)
            return &self->slots [index];
    return NULL;
}

//  Gives a call (frames host, CALL, call-id, method, params, timeout) to a
//  worker; the frames are moved out.
static void
s_dispatch (pool_t *self, slot_t *slot, zmq_msg_t *frames)
{
    slot->busy = true;
    zmq_msg_copy (&slot->host, &frames [0]);
    zmq_msg_copy (&slot->call_id, &frames [2]);
    slot->started = zclock_usecs ();
    if (!frames_text (&frames [6], slot->trace, sizeof (slot->trace)))
        strcpy (slot->trace, "?");
    log_debug ("tools", "request %s dispatched to worker %d", slot->trace,
               (int) (slot - self->slots));
    zmq_msg_send (&frames [1], slot->raw, ZMQ_SNDMORE);     //  CALL
    zmq_msg_send (&frames [0], slot->raw, ZMQ_SNDMORE);     //  host
    zmq_msg_send (&frames [2], slot->raw, ZMQ_SNDMORE);
    zmq_msg_send (&frames [3], slot->raw, ZMQ_SNDMORE);
    zmq_msg_send (&frames [4], slot->raw, ZMQ_SNDMORE);
    zmq_msg_send (&frames [5], slot->raw, 0);
    self->calls++;
}

//  Replies to a host: host routing id, then command, then the rest.
static void
s_reply_header (pool_t *self, zmq_msg_t *host, const char *command)
{
    zmq_msg_send (host, self->raw, ZMQ_SNDMORE);
    frames_send_text (self->raw, command, ZMQ_SNDMORE);
}

static void
s_handle_call (pool_t *self, zmq_msg_t *frames)
{
    slot_t *slot = s_idle_slot (self);
    if (slot) {
        s_dispatch (self, slot, frames);
        frames_close (frames, CALL_FRAMES);     //  what dispatch did not send
        return;
    }
    if (self->count == self->capacity) {
        self->refused++;
        s_reply_header (self, &frames [0], "BUSY");
        zmq_msg_send (&frames [2], self->raw, 0);
        frames_close (frames, CALL_FRAMES);
        return;
    }
    pending_t *pending = &self->queue [(self->head + self->count++) % self->capacity];
    for (int index = 0; index < CALL_FRAMES; index++) {
        zmq_msg_init (&pending->frames [index]);
        zmq_msg_move (&pending->frames [index], &frames [index]);
    }
}

//  The worker running a host's call, or NULL
static slot_t *
s_running (pool_t *self, zmq_msg_t *host, zmq_msg_t *call_id)
{
    for (int index = 0; index < self->workers; index++) {
        slot_t *slot = &self->slots [index];
        if (slot->busy && s_same (&slot->host, host) && s_same (&slot->call_id, call_id))
            return slot;
    }
    return NULL;
}

//  A cancelled call leaves the queue at once; a running one is told to stop
//  and its worker frees itself when the tool returns.
static void
s_handle_cancel (pool_t *self, zmq_msg_t *host, zmq_msg_t *call_id)
{
    for (int index = 0; index < self->count; index++) {
        pending_t *pending = &self->queue [(self->head + index) % self->capacity];
        if (s_same (&pending->frames [0], host) && s_same (&pending->frames [2], call_id)) {
            frames_close (pending->frames, CALL_FRAMES);
            //  Close the gap: shift later entries down by one
            for (int at = index; at < self->count - 1; at++)
                self->queue [(self->head + at) % self->capacity] =
                    self->queue [(self->head + at + 1) % self->capacity];
            self->count--;
            self->cancelled++;
            return;
        }
    }
    slot_t *slot = s_running (self, host, call_id);
    if (slot) {
        frames_send_text (slot->raw, "CANCEL", ZMQ_SNDMORE);
        frames_send_copy (slot->raw, zmq_msg_data (call_id), zmq_msg_size (call_id), 0);
        self->cancelled++;
    }
}

//  TELL for a running call goes to its worker; one for a call that ended
//  meanwhile has nobody to hear it
static void
s_handle_tell (pool_t *self, zmq_msg_t *frames)
{
    slot_t *slot = s_running (self, &frames [0], &frames [2]);
    //  Never wait on a worker busy in its own code: a host asks a call
    //  one thing at a time, so a full pipe means a worker that stopped reading
    if (slot && zmq_msg_send (&frames [1], slot->raw, ZMQ_SNDMORE | ZMQ_DONTWAIT) != -1) {
        zmq_msg_send (&frames [2], slot->raw, ZMQ_SNDMORE);
        zmq_msg_send (&frames [3], slot->raw, 0);
    }
}

static void
s_handle_stats (pool_t *self, zmq_msg_t *host, zmq_msg_t *tag)
{
    int busy = 0;
    for (int index = 0; index < self->workers; index++)
        busy += self->slots [index].busy;
    char body [256];
    snprintf (body, sizeof (body),
              "{\"workers\":%d,\"busy\":%d,\"queued\":%d,\"queue_limit\":%d,"
              "\"calls\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"cancelled\":%" PRIu64 "}",
              self->workers, busy, self->count, self->capacity,
              self->calls, self->refused, self->cancelled);
    s_reply_header (self, host, "STATS");
    zmq_msg_send (tag, self->raw, ZMQ_SNDMORE);
    frames_send_text (self->raw, body, 0);
}

static void
s_handle_host (pool_t *self)
{
    zmq_msg_t frames [CALL_FRAMES];
    int count;
    if (frames_recv (self->raw, frames, CALL_FRAMES, &count, ZMQ_DONTWAIT))
        return;
    int kept = count < CALL_FRAMES? count: CALL_FRAMES;
    if (count == CALL_FRAMES && frames_is (&frames [1], "CALL")) {
        s_handle_call (self, frames);
        return;
    }
    if (count == 3 && frames_is (&frames [1], "CANCEL"))
        s_handle_cancel (self, &frames [0], &frames [2]);
    else
    if (count == 4 && frames_is (&frames [1], "TELL"))
        s_handle_tell (self, frames);
    else
    if (count == 3 && frames_is (&frames [1], "STATS"))
        s_handle_stats (self, &frames [0], &frames [2]);
    else
        log_error ("tools", "malformed message from a session host (%d frames)", count);
    frames_close (frames, kept);
}

//  Forwards a worker's PROGRESS or DONE to its host; DONE frees the worker
//  for the oldest queued call.
static void
s_handle_worker (pool_t *self, slot_t *slot)
{
    zmq_msg_t frames [6];
    int count;
    if (frames_recv (slot->raw, frames, 6, &count, ZMQ_DONTWAIT))
        return;
    bool done = frames_is (&frames [0], "DONE");
    if ((done && count == 6) || (!done && count == 4)) {
        zmq_msg_send (&frames [1], self->raw, ZMQ_SNDMORE);         //  host
        zmq_msg_send (&frames [0], self->raw, ZMQ_SNDMORE);         //  command
        for (int index = 2; index < count; index++)
            zmq_msg_send (&frames [index], self->raw, index + 1 < count? ZMQ_SNDMORE: 0);
    }
    frames_close (frames, count < 6? count: 6);
    if (done) {
        log_debug ("tools", "request %s worker done after %" PRId64 " us", slot->trace,
                   zclock_usecs () - slot->started);
        slot->busy = false;
        if (self->count) {
            pending_t *pending = &self->queue [self->head];
            self->head = (self->head + 1) % self->capacity;
            self->count--;
            s_dispatch (self, slot, pending->frames);
            frames_close (pending->frames, CALL_FRAMES);
        }
    }
}

static int
s_start (pool_t *self, tool_pool_args_t *args)
{
    self->workers = args->config->tool_threads;
    self->capacity = args->config->tool_queue;
    self->slots = (slot_t *) calloc ((size_t) self->workers, sizeof (slot_t));
    self->queue = (pending_t *) calloc ((size_t) self->capacity, sizeof (pending_t));
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->slots || !self->queue || !self->router)
        return -1;
    //  Replies wait rather than drop at the HWM: hosts always drain, and
    //  the volume is bounded by the queue plus the workers (and progress).
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_sndhwm (self->router, POOL_HWM);
    zsock_set_rcvhwm (self->router, POOL_HWM);
    if (zsock_bind (self->router, "%s", args->endpoint) == -1)
        return -1;
    self->raw = zsock_resolve (self->router);
    for (int index = 0; index < self->workers; index++) {
        slot_t *slot = &self->slots [index];
        slot->actor = zactor_new (tool_worker_actor, args->table);
        if (!slot->actor)
            return -1;
        slot->raw = zsock_resolve (slot->actor);
        zmq_msg_init (&slot->host);
        zmq_msg_init (&slot->call_id);
    }
    return 0;
}

static void
s_stop (pool_t *self)
{
    for (int index = 0; self->slots && index < self->workers; index++) {
        zactor_destroy (&self->slots [index].actor);
        zmq_msg_close (&self->slots [index].host);
        zmq_msg_close (&self->slots [index].call_id);
    }
    for (int index = 0; index < self->count; index++)
        frames_close (self->queue [(self->head + index) % self->capacity].frames, CALL_FRAMES);
    free (self->slots);
    free (self->queue);
    zsock_destroy (&self->router);
}

void
tool_pool_actor (zsock_t *pipe, void *args)
{
    pool_t self = { .pipe = pipe };
    if (s_start (&self, (tool_pool_args_t *) args)) {
        s_stop (&self);
        actor_ready (pipe, "cannot start the tool pool");
        return;
    }
    actor_ready (pipe, NULL);
    int items_size = self.workers + 2;
    zmq_pollitem_t *items = (zmq_pollitem_t *) calloc ((size_t) items_size, sizeof (zmq_pollitem_t));
    assert (items);
    items [0] = (zmq_pollitem_t) { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
    items [1] = (zmq_pollitem_t) { self.raw, 0, ZMQ_POLLIN, 0 };
    for (int index = 0; index < self.workers; index++)
        items [index + 2] = (zmq_pollitem_t) { self.slots [index].raw, 0, ZMQ_POLLIN, 0 };

    while (!self.terminated) {
        if (zmq_poll (items, items_size, -1) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN)
            self.terminated = actor_told_to_stop (pipe);
        for (int index = 0; index < self.workers; index++)
            if (items [index + 2].revents & ZMQ_POLLIN)
                s_handle_worker (&self, &self.slots [index]);
        //  Drain host requests in a batch before polling again
        for (int batch = 0; batch < 256 && (items [1].revents & ZMQ_POLLIN)
                            && frames_ready (self.raw); batch++)
            s_handle_host (&self);
    }
    free (items);
    s_stop (&self);
}
