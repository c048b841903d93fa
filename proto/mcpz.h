/*  mcpz — MCPZ/1 envelopes (spec/mcpz-1.md): validate what a client sent,
    encode ERR and OK bodies, and map a session id to its host.

    Pure code. The supervisor reads frames into an array and asks this module
    what they mean; it never interprets the bytes itself.
*/
#ifndef MCPZ_MCPZ_H
#define MCPZ_MCPZ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MCPZ_SIGNATURE      "MCPZ/1"
#define MCPZ_SIGNATURE_SIZE 6
//  Client frames after the routing id: signature, command, session, body
#define MCPZ_CLIENT_FRAMES  4
//  Session ids: 16 CSPRNG bytes as lowercase hex
#define MCPZ_SID_BYTES      16
#define MCPZ_SID_SIZE       32
//  The longest principal (who a front authenticated, e.g. "curve:" and a
//  Z85 key, or an OAuth issuer and subject) that a session may be bound to
#define MCPZ_PRINCIPAL_MAX  1024

typedef enum {
    MCPZ_MSG,
    MCPZ_LISTEN,
    MCPZ_CLOSE
} mcpz_command_t;

typedef struct {
    const void *data;
    size_t size;
} mcpz_frame_t;

//  Validates one client message: count is how many frames arrived after the
//  routing id, frames holds the first min(count, 4) of them. Returns 0 and
//  sets *command_p when the envelope is good; else the ERR status to answer
//  (400, 404 or 413) with *reason_p a static string. A well-formed but
//  malformed session id (not 32 lowercase hex) is 404: it can never exist.
int
    mcpz_decode (const mcpz_frame_t *frames, size_t count, size_t max_body,
                 mcpz_command_t *command_p, const char **reason_p);

//  True for exactly 32 lowercase hexadecimal characters.
bool
    mcpz_sid_valid (const void *data, size_t size);

//  Fills text (33 bytes: 32 hex and a NUL) from 16 random bytes.
void
    mcpz_sid_format (const uint8_t bytes [MCPZ_SID_BYTES], char *text);

//  Which of n hosts owns a session: a pure function of the id, so the
//  router keeps no table. sid must be valid.
uint32_t
    mcpz_sid_host (const void *sid, uint32_t n);

//  ERR body {"status","message","id"[, "retry_after_ms"]}. id may be NULL
//  (encoded as null); retry_after_ms < 0 leaves it out. Caller frees.
char *
    mcpz_err_body (int status, const char *message, json_t *id,
                   int retry_after_ms, size_t *size_p);

//  Best effort: the JSON-RPC id of a body, as a new reference, or NULL when
//  the body is not an object with a string or integer id. Used where an ERR
//  should name the request it refuses.
json_t *
    mcpz_body_id (const void *data, size_t size);

void
    mcpz_test (bool verbose);

#endif
