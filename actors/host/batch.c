/*  batch — answers of a JSON-RPC batch (MCP 2025-03-26 sessions only).

    Owns: the answers gathered so far and who gets them. Takes answers from
    host.c (while the batch is being read, every answer the host makes goes
    here) and from calls.c (calls of the batch that ran on a worker). Sends
    one ANS peer, sid, event id, [answers...] through host.c when the last
    holder lets go.
*/
#include "actors/host/batch.h"
#include "actors/host/host.h"
#include "proto/jsonw.h"

struct _batch_t {
    int references;             //  the reader, and each call on a worker
    char sid [MCPZ_SID_SIZE + 1];
    zmq_msg_t peer;
    jsonw_t answers;            //  "[" and the answers so far, comma-joined
    int count;
    bool requests;              //  it held requests
};

batch_t *
batch_new (zmq_msg_t *peer, const char *sid)
{
    batch_t *self = (batch_t *) calloc (1, sizeof (batch_t));
    if (!self)
        return NULL;
    self->references = 1;
    snprintf (self->sid, sizeof (self->sid), "%s", sid);
    zmq_msg_init (&self->peer);
    zmq_msg_copy (&self->peer, peer);
    jsonw_init (&self->answers, 256);
    jsonw_text (&self->answers, "[");
    return self;
}

batch_t *
batch_ref (batch_t *self)
{
    self->references++;
    return self;
}

void
batch_add (batch_t *self, const char *answer, size_t size)
{
    if (self->count++)
        jsonw_text (&self->answers, ",");
    jsonw_raw (&self->answers, answer, size);
}

void
batch_retarget (batch_t *self, uint64_t stream, zmq_msg_t *peer)
{
    if (host_stream_tag (&self->peer) == stream)
        zmq_msg_copy (&self->peer, peer);
}

void
batch_expect_answers (batch_t *self)
{
    self->requests = true;
}

bool
batch_release (host_t *host, batch_t **self_p)
{
    batch_t *self = *self_p;
    *self_p = NULL;
    if (!self || --self->references > 0)
        return false;
    jsonw_text (&self->answers, "]");
    size_t size;
    char *body = jsonw_finish (&self->answers, &size);
    bool sent = self->count || self->requests;
    if (self->count && body) {
        session_t *session = (session_t *) zhashx_lookup (host->sessions, self->sid);
        host_send (host, "ANS", &self->peer, self->sid, session, body, size);
    }
    else {
        free (body);
        if (self->requests)
            host_end (host, &self->peer, self->sid);
    }
    zmq_msg_close (&self->peer);
    free (self);
    return sent;
}
