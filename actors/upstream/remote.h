/*  remote — one MCP session with a Streamable HTTP server, over libcurl:
    every message to it is a POST; what comes back (a JSON body, or the
    events of an SSE response) is handed over a message at a time, tagged
    with the id of the request whose POST it came on. Used by the upstream
    actor only, on its thread.
*/
#ifndef MCPZ_UPSTREAM_REMOTE_H
#define MCPZ_UPSTREAM_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct _remote_t remote_t;

//  What comes back: a message (not NUL-terminated), or the failure of the
//  POST that carried the request tagged tag (0: a notification or answer),
//  with its HTTP status (0 when none came). An error status whose body is
//  a JSON-RPC error is a message: the error, with the request's id.
typedef void (remote_message_fn) (void *arg, const char *data, size_t size, uint64_t tag);
typedef void (remote_failed_fn) (void *arg, uint64_t tag, long status, const char *reason);

//  headers: "Name: value" lines joined by '\n' (may be empty). NULL when
//  libcurl cannot start.
remote_t *
    remote_new (const char *url, const char *headers, int timeout_ms);

void
    remote_destroy (remote_t **self_p);

//  POSTs one message; tag is its request id (0 for others); headers: more
//  "Name: value" lines for this POST only, joined by '\n' (or NULL);
//  lasting: its answer is a stream that stays open (no time limit). -1 when
//  it cannot.
int
    remote_send (remote_t *self, const char *text, size_t size, uint64_t tag, const char *headers,
                 bool lasting);

//  Closes the POST of the request tagged tag, if it is open: on a
//  stateless (2026-07-28) server that cancels the request.
void
    remote_cancel (remote_t *self, uint64_t tag);

//  The protocol version to name in MCP-Protocol-Version once negotiated.
void
    remote_set_version (remote_t *self, const char *version);

//  Adds what to poll to items (at most max); returns how many.
int
    remote_items (remote_t *self, zmq_pollitem_t *items, int max);

//  ms until libcurl wants to run again; -1 when it has nothing to do.
long
    remote_timeout (remote_t *self);

//  Runs libcurl, then hands over what came back.
void
    remote_perform (remote_t *self, remote_message_fn *message, remote_failed_fn *failed, void *arg);

#endif
