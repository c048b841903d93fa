/*  session — one MCP session: a small struct owned and touched only by the
    session host thread that holds it. Never a thread or an actor of its
    own: a zactor costs ~28 KB and two descriptors, a session aims at the
    few hundred bytes of a hash entry.
*/
#ifndef MCPZ_SESSION_H
#define MCPZ_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/mcpz.h"
#include "runtime/ring.h"
#include <zmq.h>

#define SESSION_PEER_MAX 63

typedef enum {
    SESSION_PERSISTING,     //  initialize seen, row being written; unanswered
    SESSION_INITIALIZING,   //  answered initialize, waiting for initialized
    SESSION_READY,          //  client sent notifications/initialized
    SESSION_CLOSING         //  CLOSE seen, row being deleted
} session_state_t;

typedef struct {
    char id [MCPZ_SID_SIZE + 1];    //  32 hex characters and a NUL
    uint8_t version;                //  index into mcp_versions
    uint8_t state;                  //  session_state_t
    uint8_t log_level;              //  logging/setLevel: 0 none, else mcp level + 1
    uint32_t inflight;              //  requests sent to tool workers, unanswered
    //  Last event id handed out. Its high 32 bits are the session's epoch
    //  (how often it was loaded from the store), so ids stay increasing
    //  across restarts and nodes without a write per event.
    uint64_t event_id;
    int64_t created_ms;             //  wall clock, ms since the epoch
    int64_t last_activity_ms;       //  monotonic ms of the last frame naming it
    json_t *client_info;            //  owned
    json_t *capabilities;           //  owned
    char *principal;                //  who opened it (owned); NULL: nobody was
                                    //  authenticated, so anyone unauthenticated
    uint64_t opener;                //  who opened it, hashed: its count against
                                    //  --max-client-sessions; 0 = not counted
    ring_t *ring;                   //  replay buffer, NULL until the first event
    zmq_msg_t *listener;            //  routing id of the LISTEN peer, or NULL
    json_t *subscriptions;          //  URIs watched, as object keys; NULL: none
    //  The peer that spoke last, when its routing id is this short (ZeroMQ's
    //  own ids are 5 bytes, the HTTP edge's 9, the node link's 44 to 52):
    //  where notices go when the session has no listener (spec/mcpz-1.md §4)
    uint8_t last_peer_size;
    uint8_t last_peer [SESSION_PEER_MAX];
} session_t;

//  Takes ownership of client_info and capabilities (new references).
//  epoch is 0 for a new session, else the store's count of loads.
session_t *
    session_new (const char *id, int version, json_t *client_info,
                 json_t *capabilities, uint32_t epoch, int64_t now_ms);

//  True when the session can take messages (not being written or closed).
bool
    session_live (session_t *self);

void
    session_destroy (session_t **self_p);

//  Makes peer the session's listener (copied). Returns 0 or -1.
int
    session_set_listener (session_t *self, zmq_msg_t *peer);

//  Binds the session to the principal that opened it ("" or NULL: none).
//  Returns 0 or -1.
int
    session_set_principal (session_t *self, const char *principal);
//  True when a frame of this principal (size bytes, not terminated) may
//  name the session: the one that opened it, and nobody else.
bool
    session_allows (session_t *self, const void *principal, size_t size);
//  Remembers peer as the one that spoke last (when its id fits).
void
    session_heard (session_t *self, zmq_msg_t *peer);

//  The store's epoch this session was claimed in: the fencing token of
//  its writes.
uint32_t
    session_epoch (session_t *self);

//  The next event id for a server MSG of this session.
uint64_t
    session_next_event (session_t *self);

void
    session_test (bool verbose);

#endif
