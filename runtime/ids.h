/*  ids — session ids from the kernel's CSPRNG (getrandom), 16 bytes each,
    as 32 lowercase hex characters.

    Random bytes are fetched 4 KB at a time: one syscall per 256 sessions
    instead of one per session. An ids_t belongs to one thread.
*/
#ifndef MCPZ_IDS_H
#define MCPZ_IDS_H

#include <stdbool.h>

typedef struct _ids_t ids_t;

ids_t *
    ids_new (void);

void
    ids_destroy (ids_t **self_p);

//  Writes a new id and its NUL into text (33 bytes). Returns 0, or -1 when
//  the kernel gives no randomness (never a predictable id).
int
    ids_next (ids_t *self, char *text);

void
    ids_test (bool verbose);

#endif
