/*  table — hash tables that point at keys inside their items instead of
    copying them (a session's id, a call's number): no key allocation per
    entry.
*/
#ifndef MCPZ_TABLE_H
#define MCPZ_TABLE_H

#include <czmq.h>

//  Keyed by a string, or by a uint64 when u64_keys. destructor frees items,
//  or is NULL for an index of items another table owns. NULL out of memory.
zhashx_t *
    table_new (zhashx_destructor_fn *destructor, bool u64_keys);

//  The destructor of a table of items that free () alone frees.
void
    table_free (void **item_p);

#endif
