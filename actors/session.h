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

typedef enum {
    SESSION_INITIALIZING,   //  answered initialize, waiting for initialized
    SESSION_READY           //  client sent notifications/initialized
} session_state_t;

typedef struct {
    char id [MCPZ_SID_SIZE + 1];    //  32 hex characters and a NUL
    uint8_t version;                //  index into mcp_versions
    uint8_t state;                  //  session_state_t
    uint32_t inflight;              //  requests sent to tool workers, unanswered
    uint64_t event_id;              //  last event id handed out
    int64_t created_ms;             //  wall clock, ms since the epoch
    int64_t last_activity_ms;       //  monotonic ms of the last frame naming it
    json_t *client_info;            //  owned
    json_t *capabilities;           //  owned
} session_t;

//  Takes ownership of client_info and capabilities (new references).
session_t *
    session_new (const char *id, int version, json_t *client_info,
                 json_t *capabilities, int64_t now_ms);

void
    session_destroy (session_t **self_p);

//  The next event id for a server MSG of this session.
uint64_t
    session_next_event (session_t *self);

void
    session_test (bool verbose);

#endif
