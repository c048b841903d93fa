/*  http — the pure parts of MCP's Streamable HTTP transport: what a POST
    body holds, which origins and hosts are let in, what a client accepts,
    how an SSE event is written, and the --http address.

    Pure code: no sockets, no threads; unit-tested alone and fuzzed. The
    HTTP edge (actors/http/) does the I/O with libmicrohttpd.
*/
#ifndef MCPZ_PROTO_HTTP_H
#define MCPZ_PROTO_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

//  What a POST body carries, read once at the edge
typedef struct {
    int requests;               //  JSON-RPC requests in it (the rest are
                                //  notifications and responses)
    bool initialize;            //  a single initialize request
    json_t *id;                 //  the first request's id, or NULL; owned
} http_body_t;

//  Reads a POST body. Returns 0, or a JSON-RPC error code (-32700 not JSON
//  or too deep, -32600 not a message or an empty or mixed batch) with
//  *reason_p set to a static string; body->id is set whenever one could be
//  read, so the refusal can name it.
int
    http_body_read (const char *data, size_t size, http_body_t *body,
                    const char **reason_p);

void
    http_body_clear (http_body_t *body);

//  True when an Origin header value may reach the MCP endpoint: an
//  http://localhost, http://127.0.0.1 or http://[::1] origin on any port,
//  or one listed exactly in allowed (comma-separated, may be NULL).
bool
    http_origin_allowed (const char *origin, const char *allowed);

//  True when a Host header names a loopback host (any port): what a server
//  bound on loopback answers, so that DNS rebinding cannot reach it.
bool
    http_host_loopback (const char *host);

//  Whether an Accept header allows JSON and SSE answers. A missing header
//  (NULL) allows both.
void
    http_accepts (const char *accept, bool *json_p, bool *sse_p);

//  How long a client should wait before reconnecting to a stream that
//  ended (SEP-1699): a second is soon enough for a call's result and slow
//  enough that a thousand clients do not storm a restarting server.
#define HTTP_SSE_RETRY "retry: 1000\n"

//  One SSE event: an id line (when event_id is not empty), a data line per
//  line of data, and the blank line. An id with empty data (a priming
//  event) also carries the retry line. Caller frees; NULL out of memory.
char *
    http_sse_event (const char *event_id, const char *data, size_t size,
                    size_t *size_p);

//  The JSON-RPC error code an HTTP refusal carries in its body.
int
    http_error_code (int status);

//  Parses --http: "PORT" (binds 127.0.0.1) or "ADDR:PORT" ("[v6]:PORT"
//  for IPv6). address gets the host part. Returns 0 or -1.
int
    http_parse_address (const char *text, char *address, size_t size, int *port_p);

void
    http_test (bool verbose);

#endif
