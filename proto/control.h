/*  control — the operator's control protocol (spec/control.md).

    Request: one frame, a JSON object {"command": NAME, ...arguments}.
    Reply: one frame, {"ok": true, ...} or {"ok": false, "error": "..."}.
    Pure code: parse and check requests, encode replies.
*/
#ifndef MCPZ_CONTROL_H
#define MCPZ_CONTROL_H

//  The longest control request read; a longer one, up to CONTROL_FRAME_MAX,
//  is answered with an error; past that libzmq drops the connection
#define CONTROL_REQUEST_MAX 65536
#define CONTROL_FRAME_MAX   (16 * 1024 * 1024)

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CONTROL_STATS,
    CONTROL_SESSIONS,
    CONTROL_SESSION,
    CONTROL_KILL,
    CONTROL_CLEANUP,
    CONTROL_METRICS,
    CONTROL_DRAIN,
    CONTROL_SHUTDOWN,
    CONTROL_CONFIG,         //  effective settings and where each came from
    CONTROL_DISABLE,        //  hide a tool, resource, template or prompt
    CONTROL_ENABLE,         //  show it again
    CONTROL_UPSTREAMS,      //  the MCP servers behind mcpz
    CONTROL_COMMANDS        //  how many there are
} control_command_t;

typedef struct {
    control_command_t command;
    const char *name;       //  static command name
    char id [33];           //  session id for session/kill, else ""
    int limit;              //  sessions: page size (1..1000, default 100)
    char cursor [65];       //  sessions: opaque cursor, "" for the first page
    const char *kind;       //  disable/enable: tool, resource, template or prompt
    char target [1024];     //  disable/enable: its name, URI or URI template
} control_request_t;

//  Parses and checks a request. Returns 0, or -1 with error (up to
//  error_size bytes, NUL-terminated) saying what is wrong: not JSON, not an
//  object, no command, unknown command, a missing or wrong argument.
int
    control_parse (const char *data, size_t size, control_request_t *request,
                   char *error, size_t error_size);

//  {"ok": true} merged with fields (borrowed; may be NULL). Caller frees.
char *
    control_reply_ok (json_t *fields, size_t *size_p);

//  {"ok": false, "error": error}. Caller frees.
char *
    control_reply_error (const char *error, size_t *size_p);

const char *
    control_command_name (control_command_t command);

void
    control_test (bool verbose);

#endif
