/*  ids — see ids.h. */
#include "runtime/ids.h"
#include "proto/mcpz.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define IDS_POOL 4096

struct _ids_t {
    uint8_t pool [IDS_POOL];    //  random bytes not yet handed out
    size_t used;                //  bytes of pool already handed out
};

ids_t *
ids_new (void)
{
    ids_t *self = (ids_t *) calloc (1, sizeof (ids_t));
    if (self)
        self->used = IDS_POOL;
    return self;
}

void
ids_destroy (ids_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        //  Spent randomness should not linger in freed memory
        explicit_bzero ((*self_p)->pool, IDS_POOL);
        free (*self_p);
        *self_p = NULL;
    }
}

static int
s_refill (ids_t *self)
{
    size_t filled = 0;
    while (filled < IDS_POOL) {
        ssize_t got = getrandom (self->pool + filled, IDS_POOL - filled, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        filled += (size_t) got;
    }
    self->used = 0;
    return 0;
}

int
ids_next (ids_t *self, char *text)
{
    if (self->used + MCPZ_SID_BYTES > IDS_POOL && s_refill (self))
        return -1;
    mcpz_sid_format (self->pool + self->used, text);
    memset (self->pool + self->used, 0, MCPZ_SID_BYTES);
    self->used += MCPZ_SID_BYTES;
    return 0;
}

void
ids_test (bool verbose)
{
    printf (" * ids: ");
    ids_t *ids = ids_new ();
    assert (ids);
    char first [MCPZ_SID_SIZE + 1], text [MCPZ_SID_SIZE + 1];
    assert (ids_next (ids, first) == 0);
    assert (mcpz_sid_valid (first, strlen (first)));
    //  Across several refills every id is well-formed and new
    for (int count = 0; count < 1000; count++) {
        assert (ids_next (ids, text) == 0);
        assert (mcpz_sid_valid (text, strlen (text)));
        assert (strcmp (text, first));
    }
    ids_destroy (&ids);
    assert (ids == NULL);
    ids_destroy (&ids);
    printf ("OK\n");
}
