/*  ring — see ring.h. */
#include "runtime/ring.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t event_id;
    uint64_t stream;            //  the tag of the stream it was sent on
    zmq_msg_t body;
} event_t;

struct _ring_t {
    event_t *events;            //  circular; grows up to the count bound
    size_t capacity;
    size_t head;                //  oldest
    size_t count;
    size_t bytes;               //  sum of kept body sizes
};

ring_t *
ring_new (void)
{
    return (ring_t *) calloc (1, sizeof (ring_t));
}

static event_t *
s_at (ring_t *self, size_t index)
{
    return &self->events [(self->head + index) % self->capacity];
}

static void
s_evict (ring_t *self)
{
    event_t *oldest = s_at (self, 0);
    self->bytes -= zmq_msg_size (&oldest->body);
    zmq_msg_close (&oldest->body);
    self->head = (self->head + 1) % self->capacity;
    self->count--;
}

void
ring_destroy (ring_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ring_t *self = *self_p;
        while (self->count)
            s_evict (self);
        free (self->events);
        free (self);
        *self_p = NULL;
    }
}

//  Grows the array (kept small for idle sessions) up to max_count slots.
static int
s_grow (ring_t *self, size_t max_count)
{
    size_t capacity = self->capacity? self->capacity * 2: 2;
    if (capacity > max_count)
        capacity = max_count;
    event_t *events = (event_t *) malloc (capacity * sizeof (event_t));
    if (!events)
        return -1;
    for (size_t index = 0; index < self->count; index++)
        memcpy (&events [index], s_at (self, index), sizeof (event_t));
    free (self->events);
    self->events = events;
    self->capacity = capacity;
    self->head = 0;
    return 0;
}

int
ring_add (ring_t *self, uint64_t event_id, uint64_t stream, zmq_msg_t *body,
          size_t max_count, size_t max_bytes)
{
    assert (max_count > 0);
    int evicted = 0;
    while (self->count && (self->count >= max_count
                           || self->bytes + zmq_msg_size (body) > max_bytes)) {
        s_evict (self);
        evicted++;
    }
    if (self->count == self->capacity && s_grow (self, max_count))
        return -1;
    event_t *event = &self->events [(self->head + self->count) % self->capacity];
    event->event_id = event_id;
    event->stream = stream;
    zmq_msg_init (&event->body);
    zmq_msg_copy (&event->body, body);
    self->count++;
    self->bytes += zmq_msg_size (body);
    return evicted;
}

size_t
ring_replay (ring_t *self, uint64_t after, ring_fn *fn, void *arg)
{
    size_t replayed = 0;
    for (size_t index = 0; index < self->count; index++) {
        event_t *event = s_at (self, index);
        if (event->event_id > after && zmq_msg_size (&event->body)) {
            fn (arg, event->event_id, &event->body);
            replayed++;
        }
    }
    return replayed;
}

size_t
ring_replay_stream (ring_t *self, uint64_t after, ring_fn *fn, void *arg,
                    uint64_t *stream_p)
{
    size_t replayed = 0, index = 0;
    *stream_p = 0;
    while (index < self->count && s_at (self, index)->event_id < after)
        index++;
    if (index == self->count || s_at (self, index)->event_id != after)
        return 0;
    uint64_t stream = *stream_p = s_at (self, index)->stream;
    for (index++; index < self->count; index++) {
        event_t *event = s_at (self, index);
        if (event->stream == stream && zmq_msg_size (&event->body)) {
            fn (arg, event->event_id, &event->body);
            replayed++;
        }
    }
    return replayed;
}

size_t
ring_drop_oldest (ring_t *self)
{
    if (!self->count)
        return 0;
    size_t size = zmq_msg_size (&s_at (self, 0)->body);
    s_evict (self);
    return size;
}

uint64_t
ring_oldest (ring_t *self)
{
    return self->count? s_at (self, 0)->event_id: 0;
}

size_t
ring_size (ring_t *self)
{
    return self->count;
}

size_t
ring_bytes (ring_t *self)
{
    return self->bytes;
}

//  --------------------------------------------------------------------------

static void
s_collect (void *arg, uint64_t event_id, zmq_msg_t *body)
{
    uint64_t *seen = (uint64_t *) arg;
    assert (event_id > seen [0]);
    seen [0] = event_id;
    seen [1]++;
}

void
ring_test (bool verbose)
{
    printf (" * ring: ");
    ring_t *ring = ring_new ();
    for (uint64_t id = 1; id <= 10; id++) {
        zmq_msg_t body;
        zmq_msg_init_size (&body, 100);
        memset (zmq_msg_data (&body), 'x', 100);
        int evicted = ring_add (ring, id, id % 2, &body, 4, 1000);
        assert (evicted == (id > 4? 1: 0));
        zmq_msg_close (&body);      //  the ring keeps its own reference
    }
    assert (ring_size (ring) == 4 && ring_oldest (ring) == 7 && ring_bytes (ring) == 400);
    uint64_t seen [2] = { 0, 0 };
    assert (ring_replay (ring, 8, s_collect, seen) == 2);
    assert (seen [0] == 10 && seen [1] == 2);
    //  Stream replay: after 7 (stream 1), only 9 is of that stream
    seen [0] = seen [1] = 0;
    uint64_t stream;
    assert (ring_replay_stream (ring, 7, s_collect, seen, &stream) == 1 && seen [0] == 9);
    assert (stream == 1);
    assert (ring_replay_stream (ring, 8, s_collect, seen, &stream) == 1 && stream == 0);
    assert (ring_replay_stream (ring, 5, s_collect, seen, &stream) == 0);    //  evicted
    assert (ring_replay_stream (ring, 10, s_collect, seen, &stream) == 0);   //  newest
    //  An anchor (empty body) is found by id but never replayed
    zmq_msg_t anchor;
    zmq_msg_init (&anchor);
    assert (ring_add (ring, 11, 1, &anchor, 4, 1000) == 1);
    seen [0] = seen [1] = 0;
    assert (ring_replay (ring, 0, s_collect, seen) == 3 && seen [0] == 10);
    assert (ring_replay_stream (ring, 9, s_collect, seen, &stream) == 0 && stream == 1);
    zmq_msg_close (&anchor);
    //  The byte bound evicts several at once but keeps the newest
    zmq_msg_t big;
    zmq_msg_init_size (&big, 950);
    assert (ring_add (ring, 12, 0, &big, 4, 1000) == 3);
    assert (ring_size (ring) == 2 && ring_oldest (ring) == 11);
    zmq_msg_t huge;
    zmq_msg_init_size (&huge, 5000);
    assert (ring_add (ring, 13, 0, &huge, 4, 1000) == 2);
    assert (ring_size (ring) == 1 && ring_bytes (ring) == 5000);
    //  A budget beyond the ring may take even the newest
    assert (ring_drop_oldest (ring) == 5000);
    assert (ring_size (ring) == 0 && ring_bytes (ring) == 0 && ring_oldest (ring) == 0);
    assert (ring_drop_oldest (ring) == 0);
    zmq_msg_close (&big);
    zmq_msg_close (&huge);
    ring_destroy (&ring);
    assert (!ring);
    printf ("OK\n");
}
