/*  mcp — Model Context Protocol messages on top of JSON-RPC.

    Pure code: version negotiation, the initialize exchange, and the shapes
    of tool results. The server's answer texts are built here so that the
    session host only splices ids into them.
*/
#ifndef MCPZ_MCP_H
#define MCPZ_MCP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define MCP_VERSION_COUNT 4

//  Largest clientInfo, and largest capabilities, a session may keep (as
//  compact JSON): every session holds them for its whole life.
#define MCP_MAX_INIT_FIELD 8192

//  Versions this server speaks, oldest first; the last is the latest.
extern const char *const mcp_versions [MCP_VERSION_COUNT];

//  The one of them that takes JSON-RPC batches: 2025-03-26
#define MCP_VERSION_BATCHES 1

//  Index into mcp_versions of the version to answer: the client's when
//  supported, else the latest. client may be NULL.
int
    mcp_negotiate_version (const char *client);

//  What a client sent in initialize, validated. Fields are new references
//  owned by the struct.
typedef struct {
    int version;            //  index into mcp_versions
    json_t *client_info;    //  object with at least "name" (string)
    json_t *capabilities;   //  object, possibly empty
} mcp_init_t;

//  Validates initialize params. Returns 0, or -1 with *reason_p set (static
//  string) when params are missing or of the wrong shape.
int
    mcp_init_parse (json_t *params, mcp_init_t *init, const char **reason_p);

void
    mcp_init_clear (mcp_init_t *init);

//  Server capabilities, as bits: what a server declares in initialize and
//  what a method needs before a session may call it.
typedef enum {
    MCP_CAP_TOOLS       = 1 << 0,
    MCP_CAP_LOGGING     = 1 << 1,
    MCP_CAP_RESOURCES   = 1 << 2,   //  with subscribe
    MCP_CAP_PROMPTS     = 1 << 3,
    MCP_CAP_COMPLETIONS = 1 << 4
} mcp_capability_t;

//  MCP's error for a resource that does not exist
#define MCP_RESOURCE_NOT_FOUND -32002

//  Errors of the 2026-07-28 revision (its reserved range, -32020 to -32099)
#define MCP_HEADER_MISMATCH     -32020
#define MCP_MISSING_CAPABILITY  -32021
#define MCP_UNSUPPORTED_VERSION -32022

//  The capabilities a negotiated version knows of, of those in the mask:
//  2024-11-05 has no completions capability.
unsigned
    mcp_version_capabilities (int version, unsigned capabilities);

//  The result text of an initialize answer for a negotiated version,
//  declaring the capabilities set in the mask. Caller frees.
char *
    mcp_init_result (int version, unsigned capabilities);

//  A CallToolResult with one text block; is_error sets isError. structured
//  may be NULL; it is not consumed. Caller frees.
char *
    mcp_text_result (const char *text, bool is_error, json_t *structured);

//  The params text of notifications/progress. token is borrowed; total < 0
//  leaves it out; message may be NULL. Caller frees.
char *
    mcp_progress_params (json_t *token, double progress, double total,
                         const char *message);

#define MCP_LOG_LEVELS 8

//  Index of an MCP log level name (debug 0 .. emergency 7), or -1.
int
    mcp_log_level (const char *name);

//  The name of level index (0 .. 7); "debug" for any other.
const char *
    mcp_log_level_name (int index);

//  The params text of notifications/message. Caller frees.
char *
    mcp_log_params (const char *level, const char *logger, const char *message);

void
    mcp_test (bool verbose);

#endif
