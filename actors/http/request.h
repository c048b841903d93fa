/*  request — what the files of the HTTP edge share: the edge's state and
    its requests, touched by the supervisor's thread only, and the calls
    between edge.c (the server, requests as they come), answer.c (answers
    as they go) and stream.c (SSE streams).
*/
#ifndef MCPZ_HTTP_REQUEST_H
#define MCPZ_HTTP_REQUEST_H

#include "actors/http/edge.h"
#include "actors/http/auth.h"
#include "proto/mcpz.h"

#include <microhttpd.h>

#define PEER_SIZE      9        //  0x00 and a uint64
#define HEARTBEAT_MS   15000    //  a comment on idle streams this often
#define IDLE_TIMEOUT_S 300      //  a keep-alive connection with no request
#define SSE_BLOCK      1024
//  libmicrohttpd's pool per connection: request headers and its read and
//  write buffers. Its default, 32 KB, is zeroed for every request (6% of
//  the time under load, measured) and costs 320 MB at 10,000 connections.
#define CONNECTION_MEMORY (8 * 1024)

typedef enum { WANT_ANSWER, WANT_ACK, WANT_STREAM, WANT_CLOSE } want_t;

typedef struct _request_t request_t;

struct _http_edge_t {
    const config_t *config;
    http_route_fn *route;       //  the owner's router
    http_end_fn *ended;         //  told when a routed request ends, or NULL
    void *owner;
    struct MHD_Daemon *daemon;
    int fd;                     //  epoll: libmicrohttpd's, and waiting streams
    int daemon_fd;              //  libmicrohttpd's own epoll descriptor
    bool loopback;              //  bound on loopback: Host is checked too
    http_auth_t *auth;          //  whom bearer tokens name, NULL: no authentication
    zhashx_t *requests;         //  number -> request_t, until completed
    zhashx_t *streams;          //  session id -> open GET streams (int, boxed)
    uint64_t next_number;
    bool dirty;                 //  answers delivered since the last run
    int64_t next_heartbeat;
    //  Figures
    uint64_t connections, requests_total, undeliverable, dropped_streams;
    uint64_t statuses [6];      //  responses by class: 1xx .. 5xx, other
    size_t held;                //  bytes uploads and streams hold now, all
                                //  of them; at most --http-buffer-bytes
    int open_connections, open_streams;
};

struct _request_t {
    uint64_t number;            //  its peer id; the hash key
    http_edge_t *edge;
    struct MHD_Connection *connection;
    want_t want;
    char sid [MCPZ_SID_SIZE + 1];
    bool json_ok, sse_ok;       //  what its Accept allows
    bool initialize;            //  its answer carries Mcp-Session-Id
    bool get_stream;            //  counted in edge->streams
    char *principal;            //  whom its credentials name (owned), NULL: none
    char *body;                 //  POST body so far
    size_t size;
    bool too_big;
    bool overloaded;            //  the edge held too much to take its body
    bool routed;                //  handed to the owner: an answer will come
    bool suspended;
    bool queued;                //  a response is queued
    bool streaming;             //  the response is an SSE stream
    bool ended;                 //  the stream's last event is written
    bool overflowed;            //  the reader fell behind: drop the stream
    bool watched;               //  its socket is in edge->fd for hang-ups
    bool gone;                  //  the client hung up while it waited
    //  A response ready before the handler could queue it
    unsigned int status;
    struct MHD_Response *response;
    //  Stream bytes not yet taken by libmicrohttpd
    char *out;
    size_t out_size, out_read, out_capacity;
};

//  answer.c: a response for a request, now when the handler may queue it
//  or kept for its next call; takes the response (NULL: empty body).
void
    edge_respond (request_t *request, unsigned int status, struct MHD_Response *response);

//  answer.c: an HTTP refusal with a JSON-RPC error body naming id (may be
//  NULL); code 0 picks the one the status implies.
void
    edge_refuse (request_t *request, unsigned int status, int code, const char *message,
                 json_t *id, int retry_after_ms);

//  answer.c: a refusal of its credentials (401 or 403) with the
//  WWW-Authenticate value that says what to do.
void
    edge_refuse_credentials (request_t *request, unsigned int status, const char *message,
                             const char *challenge);

//  answer.c: a JSON document (text, taken) as the response.
void
    edge_respond_document (request_t *request, unsigned int status, char *text);

//  stream.c: stops watching a parked request's socket for a hang-up.
void
    edge_unwatch (request_t *request);

//  stream.c: the request's response becomes an SSE stream; bytes, an event
//  and the end of it.
void
    edge_stream_start (request_t *request);
void
    edge_stream_write (request_t *request, const char *data, size_t size);
void
    edge_stream_event (request_t *request, zmq_msg_t *event_id, zmq_msg_t *body);
void
    edge_stream_end (request_t *request);

//  stream.c: every GET stream of a session ends (it ended).
void
    edge_streams_end (http_edge_t *self, const char *sid);

#endif
