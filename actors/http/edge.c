/*  edge — MCP Streamable HTTP (2025-03-26, 2025-06-18, 2025-11-25) on
    libmicrohttpd, run by the supervisor's thread.

    Owns: the HTTP listening socket and its connections (libmicrohttpd in
    external-epoll mode: one descriptor in the supervisor's poll), the
    requests in progress, their SSE streams and the count of GET streams
    per session.
    Hands its owner, for each request (a peer of its own, 9 bytes: a zero
    byte, as no ZeroMQ routing id may start, then the request's number):
      NEW peer, "", body           POST initialize without Mcp-Session-Id
      MSG peer, sid, body          POST holding requests
      MSGOK peer, sid, body        POST of notifications or responses only
      RESUME peer, sid, event id   GET (Last-Event-ID, or "")
      CLOSE peer, sid, ""          DELETE
    Takes its answers: MSG|ANS|OK|ERR peer, sid, event id, body.

    Why the supervisor's thread and not an actor of its own: a thread hop
    costs a wake-up (~25 µs here) each way, and an HTTP answer already
    takes two (to a host and back). In the supervisor's loop an HTTP
    request costs what a ZeroMQ one does. Why libmicrohttpd: answering a
    fixed JSON POST from one thread here, it served 94k requests/s at 64
    connections against 52k for libevent's evhttp (p50 at one connection
    95 µs and 96 µs); it has suspend/resume for answers that come later,
    connection limits and timeouts, and it parses HTTP so we do not.

    A POST waits suspended for its answer. The answer alone comes as
    application/json; a message the server sends first (progress, a log
    line) turns the response into an SSE stream that ends after the
    answer. A GET is an SSE stream for messages not tied to a request;
    Last-Event-ID replays only what was sent on the stream it names. A
    stream holds at most --http-stream-bytes for a slow reader, then is
    dropped: its events wait in the session's replay ring. libmicrohttpd
    does not watch a suspended connection, so the edge watches the socket
    of every stream that waits for events itself (EPOLLRDHUP, in an epoll
    set that also holds libmicrohttpd's): a client that hangs up frees its
    stream at once (stream.c). Idle streams get a comment every 15 s, so a client that
    vanished without a word is noticed too. A POST waiting for its answer
    is not watched: the answer, or END, comes within its deadline.

    Takes also END peer, sid: nothing more comes for that request (it was
    cancelled, its stream was resumed elsewhere, its session ended): its
    response ends; when none began, as an empty SSE stream (204 for a
    client that accepts only JSON).

    This file is the server and the requests as they come; answer.c turns
    answers into responses, stream.c keeps the SSE streams; request.h
    holds the state they share.
*/
#include "actors/http/request.h"
#include "actors/http/auth.h"
#include "proto/http.h"
#include "proto/jsonrpc.h"
#include "proto/mcp.h"
#include "proto/mcpz.h"
#include "runtime/log.h"
#include "runtime/table.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Requests

static void s_peer (request_t *request, zmq_msg_t *peer);

static void
s_request_destroy (request_t **request_p)
{
    if (*request_p) {
        request_t *request = *request_p;
        if (request->routed && request->edge->ended) {
            zmq_msg_t peer;
            s_peer (request, &peer);
            request->edge->ended (request->edge->owner, &peer);
            zmq_msg_close (&peer);
        }
        if (request->response)
            MHD_destroy_response (request->response);
        request->edge->held -= request->out_size - request->out_read + request->size;
        free (request->body);
        free (request->principal);
        free (request->out);
        free (request);
        *request_p = NULL;
    }
}

static void
s_peer (request_t *request, zmq_msg_t *peer)
{
    zmq_msg_init_size (peer, PEER_SIZE);
    unsigned char *data = (unsigned char *) zmq_msg_data (peer);
    data [0] = 0;
    memcpy (data + 1, &request->number, sizeof (request->number));
}

void
http_edge_tell_ends (http_edge_t *self, http_end_fn *ended)
{
    self->ended = ended;
}

bool
http_edge_owns (zmq_msg_t *peer)
{
    return zmq_msg_size (peer) == PEER_SIZE && *(unsigned char *) zmq_msg_data (peer) == 0;
}

//  --------------------------------------------------------------------------
//  Requests from clients

static void
s_count_destroy (int **count_p)
{
    free (*count_p);
    *count_p = NULL;
}

static int *
s_stream_count (http_edge_t *self, const char *sid)
{
    return (int *) zhashx_lookup (self->streams, sid);
}

//  Counts a GET stream of a session; false at --http-max-streams.
static bool
s_stream_open (http_edge_t *self, request_t *request)
{
    int *count = s_stream_count (self, request->sid);
    if (count && *count >= self->config->http_max_streams)
        return false;
    if (!count) {
        count = (int *) calloc (1, sizeof (int));
        if (!count)
            return false;
        zhashx_insert (self->streams, request->sid, count);
    }
    (*count)++;
    request->get_stream = true;
    self->open_streams++;
    return true;
}

static void
s_stream_close (http_edge_t *self, request_t *request)
{
    int *count = s_stream_count (self, request->sid);
    if (count && --*count == 0)
        zhashx_delete (self->streams, request->sid);
    self->open_streams--;
}

static void
s_text_frame (zmq_msg_t *frame, const char *data, size_t size)
{
    zmq_msg_init_size (frame, size);
    if (size)
        memcpy (zmq_msg_data (frame), data, size);
}

//  Hands the request to the owner; the answer may come back at once.
static void
s_route (request_t *request, const char *command, const char *body, size_t size)
{
    http_edge_t *self = request->edge;
    zmq_msg_t frames [5];
    s_text_frame (&frames [0], command, strlen (command));
    s_peer (request, &frames [1]);
    s_text_frame (&frames [2], request->sid, strlen (request->sid));
    s_text_frame (&frames [3], body, size);
    const char *principal = request->principal? request->principal: "";
    s_text_frame (&frames [4], principal, strlen (principal));
    request->routed = true;
    self->route (self->owner, frames);
    for (int index = 0; index < 5; index++)
        zmq_msg_close (&frames [index]);
}

//  Header checks every method shares: Origin, Host, MCP-Protocol-Version,
//  Mcp-Session-Id. Returns false with the refusal made.
//  Counts the Host and Origin headers: one of each at most, else the
//  second could say what the check of the first let through.
static enum MHD_Result
s_count_header (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    int *counts = (int *) cls;
    if (strcasecmp (key, "Host") == 0)
        counts [0]++;
    else
    if (strcasecmp (key, "Origin") == 0)
        counts [1]++;
    return MHD_YES;
}

static bool
s_check_headers (http_edge_t *self, request_t *request)
{
    struct MHD_Connection *connection = request->connection;
    int counts [2] = { 0, 0 };
    MHD_get_connection_values (connection, MHD_HEADER_KIND, s_count_header, counts);
    if (counts [0] > 1 || counts [1] > 1) {
        edge_refuse (request, MHD_HTTP_BAD_REQUEST, 0, "Host and Origin may come once each", NULL, -1);
        return false;
    }
    const char *origin = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Origin");
    if (origin && !http_origin_allowed (origin, self->config->http_allowed_origins)) {
        edge_refuse (request, MHD_HTTP_FORBIDDEN, 0, "origin not allowed", NULL, -1);
        return false;
    }
    const char *host = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Host");
    if (self->loopback && host && !http_host_loopback (host)) {
        edge_refuse (request, MHD_HTTP_FORBIDDEN, 0, "host not allowed", NULL, -1);
        return false;
    }
    const char *version = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                       "MCP-Protocol-Version");
    bool known = !version;
    for (int index = 0; version && index < MCP_VERSION_COUNT; index++)
        known = known || streq (version, mcp_versions [index]);
    if (!known) {
        edge_refuse (request, MHD_HTTP_BAD_REQUEST, 0, "unsupported MCP-Protocol-Version", NULL, -1);
        return false;
    }
    const char *sid = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Mcp-Session-Id");
    if (sid && !mcpz_sid_valid (sid, strlen (sid))) {
        edge_refuse (request, MHD_HTTP_NOT_FOUND, 0, "unknown session", NULL, -1);
        return false;
    }
    if (sid)
        memcpy (request->sid, sid, MCPZ_SID_SIZE + 1);
    http_accepts (MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Accept"),
                  &request->json_ok, &request->sse_ok);
    return true;
}

static void
s_post (http_edge_t *self, request_t *request)
{
    if (request->too_big || request->overloaded) {
        if (request->too_big)
            edge_refuse (request, MHD_HTTP_CONTENT_TOO_LARGE, 0, "message larger than the server's limit",
                         NULL, -1);
        else
            edge_refuse (request, MHD_HTTP_SERVICE_UNAVAILABLE, 0,
                         "server overloaded: too many bytes in flight", NULL, -1);
        return;
    }
    http_body_t body;
    const char *reason;
    int code = http_body_read (request->body? request->body: "", request->size, &body, &reason);
    if (code)
        edge_refuse (request, MHD_HTTP_BAD_REQUEST, code, reason, body.id, -1);
    else
    if (!*request->sid && !body.initialize)
        edge_refuse (request, MHD_HTTP_BAD_REQUEST, 0,
                     "Mcp-Session-Id is missing: a session starts with initialize", body.id, -1);
    else {
        request->want = body.requests? WANT_ANSWER: WANT_ACK;
        request->initialize = !*request->sid;
        s_route (request, body.requests? "MSG": "MSGOK", request->body, request->size);
        //  The frame has it now
        self->held -= request->size;
        free (request->body);
        request->body = NULL;
        request->size = 0;
    }
    http_body_clear (&body);
}

static void
s_get (http_edge_t *self, request_t *request)
{
    const char *last = MHD_lookup_connection_value (request->connection, MHD_HEADER_KIND,
                                                    "Last-Event-ID");
    if (!request->sse_ok)
        edge_refuse (request, MHD_HTTP_NOT_ACCEPTABLE, 0, "a GET stream needs Accept: text/event-stream",
                     NULL, -1);
    else
    if (!*request->sid)
        edge_refuse (request, MHD_HTTP_BAD_REQUEST, 0, "Mcp-Session-Id is missing", NULL, -1);
    else
    if (!s_stream_open (self, request))
        edge_refuse (request, MHD_HTTP_TOO_MANY_REQUESTS, 0, "too many streams open for this session",
                     NULL, 1000);
    else {
        request->want = WANT_STREAM;
        s_route (request, "RESUME", last? last: "", last? strlen (last): 0);
    }
}

static void
s_delete (http_edge_t *self, request_t *request)
{
    if (!*request->sid)
        edge_refuse (request, MHD_HTTP_BAD_REQUEST, 0, "Mcp-Session-Id is missing", NULL, -1);
    else {
        request->want = WANT_CLOSE;
        s_route (request, "CLOSE", "", 0);
    }
}

//  With authentication on: whom the request's bearer token names, or a
//  refusal. A token in the URI is refused: it would end up in logs.
static bool
s_authenticate (http_edge_t *self, request_t *request)
{
    if (MHD_lookup_connection_value (request->connection, MHD_GET_ARGUMENT_KIND, "access_token")) {
        edge_refuse (request, MHD_HTTP_BAD_REQUEST, 0,
                     "an access token goes in the Authorization header, never the URI", NULL, -1);
        return false;
    }
    const char *header = MHD_lookup_connection_value (request->connection, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_AUTHORIZATION);
    const char *error_code, *reason;
    int status = http_auth_check (self->auth, header, &request->principal, &error_code, &reason);
    if (status == 200)
        return true;
    char *challenge = http_auth_challenge (self->auth, error_code, reason);
    edge_refuse_credentials (request, (unsigned int) status, reason, challenge);
    free (challenge);
    return false;
}

//  First call of a request: everything the headers decide.
static request_t *
s_request_new (http_edge_t *self, struct MHD_Connection *connection, const char *url,
               const char *method)
{
    request_t *request = (request_t *) calloc (1, sizeof (request_t));
    if (!request)
        return NULL;
    request->edge = self;
    request->connection = connection;
    request->number = ++self->next_number;
    zhashx_insert (self->requests, &request->number, request);
    self->requests_total++;
    if (self->auth && streq (method, "GET") && http_auth_is_metadata_path (self->auth, url))
        edge_respond_document (request, MHD_HTTP_OK, http_auth_metadata (self->auth));
    else
    if (!streq (method, "POST") && !streq (method, "GET") && !streq (method, "DELETE"))
        edge_refuse (request, MHD_HTTP_METHOD_NOT_ALLOWED, 0, "method not allowed", NULL, -1);
    else
    if (!streq (url, self->config->http_path))
        edge_refuse (request, MHD_HTTP_NOT_FOUND, 0, "not the MCP endpoint", NULL, -1);
    else
    if ((!self->auth || s_authenticate (self, request))
    &&  s_check_headers (self, request) && streq (method, "POST")) {
        const char *length = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!request->json_ok && !request->sse_ok)
            edge_refuse (request, MHD_HTTP_NOT_ACCEPTABLE, 0,
                         "Accept must allow application/json or text/event-stream", NULL, -1);
        else
        if (length && strtoull (length, NULL, 10) > (unsigned long long) self->config->max_message_size)
            edge_refuse (request, MHD_HTTP_CONTENT_TOO_LARGE, 0,
                         "message larger than the server's limit", NULL, -1);
    }
    return request;
}

static void
s_upload (http_edge_t *self, request_t *request, const char *data, size_t size)
{
    if (request->too_big || request->overloaded || request->response)
        return;                 //  read and dropped
    if (request->size + size > (size_t) self->config->max_message_size) {
        request->too_big = true;
        return;
    }
    if (self->held + size > (size_t) self->config->http_buffer_bytes) {
        request->overloaded = true;
        return;
    }
    char *body = (char *) realloc (request->body, request->size + size + 1);
    if (!body) {
        request->too_big = true;
        return;
    }
    memcpy (body + request->size, data, size);
    request->body = body;
    request->size += size;
    self->held += size;
}

static enum MHD_Result
s_access (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload, size_t *upload_size, void **request_p)
{
    http_edge_t *self = (http_edge_t *) cls;
    request_t *request = (request_t *) *request_p;
    if (!request) {
        *request_p = request = s_request_new (self, connection, url, method);
        if (!request)
            return MHD_NO;
        if (!request->response)
            return MHD_YES;
        //  Refused on its headers: answered now, its body never read
        //  (libmicrohttpd closes the connection after such an answer)
        enum MHD_Result result = MHD_queue_response (connection, request->status, request->response);
        MHD_destroy_response (request->response);
        request->response = NULL;
        request->queued = true;
        return result;
    }
    if (*upload_size) {
        s_upload (self, request, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!request->response && !request->routed) {
        if (streq (method, "POST"))
            s_post (self, request);
        else
        if (streq (method, "GET"))
            s_get (self, request);
        else
            s_delete (self, request);
    }
    if (request->response) {
        //  Answered already (refused, or answered during routing)
        enum MHD_Result result = MHD_queue_response (connection, request->status, request->response);
        MHD_destroy_response (request->response);
        request->response = NULL;
        request->queued = true;
        return result;
    }
    if (request->gone)
        return MHD_NO;          //  closes the connection
    if (!request->queued) {
        //  Not watched for a hang-up: its answer, or END, comes within the
        //  request's deadline, and a client that left is found then
        MHD_suspend_connection (connection);
        request->suspended = true;
    }
    return MHD_YES;
}

static void
s_completed (void *cls, struct MHD_Connection *connection, void **request_p,
             enum MHD_RequestTerminationCode code)
{
    http_edge_t *self = (http_edge_t *) cls;
    request_t *request = (request_t *) *request_p;
    if (!request)
        return;
    if (request->get_stream)
        s_stream_close (self, request);
    zhashx_delete (self->requests, &request->number);
    *request_p = NULL;
}

static void
s_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
    http_edge_t *self = (http_edge_t *) cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        self->connections++;
        self->open_connections++;
    }
    else
        self->open_connections--;
}

//  --------------------------------------------------------------------------
//  Start, run, stop

//  The address to bind, resolved; false with the reason in error.
static bool
s_resolve (const config_t *config, struct sockaddr_storage *address, bool *ipv6_p,
           bool *loopback_p, char *error, size_t error_size)
{
    char host [256];
    int port;
    if (http_parse_address (config->http, host, sizeof (host), &port)) {
        snprintf (error, error_size, "--http %s: not PORT or ADDR:PORT", config->http);
        return false;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *found = NULL;
    int rc = getaddrinfo (host, NULL, &hints, &found);
    if (rc) {
        snprintf (error, error_size, "--http %s: %s", config->http, gai_strerror (rc));
        return false;
    }
    memcpy (address, found->ai_addr, found->ai_addrlen);
    freeaddrinfo (found);
    *ipv6_p = address->ss_family == AF_INET6;
    if (*ipv6_p) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) address;
        in6->sin6_port = htons ((uint16_t) port);
        *loopback_p = IN6_IS_ADDR_LOOPBACK (&in6->sin6_addr);
    }
    else {
        struct sockaddr_in *in = (struct sockaddr_in *) address;
        in->sin_port = htons ((uint16_t) port);
        *loopback_p = (ntohl (in->sin_addr.s_addr) >> 24) == 127;
    }
    return true;
}

http_edge_t *
http_edge_new (const config_t *config, size_t max_connections, http_route_fn *route,
               void *owner, char *error, size_t error_size)
{
    struct sockaddr_storage address;
    bool ipv6, loopback;
    if (!s_resolve (config, &address, &ipv6, &loopback, error, error_size))
        return NULL;
    if (!loopback && !http_auth_wanted (config) && !config->allow_unauthenticated) {
        snprintf (error, error_size, "--http %s is off loopback: give --http-tokens or --oauth-jwks, "
                  "or --allow-unauthenticated", config->http);
        return NULL;
    }
    http_edge_t *self = (http_edge_t *) calloc (1, sizeof (http_edge_t));
    if (!self)
        return NULL;
    if (http_auth_wanted (config)) {
        char host [256], resource [600];
        int port;
        http_parse_address (config->http, host, sizeof (host), &port);
        snprintf (resource, sizeof (resource), "http://%s:%d%s", *host? host: "localhost", port,
                  config->http_path);
        self->auth = http_auth_new (config, resource, error, error_size);
        if (!self->auth) {
            free (self);
            return NULL;
        }
    }
    self->fd = -1;
    self->config = config;
    self->route = route;
    self->owner = owner;
    self->loopback = loopback;
    self->requests = table_new ((zhashx_destructor_fn *) s_request_destroy, true);
    self->streams = zhashx_new ();
    if (self->streams)
        zhashx_set_destructor (self->streams, (zhashx_destructor_fn *) s_count_destroy);
    self->next_heartbeat = zclock_mono () + HEARTBEAT_MS;
    unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO
                       | (ipv6? MHD_USE_IPv6: 0);
    if (self->requests && self->streams)
        self->daemon = MHD_start_daemon (flags, 0, NULL, NULL, s_access, self,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int) max_connections,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) IDLE_TIMEOUT_S,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONNECTION_MEMORY,
            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int) 4096,
            MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
            MHD_OPTION_NOTIFY_CONNECTION, s_connection, self,
            MHD_OPTION_END);
    const union MHD_DaemonInfo *info = self->daemon?
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD): NULL;
    if (!info) {
        snprintf (error, error_size, "--http %s: cannot listen (%s)", config->http,
                  errno? strerror (errno): "libmicrohttpd refused");
        http_edge_destroy (&self);
        return NULL;
    }
    self->daemon_fd = info->epoll_fd;
    self->fd = epoll_create1 (EPOLL_CLOEXEC);
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = 0 };
    if (self->fd == -1 || epoll_ctl (self->fd, EPOLL_CTL_ADD, self->daemon_fd, &event)) {
        snprintf (error, error_size, "--http: epoll: %s", strerror (errno));
        http_edge_destroy (&self);
    }
    return self;
}

void
http_edge_destroy (http_edge_t **self_p)
{
    if (*self_p) {
        http_edge_t *self = *self_p;
        if (self->daemon) {
            //  libmicrohttpd must not stop with connections suspended
            for (request_t *request = (request_t *) zhashx_first (self->requests); request;
                 request = (request_t *) zhashx_next (self->requests))
                if (request->suspended) {
                    request->suspended = false;
                    request->overflowed = request->gone = true;
                    MHD_resume_connection (request->connection);
                }
            MHD_stop_daemon (self->daemon);
        }
        if (self->fd != -1)
            close (self->fd);
        zhashx_destroy (&self->requests);
        zhashx_destroy (&self->streams);
        http_auth_destroy (&self->auth);
        free (self);
        *self_p = NULL;
    }
}

int
http_edge_fd (http_edge_t *self)
{
    return self->fd;
}

int
http_edge_reload (http_edge_t *self, char *error, size_t error_size)
{
    return self->auth? http_auth_reload (self->auth, error, error_size): 0;
}

size_t
http_edge_pending (http_edge_t *self)
{
    size_t pending = 0;
    for (request_t *request = (request_t *) zhashx_first (self->requests); request;
         request = (request_t *) zhashx_next (self->requests))
        if (request->routed && !request->get_stream)
            pending++;
    return pending;
}

long
http_edge_timeout (http_edge_t *self)
{
    if (self->dirty)
        return 0;
    MHD_UNSIGNED_LONG_LONG timeout;
    long heartbeat = (long) (self->next_heartbeat - zclock_mono ());
    if (heartbeat < 0)
        heartbeat = 0;
    if (MHD_get_timeout (self->daemon, &timeout) == MHD_YES && (long long) timeout < heartbeat)
        return (long) timeout;
    return heartbeat;
}

//  A comment on every stream with nothing to send: a vanished client's
//  connection fails on the write and the stream ends.
static void
s_heartbeat (http_edge_t *self)
{
    for (request_t *request = (request_t *) zhashx_first (self->requests); request;
         request = (request_t *) zhashx_next (self->requests))
        if (request->streaming && request->suspended && request->out_size == request->out_read)
            edge_stream_write (request, ":\n\n", 3);
}

//  Streams whose client hung up while they waited: resumed to end.
static void
s_hang_ups (http_edge_t *self)
{
    struct epoll_event events [64];
    int count = epoll_wait (self->fd, events, 64, 0);
    for (int index = 0; index < count; index++) {
        uint64_t number = events [index].data.u64;
        request_t *request = number? (request_t *) zhashx_lookup (self->requests, &number): NULL;
        if (request && request->suspended) {
            //  A stream's reader ends it; a request still waiting for its
            //  answer is closed by the handler (the answer is dropped)
            request->overflowed = request->gone = true;
            edge_unwatch (request);
            request->suspended = false;
            MHD_resume_connection (request->connection);
            self->dirty = true;
        }
    }
}

void
http_edge_run (http_edge_t *self)
{
    s_hang_ups (self);
    if (zclock_mono () >= self->next_heartbeat) {
        s_heartbeat (self);
        self->next_heartbeat = zclock_mono () + HEARTBEAT_MS;
    }
    self->dirty = false;
    MHD_run (self->daemon);
}

json_t *
http_edge_figures (http_edge_t *self)
{
    return json_pack ("{s:i,s:I,s:I,s:I,s:i,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I}}",
        "connections", self->open_connections,
        "requests", (json_int_t) zhashx_size (self->requests),
        "connections_total", (json_int_t) self->connections,
        "requests_total", (json_int_t) self->requests_total,
        "streams", self->open_streams,
        "streams_dropped", (json_int_t) self->dropped_streams,
        "held_bytes", (json_int_t) self->held,
        "undeliverable", (json_int_t) self->undeliverable,
        "responses", "1xx", (json_int_t) self->statuses [0], "2xx", (json_int_t) self->statuses [1],
        "3xx", (json_int_t) self->statuses [2], "4xx", (json_int_t) self->statuses [3],
        "5xx", (json_int_t) self->statuses [4]);
}
