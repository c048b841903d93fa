/*  heap — see heap.h. */
#include "runtime/heap.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

struct _heap_t {
    heap_node_t **nodes;        //  nodes [0] has the earliest deadline
    size_t size, capacity;
};

heap_t *
heap_new (void)
{
    return (heap_t *) calloc (1, sizeof (heap_t));
}

void
heap_destroy (heap_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->nodes);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_place (heap_t *self, size_t index, heap_node_t *node)
{
    self->nodes [index] = node;
    node->index = index;
}

static void
s_up (heap_t *self, size_t index)
{
    heap_node_t *node = self->nodes [index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (self->nodes [parent]->deadline <= node->deadline)
            break;
        s_place (self, index, self->nodes [parent]);
        index = parent;
    }
    s_place (self, index, node);
}

static void
s_down (heap_t *self, size_t index)
{
    heap_node_t *node = self->nodes [index];
    while (true) {
        size_t child = 2 * index + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size
        &&  self->nodes [child + 1]->deadline < self->nodes [child]->deadline)
            child++;
        if (node->deadline <= self->nodes [child]->deadline)
            break;
        s_place (self, index, self->nodes [child]);
        index = child;
    }
    s_place (self, index, node);
}

int
heap_push (heap_t *self, heap_node_t *node)
{
    if (self->size == self->capacity) {
        size_t capacity = self->capacity? self->capacity * 2: 64;
        heap_node_t **nodes = (heap_node_t **) realloc (self->nodes, capacity * sizeof (heap_node_t *));
        if (!nodes)
            return -1;
        self->nodes = nodes;
        self->capacity = capacity;
    }
    s_place (self, self->size++, node);
    s_up (self, node->index);
    return 0;
}

void
heap_remove (heap_t *self, heap_node_t *node)
{
    size_t index = node->index;
    if (index >= self->size || self->nodes [index] != node)
        return;
    node->index = SIZE_MAX;
    heap_node_t *last = self->nodes [--self->size];
    if (index == self->size)
        return;
    s_place (self, index, last);
    s_up (self, index);
    s_down (self, last->index);
}

heap_node_t *
heap_first (heap_t *self)
{
    return self->size? self->nodes [0]: NULL;
}

size_t
heap_size (heap_t *self)
{
    return self->size;
}

void
heap_test (bool verbose)
{
    printf (" * heap: ");
    heap_t *heap = heap_new ();
    enum { COUNT = 1000 };
    static heap_node_t nodes [COUNT];
    for (int index = 0; index < COUNT; index++) {
        nodes [index].deadline = (index * 7919) % COUNT;
        assert (heap_push (heap, &nodes [index]) == 0);
    }
    //  Remove every third, then pop the rest in order
    for (int index = 0; index < COUNT; index += 3)
        heap_remove (heap, &nodes [index]);
    heap_remove (heap, &nodes [0]);             //  twice is harmless
    int64_t last = -1;
    size_t popped = 0;
    for (heap_node_t *node = heap_first (heap); node; node = heap_first (heap)) {
        assert (node->deadline >= last);
        last = node->deadline;
        heap_remove (heap, node);
        popped++;
    }
    assert (popped == COUNT - (COUNT + 2) / 3);
    assert (heap_size (heap) == 0);
    heap_destroy (&heap);
    assert (!heap);
    printf ("OK\n");
}
