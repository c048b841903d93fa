/*  edge — MCP Streamable HTTP, the second front of mcpz.

    Run by the supervisor's thread (see edge.c for why), it turns HTTP
    requests into the same frames the ZeroMQ front makes and the answers
    back into HTTP responses and SSE streams. Every HTTP request is a peer
    of its own; nothing below the supervisor knows it is HTTP.
*/
#ifndef MCPZ_HTTP_EDGE_H
#define MCPZ_HTTP_EDGE_H

#include <czmq.h>
#include <jansson.h>
#include "runtime/config.h"

typedef struct _http_edge_t http_edge_t;

//  How the edge hands a client's frames to its owner: command (MSG, MSGOK,
//  RESUME, CLOSE), the request's peer id, the session id (empty for a new
//  session), the body and the principal authenticated ("" for none); the owner may move them out, the edge closes
//  them. Every request handed gets exactly one answer through
//  http_edge_deliver, possibly at once.
typedef void (http_route_fn) (void *owner, zmq_msg_t *frames);

//  How the edge tells its owner that a request it routed is over (its
//  response ended, or its client left): answers for its peer are dropped
//  from now on.
typedef void (http_end_fn) (void *owner, zmq_msg_t *peer);

//  Starts listening on --http, with at most max_connections open at once
//  (more wait in the listen backlog). Returns NULL with the reason in error.
http_edge_t *
    http_edge_new (const config_t *config, size_t max_connections, http_route_fn *route,
                   void *owner, char *error, size_t error_size);

//  From now on, the owner hears of every routed request's end.
void
    http_edge_tell_ends (http_edge_t *self, http_end_fn *ended);

//  Resumes what waits and stops the server; unanswered requests are dropped.
void
    http_edge_destroy (http_edge_t **self_p);

//  The descriptor to poll for input; then call http_edge_run.
int
    http_edge_fd (http_edge_t *self);

//  ms until http_edge_run must be called even without input: 0 when it has
//  work queued (answers delivered since the last run), -1 when none.
long
    http_edge_timeout (http_edge_t *self);

//  Reads the credentials' files again (SIGHUP); on failure keeps the ones
//  it has. 0 or -1 with the reason.
int
    http_edge_reload (http_edge_t *self, char *error, size_t error_size);

//  Requests handed to the owner whose response is not written out yet
//  (GET streams aside: they end with the edge).
size_t
    http_edge_pending (http_edge_t *self);

//  Accepts, reads and writes what is ready; routes complete requests.
void
    http_edge_run (http_edge_t *self);

//  True when a peer id is one of the edge's requests.
bool
    http_edge_owns (zmq_msg_t *peer);

//  An answer for one of the edge's requests: MSG|ANS|OK|ERR, peer, session
//  id, event id, body. Frames stay the caller's (the body may be moved
//  out). An answer for a request that is gone is counted and dropped.
void
    http_edge_deliver (http_edge_t *self, zmq_msg_t *frames);

//  The edge's figures as a JSON object (new reference).
json_t *
    http_edge_figures (http_edge_t *self);

#endif
