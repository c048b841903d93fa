/*  mcpheaders — the HTTP headers that mirror a 2026-07-28 request's body
    (Mcp-Method, Mcp-Name, and Mcp-Param-NAME for tool arguments whose
    inputSchema property carries "x-mcp-header"), so that intermediaries
    can route without reading the body.

    Pure code: no sockets, no threads; unit-tested alone and fuzzed.
*/
#ifndef MCPZ_PROTO_MCPHEADERS_H
#define MCPZ_PROTO_MCPHEADERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

//  A header value for text: as it is when it is plain visible ASCII
//  (spaces inside), else "=?base64?...?=" (non-ASCII, control bytes, edge
//  whitespace, empty, or a value that looks like the encoded form).
//  Caller frees; NULL when out of memory.
char *
    mcpheaders_value (const char *text, size_t size);

//  True when every x-mcp-header annotation in a tool's inputSchema is one
//  a client may honour: a token, unique ignoring case, on a string,
//  integer or boolean property reached from the root through "properties"
//  only. Otherwise false, with *reason_p set to a static string: such a
//  tool is left out of the lists.
bool
    mcpheaders_schema_valid (json_t *schema, const char **reason_p);

//  The header lines ("Name: value", joined by '\n') that mirror request
//  (a JSON-RPC request object): Mcp-Method; Mcp-Name for tools/call,
//  prompts/get and resources/read; Mcp-Param-NAME for each annotated
//  argument present when schema (the tool's inputSchema, may be NULL) has
//  any. Caller frees; NULL when out of memory.
char *
    mcpheaders_request (json_t *request, json_t *schema);

void
    mcpheaders_test (bool verbose);

#endif
