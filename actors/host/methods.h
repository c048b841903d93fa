/*  methods — the MCP methods a session answers, as one table.

    A row names a method, its handler, the server capability it needs and
    the least session state it needs. "Method not found", "not initialized"
    and capability checks are answered in one place (methods.c). Requests
    that providers answer go to calls.c, subscriptions to subscriptions.c,
    the client's answers to server requests to asks.c.
*/
#ifndef MCPZ_HOST_METHODS_H
#define MCPZ_HOST_METHODS_H

#include <jansson.h>
#include <zmq.h>

#include "actors/session.h"
#include "proto/jsonrpc.h"

typedef struct _host_t host_t;

//  Methods counted apart in figures and metrics; the rest count as other.
//  The table in methods.c has one row per value before METHOD_OTHER.
typedef enum {
    METHOD_INITIALIZE, METHOD_PING, METHOD_TOOLS_LIST, METHOD_TOOLS_CALL,
    METHOD_SET_LEVEL, METHOD_RESOURCES_LIST, METHOD_TEMPLATES_LIST,
    METHOD_RESOURCES_READ, METHOD_SUBSCRIBE, METHOD_UNSUBSCRIBE,
    METHOD_PROMPTS_LIST, METHOD_PROMPTS_GET, METHOD_COMPLETE,
    METHOD_OTHER, METHODS
} method_t;

//  A request being answered: what every handler gets. All borrowed.
typedef struct {
    session_t *session;
    zmq_msg_t *peer;            //  who asked; the answer goes there
    jsonrpc_t *msg;
    json_t *id;                 //  the request's JSON-RPC id
    json_t *params;             //  may be NULL
    int64_t received;           //  µs when it arrived
    method_t method;
} request_t;

//  Name of a counted method, for figures ("other" for METHOD_OTHER).
const char *
    methods_name (method_t method);

//  Handles one MSG body of a live session: a request through the table,
//  a notification, or a response to a server request. Returns how many
//  requests it held (each gets its answer), or -1 when the body was
//  refused (answered with a JSON-RPC error).
int
    methods_handle_msg (host_t *self, zmq_msg_t *peer, session_t *session,
                        zmq_msg_t *body);

#endif
