/*  ring — a session's replay buffer: the last server messages with their
    event ids, bounded by count and by bytes, oldest evicted first.

    Bodies are zmq_msg_t copies of the frames being sent, so keeping one
    costs a reference, not a memcpy (libzmq counts references atomically,
    which makes the shared buffer safe across the host and the I/O thread).
*/
#ifndef MCPZ_RING_H
#define MCPZ_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct _ring_t ring_t;

ring_t *
    ring_new (void);

void
    ring_destroy (ring_t **self_p);

//  Keeps a reference to body as event_id (ids must increase), sent on the
//  stream named by stream (a tag: replay_stream finds events by it). Evicts
//  the oldest events beyond max_count or max_bytes, always keeping the
//  newest. Returns how many were evicted, or -1 out of memory (nothing kept).
int
    ring_add (ring_t *self, uint64_t event_id, uint64_t stream, zmq_msg_t *body,
              size_t max_count, size_t max_bytes);

//  Calls fn for every kept event with an id above after, oldest first,
//  but events with an empty body (anchors: a stream's first event id, which
//  carries no message). Returns how many.
typedef void (ring_fn) (void *arg, uint64_t event_id, zmq_msg_t *body);
size_t
    ring_replay (ring_t *self, uint64_t after, ring_fn *fn, void *arg);

//  Calls fn for every kept event after the event with id after that was
//  sent on the same stream as it, oldest first, anchors left out (MCP
//  Streamable HTTP resumes one stream, never another's). *stream_p gets
//  that stream's tag, or 0 when the event is no longer kept (then nothing
//  is replayed). Returns how many.
size_t
    ring_replay_stream (ring_t *self, uint64_t after, ring_fn *fn, void *arg,
                        uint64_t *stream_p);

//  Evicts the oldest kept event. Returns the bytes of its body (0 when the
//  ring was empty or it was an anchor).
size_t
    ring_drop_oldest (ring_t *self);

//  Id of the oldest kept event, or 0 when empty.
uint64_t
    ring_oldest (ring_t *self);

size_t
    ring_size (ring_t *self);

size_t
    ring_bytes (ring_t *self);

void
    ring_test (bool verbose);

#endif
