/*  stream — the SSE streams of the HTTP edge: a POST's response once a
    message comes before its answer, and every GET.

    Owns: each stream's bytes not yet taken by libmicrohttpd (at most
    --http-stream-bytes, and all of them with the uploads and unread
    answers at most --http-buffer-bytes: a reader that falls behind past
    that is dropped, its events waiting in the replay ring), and the
    epoll watch of every parked stream's socket (libmicrohttpd does not
    watch a suspended connection: a client that hangs up frees its stream
    at once).
*/
#include "actors/http/request.h"
#include "proto/http.h"
#include "proto/jsonrpc.h"
#include "runtime/log.h"

#include <sys/epoll.h>

static const char *const s_name = "http";

//  Watches a parked request's socket for the client hanging up:
//  libmicrohttpd does not look at a suspended connection.
static void
s_watch (request_t *request)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info (
        request->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct epoll_event event = { .events = EPOLLRDHUP, .data.u64 = request->number };
    if (info && epoll_ctl (request->edge->fd, EPOLL_CTL_ADD, info->connect_fd, &event) == 0)
        request->watched = true;
}

void
edge_unwatch (request_t *request)
{
    if (!request->watched)
        return;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info (
        request->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info)
        epoll_ctl (request->edge->fd, EPOLL_CTL_DEL, info->connect_fd, NULL);
    request->watched = false;
}


static ssize_t
s_read_stream (void *cls, uint64_t position, char *buffer, size_t max)
{
    request_t *request = (request_t *) cls;
    if (request->overflowed)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t available = request->out_size - request->out_read;
    if (available) {
        size_t size = available < max? available: max;
        memcpy (buffer, request->out + request->out_read, size);
        request->out_read += size;
        request->edge->held -= size;
        if (request->out_read == request->out_size)
            request->out_read = request->out_size = 0;
        return (ssize_t) size;
    }
    if (request->ended)
        return MHD_CONTENT_READER_END_OF_STREAM;
    //  Nothing to send: park the connection until there is
    MHD_suspend_connection (request->connection);
    request->suspended = true;
    s_watch (request);
    return 0;
}

//  Wakes a stream that waits for bytes.
static void
s_wake (request_t *request)
{
    if (request->suspended && request->queued) {
        edge_unwatch (request);
        request->suspended = false;
        MHD_resume_connection (request->connection);
        request->edge->dirty = true;
    }
}

//  Appends bytes to a stream; past --http-stream-bytes the stream is
//  dropped (its events stay in the replay ring for Last-Event-ID).
void
edge_stream_write (request_t *request, const char *data, size_t size)
{
    http_edge_t *edge = request->edge;
    size_t held = request->out_size - request->out_read;
    if (request->overflowed)
        return;
    //  One message always fits an empty stream, however large, unless the
    //  edge as a whole holds too much
    if ((held && held + size > (size_t) edge->config->http_stream_bytes)
    ||  edge->held + size > (size_t) edge->config->http_buffer_bytes) {
        request->overflowed = true;
        edge->dropped_streams++;
        log_info (s_name, "a stream of session %s fell %zu bytes behind: dropped",
                  *request->sid? request->sid: "-", held);
        s_wake (request);
        return;
    }
    if (request->out_size + size > request->out_capacity) {
        size_t capacity = (request->out_size + size) * 2;
        char *out = (char *) realloc (request->out, capacity);
        if (!out) {
            request->overflowed = true;
            s_wake (request);
            return;
        }
        request->out = out;
        request->out_capacity = capacity;
    }
    memcpy (request->out + request->out_size, data, size);
    request->out_size += size;
    edge->held += size;
    s_wake (request);
}

void
edge_stream_event (request_t *request, zmq_msg_t *event_id, zmq_msg_t *body)
{
    char id [24] = "";
    if (zmq_msg_size (event_id) < sizeof (id))
        memcpy (id, zmq_msg_data (event_id), zmq_msg_size (event_id));
    size_t size;
    char *event = http_sse_event (id, (const char *) zmq_msg_data (body), zmq_msg_size (body), &size);
    if (event)
        edge_stream_write (request, event, size);
    else
        request->overflowed = true;
    free (event);
}

//  Turns the request's response into an SSE stream.
void
edge_stream_start (request_t *request)
{
    struct MHD_Response *response = MHD_create_response_from_callback (
        MHD_SIZE_UNKNOWN, SSE_BLOCK, s_read_stream, request, NULL);
    if (response) {
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        if (*request->sid)
            MHD_add_response_header (response, "Mcp-Session-Id", request->sid);
    }
    request->streaming = true;
    edge_respond (request, MHD_HTTP_OK, response);
}

void
edge_stream_end (request_t *request)
{
    request->ended = true;
    s_wake (request);
}

//  A deleted session's GET streams end: nothing more will come on them.
void
edge_streams_end (http_edge_t *self, const char *sid)
{
    for (request_t *request = (request_t *) zhashx_first (self->requests); request;
         request = (request_t *) zhashx_next (self->requests))
        if (request->get_stream && request->streaming && streq (request->sid, sid))
            edge_stream_end (request);
}
