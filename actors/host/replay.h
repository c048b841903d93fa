/*  replay — the host's share of the node's replay budget. */
#ifndef MCPZ_HOST_REPLAY_H
#define MCPZ_HOST_REPLAY_H

#include "actors/host/host.h"

int
    replay_setup (host_t *self);

void
    replay_destroy (host_t *self);

//  Counts what a ring_add did to the session's ring (its bytes before),
//  remembers the event by age, and evicts the host's oldest events while
//  its rings hold more than its share of --replay-budget.
void
    replay_kept (host_t *self, session_t *session, uint64_t event_id, size_t bytes_before,
                 size_t events_before);

//  The session is going: what its ring holds no longer counts.
void
    replay_forget (host_t *self, session_t *session);

//  Bytes all the host's rings hold.
size_t
    replay_held (host_t *self);

#endif
