/*  heap — an indexed binary min-heap of deadlines, for request timers.

    Items embed a heap_node_t; the heap keeps each node's index so an item
    can leave in O(log n) when its request ends before its deadline. zloop's
    timers are a list scanned on every pass; this is what a host with
    thousands of calls in flight needs instead.
*/
#ifndef MCPZ_HEAP_H
#define MCPZ_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t deadline;           //  monotonic ms
    size_t index;               //  position in the heap; SIZE_MAX when out
} heap_node_t;

typedef struct _heap_t heap_t;

heap_t *
    heap_new (void);

void
    heap_destroy (heap_t **self_p);

//  Adds node with its deadline set. Returns 0, or -1 out of memory.
int
    heap_push (heap_t *self, heap_node_t *node);

//  Removes node if it is in the heap.
void
    heap_remove (heap_t *self, heap_node_t *node);

//  The node with the earliest deadline, or NULL.
heap_node_t *
    heap_first (heap_t *self);

size_t
    heap_size (heap_t *self);

void
    heap_test (bool verbose);

#endif
