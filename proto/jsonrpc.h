/*  jsonrpc — JSON-RPC 2.0 messages: parse, validate, encode.

    Pure code: no sockets, no threads. A parsed message borrows nothing from
    the input buffer; it owns a jansson tree that it frees on destroy.
    Input is untrusted: every failure comes back as a JSON-RPC error code and
    a reason, never an assert.
*/
#ifndef MCPZ_JSONRPC_H
#define MCPZ_JSONRPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

//  Standard and MCP-specific error codes
#define JSONRPC_PARSE_ERROR      -32700
#define JSONRPC_INVALID_REQUEST  -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS   -32602
#define JSONRPC_INTERNAL_ERROR   -32603
#define JSONRPC_REQUEST_TIMEOUT  -32001

//  Deepest nesting accepted; deeper input is refused before jansson sees it,
//  so a hostile body cannot make the parser recurse 2048 levels.
#define JSONRPC_MAX_DEPTH 64
//  Values one message may hold. Parsing costs ~0.25 us per value here and
//  stalls every session of the thread that parses: 16,384 is ~4 ms at
//  worst, where a 760 KB body of small values took 290 ms.
#define JSONRPC_MAX_VALUES 16384
#define JSONRPC_MAX_VALUES_TEXT "16384"

typedef enum {
    JSONRPC_REQUEST,        //  method and id
    JSONRPC_NOTIFICATION,   //  method, no id
    JSONRPC_RESPONSE,       //  result and id
    JSONRPC_ERROR           //  error object and id (may be null)
} jsonrpc_kind_t;

typedef struct _jsonrpc_t jsonrpc_t;

//  Parses one JSON-RPC object from size bytes at data. Returns NULL when the
//  body is not a valid message; then *code_p is -32700 or -32600, *reason_p a
//  static string, and *id_p a new reference to the id when one could be read
//  (else NULL, meaning the answer carries id null). Any of the out-pointers
//  may be NULL.
jsonrpc_t *
    jsonrpc_parse (const char *data, size_t size, int *code_p,
                   const char **reason_p, json_t **id_p);

void
    jsonrpc_destroy (jsonrpc_t **self_p);

jsonrpc_kind_t
    jsonrpc_kind (jsonrpc_t *self);

//  The method, or NULL for responses.
const char *
    jsonrpc_method (jsonrpc_t *self);

//  Borrowed id (string or integer), or NULL for notifications.
json_t *
    jsonrpc_id (jsonrpc_t *self);

//  Borrowed params (object or array), or NULL when absent.
json_t *
    jsonrpc_params (jsonrpc_t *self);

//  Borrowed result or error object of a response, else NULL.
json_t *
    jsonrpc_result (jsonrpc_t *self);
json_t *
    jsonrpc_error (jsonrpc_t *self);

//  True when text has a nesting depth above max_depth. Scans strings and
//  escapes correctly; O(size), no allocation.
bool
    jsonrpc_too_deep (const char *data, size_t size, int max_depth);

//  Why parsing text would cost too much (nesting deeper than
//  JSONRPC_MAX_DEPTH, more than JSONRPC_MAX_VALUES values), or NULL.
//  O(size), no allocation.
const char *
    jsonrpc_costly (const char *data, size_t size);

//  Encoders return a new heap string (caller frees), or NULL on allocation
//  failure. id may be NULL for an error whose id could not be read.
//  result_text is already-serialised JSON, spliced in without re-parsing.
char *
    jsonrpc_encode_result (json_t *id, const char *result_text, size_t *size_p);
char *
    jsonrpc_encode_error (json_t *id, int code, const char *message,
                          size_t *size_p);
//  A notification; params_text may be NULL.
char *
    jsonrpc_encode_notification (const char *method, const char *params_text,
                                 size_t *size_p);

void
    jsonrpc_test (bool verbose);

#endif
