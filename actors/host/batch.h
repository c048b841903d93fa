/*  batch — a JSON-RPC batch of a 2025-03-26 session: its answers gathered
    into one array, sent as one ANS once the last of them is in.
*/
#ifndef MCPZ_HOST_BATCH_H
#define MCPZ_HOST_BATCH_H

#include <czmq.h>

typedef struct _host_t host_t;
typedef struct _batch_t batch_t;

//  A batch for peer (copied) in session sid, with one reference.
batch_t *
    batch_new (zmq_msg_t *peer, const char *sid);

//  One more holder: a call of the batch on a worker.
batch_t *
    batch_ref (batch_t *self);

//  Appends one answer (a JSON-RPC response text).
void
    batch_add (batch_t *self, const char *answer, size_t size);

//  When the batch answers on the stream tagged stream, it answers on peer
//  (copied) instead: that stream was resumed there.
void
    batch_retarget (batch_t *self, uint64_t stream, zmq_msg_t *peer);

//  The batch held requests: when none of them is answered (all cancelled)
//  its peer gets END instead of an array.
void
    batch_expect_answers (batch_t *self);

//  Drops a reference; the last one sends the array, or END (see above),
//  or nothing for a batch of notifications. Returns true when it sent.
bool
    batch_release (host_t *host, batch_t **self_p);

#endif
