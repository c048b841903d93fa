/*  answer — how answers from the hosts become HTTP responses.

    Owns: the responses made and not yet sent, and the unread answers they
    hold (counted in the edge's held bytes).
    Takes, through http_edge_deliver: MSG|ANS|OK|ERR|END peer, sid, event
    id, body. The answer alone is JSON; a message before it makes the
    response a stream (stream.c); ERR is a refusal with the host's status;
    OK ends a DELETE (200), notifications (202) or starts a GET's stream;
    END ends a response that gets no answer (an empty stream, 204 for a
    client that accepts only JSON), and END "session" every GET stream of
    a session that ended.
*/
#include "actors/http/request.h"
#include "proto/http.h"
#include "proto/jsonrpc.h"
#include "runtime/frames.h"
#include "runtime/log.h"

#include <inttypes.h>

static const char *const s_name = "http";

static void
s_count_status (http_edge_t *self, unsigned int status)
{
    self->statuses [status >= 100 && status < 600? status / 100 - 1: 5]++;
}

//  Queues response now when the handler runs (not suspended), else keeps
//  it for the handler's next call; takes the response.
void
edge_respond (request_t *request, unsigned int status, struct MHD_Response *response)
{
    if (!response)
        response = MHD_create_response_from_buffer (0, "", MHD_RESPMEM_PERSISTENT);
    s_count_status (request->edge, status);
    log_debug (s_name, "request %" PRIu64 " session %s: %u", request->number,
               *request->sid? request->sid: "-", status);
    if (request->suspended) {
        //  libmicrohttpd takes a response for a suspended connection at
        //  any time; it leaves once the connection is resumed
        edge_unwatch (request);
        MHD_queue_response (request->connection, status, response);
        MHD_destroy_response (response);
        request->queued = true;
        request->suspended = false;
        MHD_resume_connection (request->connection);
        request->edge->dirty = true;
    }
    else {
        if (request->response)
            MHD_destroy_response (request->response);
        request->response = response;
        request->status = status;
    }
}

//  A JSON response of size bytes at data; release (data_owner) frees them
//  once sent, or now when no response could be made.
static struct MHD_Response *
s_json_response (const void *data, size_t size, void (*release) (void *), void *data_owner)
{
    struct MHD_Response *response = MHD_create_response_from_buffer_with_free_callback_cls (
        size, (void *) data, release, data_owner);
    if (!response) {
        release (data_owner);
        return NULL;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return response;
}

//  An answer's frame, held (and counted in edge->held) until it is sent:
//  a client that does not read holds its answers, within the bound
typedef struct {
    zmq_msg_t frame;
    http_edge_t *edge;
} held_t;

static void
s_free_frame (void *cls)
{
    held_t *held = (held_t *) cls;
    held->edge->held -= zmq_msg_size (&held->frame);
    zmq_msg_close (&held->frame);
    free (held);
}

//  A JSON response that sends a frame's bytes where they are: the frame
//  moves into the response, which closes it when sent.
static struct MHD_Response *
s_frame_response (http_edge_t *self, zmq_msg_t *body)
{
    held_t *held = (held_t *) malloc (sizeof (held_t));
    if (!held)
        return NULL;
    held->edge = self;
    zmq_msg_init (&held->frame);
    zmq_msg_move (&held->frame, body);
    self->held += zmq_msg_size (&held->frame);
    return s_json_response (zmq_msg_data (&held->frame), zmq_msg_size (&held->frame),
                            s_free_frame, held);
}

//  An HTTP refusal with a JSON-RPC error body naming id (may be NULL).
void
edge_refuse (request_t *request, unsigned int status, int code, const char *message,
             json_t *id, int retry_after_ms)
{
    size_t size = 0;
    char *body = jsonrpc_encode_error (id, code? code: http_error_code ((int) status),
                                       message, &size);
    struct MHD_Response *response = body? s_json_response (body, size, free, body): NULL;
    //  Overload always says when to come back: a second unless told
    if (retry_after_ms < 0 && (status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_SERVICE_UNAVAILABLE))
        retry_after_ms = 1000;
    if (response && retry_after_ms >= 0) {
        char seconds [16];
        snprintf (seconds, sizeof (seconds), "%d", (retry_after_ms + 999) / 1000);
        MHD_add_response_header (response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    if (response && status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, POST, DELETE");
    request->ended = true;
    edge_respond (request, status, response);
}

void
edge_refuse_credentials (request_t *request, unsigned int status, const char *message,
                         const char *challenge)
{
    size_t size = 0;
    char *body = jsonrpc_encode_error (NULL, http_error_code ((int) status), message, &size);
    struct MHD_Response *response = body? s_json_response (body, size, free, body): NULL;
    if (response && challenge)
        MHD_add_response_header (response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
    request->ended = true;
    edge_respond (request, status, response);
}

void
edge_respond_document (request_t *request, unsigned int status, char *text)
{
    struct MHD_Response *response = text? s_json_response (text, strlen (text), free, text): NULL;
    request->ended = true;
    edge_respond (request, status, response);
}

//  ERR status, message, id, retry_after_ms as an HTTP refusal, or as the
//  last event of a stream that has begun.
static void
s_deliver_error (request_t *request, zmq_msg_t *body)
{
    json_t *error = json_loadb (zmq_msg_data (body), zmq_msg_size (body), 0, NULL);
    int status = (int) json_integer_value (json_object_get (error, "status"));
    const char *message = json_string_value (json_object_get (error, "message"));
    json_t *id = json_object_get (error, "id");
    json_t *retry = json_object_get (error, "retry_after_ms");
    if (request->streaming) {
        size_t size;
        char *text = jsonrpc_encode_error (json_is_null (id)? NULL: id, http_error_code (status),
                                           message? message: "refused", &size);
        zmq_msg_t frame, event;
        zmq_msg_init_data (&frame, text, size, NULL, NULL);
        zmq_msg_init (&event);
        if (text)
            edge_stream_event (request, &event, &frame);
        zmq_msg_close (&frame);
        free (text);
        edge_stream_end (request);
    }
    else
        edge_refuse (request, status >= 400 && status < 600? (unsigned) status: 500, 0,
                     message? message: "refused", json_is_null (id)? NULL: id,
                     retry? (int) json_integer_value (retry): -1);
    json_decref (error);
}

//  True for the host's answer to a body that is not JSON: the edge reads
//  only the shape of a body (proto/http.c), so the host is the one that
//  finds it malformed, and the client gets 400 for it.
static bool
s_parse_error (zmq_msg_t *body)
{
    static const char prefix [] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,";
    return zmq_msg_size (body) >= sizeof (prefix) - 1
        && memcmp (zmq_msg_data (body), prefix, sizeof (prefix) - 1) == 0;
}

//  MSG or ANS for a POST: the answer alone is JSON; anything before it
//  makes the response a stream.
static void
s_deliver_message (request_t *request, bool answer, zmq_msg_t *frames)
{
    if (!request->streaming && answer && (request->json_ok || !request->sse_ok)) {
        unsigned int status = s_parse_error (&frames [4])? MHD_HTTP_BAD_REQUEST: MHD_HTTP_OK;
        struct MHD_Response *response = s_frame_response (request->edge, &frames [4]);
        if (response && request->initialize && zmq_msg_size (&frames [2]) == MCPZ_SID_SIZE) {
            char sid [MCPZ_SID_SIZE + 1];
            memcpy (sid, zmq_msg_data (&frames [2]), MCPZ_SID_SIZE);
            sid [MCPZ_SID_SIZE] = 0;
            MHD_add_response_header (response, "Mcp-Session-Id", sid);
        }
        request->ended = true;
        edge_respond (request, status, response);
        return;
    }
    if (!request->streaming && !request->sse_ok)
        return;                 //  it waits in the replay ring
    if (!request->streaming) {
        if (request->initialize && zmq_msg_size (&frames [2]) == MCPZ_SID_SIZE) {
            memcpy (request->sid, zmq_msg_data (&frames [2]), MCPZ_SID_SIZE);
            request->sid [MCPZ_SID_SIZE] = 0;
        }
        edge_stream_start (request);
    }
    edge_stream_event (request, &frames [3], &frames [4]);
    if (answer)
        edge_stream_end (request);
}

//  Nothing more comes for this request (cancelled, its stream resumed
//  elsewhere): its response ends, empty if none began.
static void
s_deliver_end (http_edge_t *self, request_t *request)
{
    if (request->streaming)
        edge_stream_end (request);
    else
    if (request->want == WANT_ANSWER && request->sse_ok) {
        //  A request's response is JSON or SSE (MCP): an SSE stream, empty
        edge_stream_start (request);
        edge_stream_end (request);
    }
    else
    if (request->want == WANT_ANSWER) {
        request->ended = true;
        edge_respond (request, MHD_HTTP_NO_CONTENT, NULL);
    }
}

void
http_edge_deliver (http_edge_t *self, zmq_msg_t *frames)
{
    //  END "session": the session ended, every GET stream of it ends, even
    //  when the listener it was sent to is gone
    if (frames_is (&frames [0], "END") && frames_is (&frames [4], "session")
    &&  zmq_msg_size (&frames [2]) == MCPZ_SID_SIZE) {
        char sid [MCPZ_SID_SIZE + 1];
        memcpy (sid, zmq_msg_data (&frames [2]), MCPZ_SID_SIZE);
        sid [MCPZ_SID_SIZE] = 0;
        edge_streams_end (self, sid);
        return;
    }
    uint64_t number;
    memcpy (&number, (char *) zmq_msg_data (&frames [1]) + 1, sizeof (number));
    request_t *request = (request_t *) zhashx_lookup (self->requests, &number);
    if (!request || request->ended) {
        self->undeliverable++;
        return;
    }
    bool answer = frames_is (&frames [0], "ANS");
    bool ok = frames_is (&frames [0], "OK");
    bool error = frames_is (&frames [0], "ERR");
    if (frames_is (&frames [0], "END") && frames_is (&frames [4], "detach")) {
        //  A call ends its stream for the client to resume it (SEP-1699);
        //  a response that is not a stream just waits for the answer
        if (request->streaming)
            edge_stream_end (request);
    }
    else
    if (frames_is (&frames [0], "END"))
        s_deliver_end (self, request);
    else
    if (error)
        s_deliver_error (request, &frames [4]);
    else
    if (ok && request->want == WANT_STREAM)
        edge_stream_start (request);
    else
    if (ok) {
        request->ended = true;
        edge_respond (request, request->want == WANT_ACK? MHD_HTTP_ACCEPTED: MHD_HTTP_OK, NULL);
        if (request->want == WANT_CLOSE)
            edge_streams_end (self, request->sid);
    }
    else
    if (request->want == WANT_STREAM) {
        edge_stream_event (request, &frames [3], &frames [4]);
        //  An answer on a GET: it resumed a request's stream, now done
        if (answer)
            edge_stream_end (request);
    }
    else
    if (request->want == WANT_ANSWER)
        s_deliver_message (request, answer, frames);
    else
    if (answer && request->want == WANT_ACK) {
        //  The host refused the notification: its JSON-RPC error says why
        request->ended = true;
        edge_respond (request, MHD_HTTP_BAD_REQUEST, s_frame_response (request->edge, &frames [4]));
    }
}
