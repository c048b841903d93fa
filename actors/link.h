/*  link — the node-to-node link of a cluster: frames of a session that
    another node owns go to that node, and its answers come back, so a
    client never knows which node serves it.

    Run by the supervisor's thread (as the HTTP edge is: a forwarded frame
    must not pay a thread hop on top of the network's). Nothing below the
    supervisor knows it: on the owner, a forwarded frame is a frame from a
    peer of the link's own, answered like any other.
*/
#ifndef MCPZ_LINK_H
#define MCPZ_LINK_H

#include <czmq.h>
#include <jansson.h>
#include "runtime/config.h"

typedef struct _link_t link_t;

//  What the link hands its owner. route: a forwarded frame to serve here,
//  as command, peer (the link's), session id, body, principal. deliver: an answer for
//  a client of this node, as MSG|ANS|OK|ERR|END, peer, session id, event
//  id, body. refuse: an ERR for a client of this node (status, reason,
//  the request's body to name its id). Frames stay the link's; the owner
//  may move them out.
typedef struct {
    void (*route) (void *owner, zmq_msg_t *frames);
    void (*deliver) (void *owner, zmq_msg_t *frames);
    void (*refuse) (void *owner, zmq_msg_t *peer, const char *sid, int status,
                    const char *reason, zmq_msg_t *body);
    void *owner;
} link_hooks_t;

//  Binds --node-listen when it is set, and readies the socket that reaches
//  other nodes. incarnation names this process on the link. Returns NULL
//  with the reason in error.
link_t *
    link_new (const config_t *config, const char *incarnation, link_hooks_t hooks,
              char *error, size_t error_size);

//  Forwarded frames still waiting get no answer from here: the process is
//  ending, and their clients' connections with it.
void
    link_destroy (link_t **self_p);

//  The sockets to poll for input: frames other nodes forward here (NULL
//  without --node-listen), and answers to what this node forwarded.
void *
    link_inbound (link_t *self);
void *
    link_outbound (link_t *self);

//  A socket to poll that tells when a connection to a node broke.
void *
    link_monitor (link_t *self);

//  Reads and handles up to a batch of what waits on each socket.
void
    link_handle_inbound (link_t *self);
void
    link_handle_outbound (link_t *self);
void
    link_handle_monitor (link_t *self);

//  ms until link_run must be called: a forward waits for its node's
//  connection. -1 when nothing waits.
long
    link_timeout (link_t *self);

//  Retries forwards that wait for a connection; refuses those waited too long.
void
    link_run (link_t *self);

//  True when a peer id is one of the link's (a frame another node forwarded).
bool
    link_owns (zmq_msg_t *peer);

//  An answer for a frame another node forwarded: MSG|ANS|OK|ERR|END, peer,
//  session id, event id, body, sent back to that node.
void
    link_answer (link_t *self, zmq_msg_t *frames);

//  A client's frame for a session this node knows another node owns:
//  forwarded, or refused. False when the session's owner is not known
//  here: the caller routes it to its host. Frames stay the caller's.
bool
    link_forward_known (link_t *self, zmq_msg_t *command, zmq_msg_t *peer, zmq_msg_t *sid,
                        zmq_msg_t *body, zmq_msg_t *principal);

//  A host found another node owns the session: FWD, peer, session id,
//  "COMMAND\tNODE\tENDPOINT", body, principal. Forwarded and remembered; for a frame
//  another node forwarded here, that node is told where the session is.
void
    link_forward (link_t *self, zmq_msg_t *frames);

//  The live nodes (the lease actor's PEERS: JSON [[id, endpoint,
//  incarnation, endpoint resolved]...]) as of asked_ms (monotonic). A node missing from it
//  whose lease lapsed is lost: what was forwarded to it and is still
//  unanswered gets 503, and its sessions are looked up again.
void
    link_peers (link_t *self, const char *peers, int64_t asked_ms);

//  A client's request is over (the front says so): an open stream
//  forwarded for it is forgotten.
void
    link_request_ended (link_t *self, zmq_msg_t *peer);

//  Forwarded frames whose answer has not come yet (open streams aside).
size_t
    link_owed (link_t *self);

//  The process is ending: every forwarded frame still waiting gets what
//  it is owed now (503, or the end of its stream).
void
    link_abandon_all (link_t *self);

//  Figures as a JSON object (new reference).
json_t *
    link_figures (link_t *self);

#endif
