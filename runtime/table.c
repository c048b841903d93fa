/*  table — see table.h. */
#include "runtime/table.h"

static size_t
s_u64_hash (const void *key)
{
    return (size_t) *(const uint64_t *) key;
}

static int
s_u64_compare (const void *a, const void *b)
{
    uint64_t left = *(const uint64_t *) a, right = *(const uint64_t *) b;
    return left < right? -1: left > right;
}

void
table_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

zhashx_t *
table_new (zhashx_destructor_fn *destructor, bool u64_keys)
{
    zhashx_t *table = zhashx_new ();
    if (!table)
        return NULL;
    zhashx_set_key_duplicator (table, NULL);
    zhashx_set_key_destructor (table, NULL);
    if (u64_keys) {
        zhashx_set_key_hasher (table, s_u64_hash);
        zhashx_set_key_comparator (table, s_u64_compare);
    }
    zhashx_set_destructor (table, destructor);
    return table;
}
