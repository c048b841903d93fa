/*  config — every setting of mcpzd (spec/control.md), from flags, MCPZ_<FLAG>
    environment variables, a ZPL settings file, and defaults, in that order
    of precedence. Loaded once before any thread starts and read-only after:
    actors share it without locks.
*/
#ifndef MCPZ_CONFIG_H
#define MCPZ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_MAX_LISTEN 16
#define CONFIG_MAX_UPSTREAMS 16
#define CONFIG_UPSTREAM_NAME 32

//  An MCP server behind mcpz (--upstream NAME=SPEC, and the settings
//  file's upstreams section for the rest)
typedef struct {
    char name [CONFIG_UPSTREAM_NAME + 1];   //  letters, digits, '-': its rows are NAME_x
    char spec [1024];           //  stdio:COMMAND ARGS... or an http(s):// URL
    int instances;              //  child processes (stdio) or connections (HTTP)
    char cwd [256];             //  children's working directory, "" = mcpzd's
    char env [1024];            //  NAME=VALUE,... added to children's environment
    char headers [1024];        //  HTTP request headers, "Name: value" lines joined by '\n'
    int timeout_ms;             //  a call's deadline; 0 = --request-timeout
    int ping_ms;                //  pings this often; no answer within it: replaced
    int max_inflight;           //  requests in flight per instance
    int queue;                  //  requests that may wait for an instance
    char era [16];              //  "" (found by probing), "2025-11-25" or "2026-07-28"
} config_upstream_t;

typedef enum { LEVEL_ERROR, LEVEL_WARN, LEVEL_INFO, LEVEL_DEBUG } log_level_t;

typedef enum {
    SOURCE_DEFAULT, SOURCE_FILE, SOURCE_ENV, SOURCE_FLAG
} config_source_t;

typedef struct {
    char listen [CONFIG_MAX_LISTEN][256];   //  client endpoints
    int listen_count;
    char control [256];         //  control endpoint
    char http [256];            //  Streamable HTTP address, "" = off
    char http_path [256];       //  the MCP endpoint's path
    int http_max_streams;       //  open GET streams per session
    char http_allowed_origins [1024];   //  comma-separated, besides localhost
    int http_max_connections;   //  HTTP connections at once
    int http_stream_bytes;      //  bytes an SSE stream holds for a slow reader
    int http_buffer_bytes;      //  bytes all uploads and streams hold at once
    char store [1024];          //  none, sqlite:PATH, postgresql://...
    char node_id [256];         //  this node's name
    char node_listen [256];     //  node-to-node link endpoint to bind, "" = none
    char node_advertise [256];  //  how other nodes reach it, "" = none
    int lease_ms;               //  a node's lease in the store
    int store_wait;             //  seconds a start waits for the store to answer
    int link_buffer_bytes;      //  bytes of forwarded frames held for their answers
    char config_file [1024];    //  settings file, "" = none
    int session_ttl;            //  idle seconds before a session expires
    int cleanup_interval;       //  seconds between cleanup cycles
    int request_timeout;        //  default tool-call deadline, ms
    int max_sessions;           //  session cap of this node
    int max_client_sessions;    //  sessions one client may hold on this node
    int max_inflight;           //  requests in flight per session
    int session_threads;        //  session-host actors
    int tool_threads;           //  tool-worker actors
    int db_workers;             //  database-worker actors
    int log_level;              //  log_level_t
    bool log_json;              //  --log-format json
    bool demo_tools;            //  load the demo tools
    bool conformance_fixtures;  //  load the conformance suite's fixtures
    int page_size;              //  items per page of a list method
    int max_message_size;       //  largest body accepted, bytes
    int host_queue;             //  messages that may wait for one host
    int tool_queue;             //  tool calls that may wait for a worker
    int store_timeout;          //  bound of every store call, ms
    int peer_queue;             //  answers queued per client peer
    int peer_queue_bytes;       //  bytes of answers a client peer may leave unread
    int peer_inflight_bytes;    //  bytes a client peer may send without finishing a message
    int max_connections;        //  ZeroMQ client connections at once, 0 = from the fd limit
    int drain_timeout;          //  ms a shutdown waits for work in flight
    bool control_remote;        //  allow a non-loopback tcp control endpoint
    char curve_cert [1024];     //  the client front's CURVE certificate (secret), "" = none
    char curve_clients [1024];  //  directory of allowed clients' public certificates
    char node_curve_cert [1024];    //  the cluster's node certificate (secret), "" = none
    bool allow_unauthenticated; //  bind off loopback without authentication
    char http_tokens [1024];    //  file of NAME SHA256-HEX lines, "" = none
    char oauth_issuer [512];    //  the one issuer whose JWTs are accepted
    char oauth_audience [512];  //  what their aud must hold, "" = the resource
    char oauth_jwks [1024];     //  file of the issuer's keys, "" = no OAuth
    char oauth_resource [512];  //  this resource's URL, "" = from --http
    char oauth_scopes [512];    //  scopes a token must grant, space-separated
    char oauth_authorization_server [512];  //  for the metadata, "" = the issuer
    int replay_events;          //  events kept per session for LISTEN
    int replay_bytes;           //  bytes kept per session for LISTEN
    int replay_budget;          //  bytes kept by every session of the node
    int host_spin_us;           //  a host polls this long after work
    config_upstream_t upstreams [CONFIG_MAX_UPSTREAMS];
    int upstream_count;
    unsigned char source [64];  //  config_source_t of each option, table order
} config_t;

//  Fills self from defaults, the settings file, the environment (envp, a
//  NULL-terminated array like environ) and argv, then checks every value.
//  Returns 0 when good; 1 when --help was asked (usage printed); -1 with a
//  one-line reason in error (naming the setting) when anything is wrong.
int
    config_load (config_t *self, int argc, char *argv [], char *envp [],
                 char *error, size_t error_size);

//  Where the setting with this flag name (without dashes) came from.
config_source_t
    config_source (const config_t *self, const char *name);

//  Writes the usage text to stdout.
void
    config_usage (void);

//  The effective settings as a JSON object text {"name": {"value", "source"}}.
//  Caller frees.
char *
    config_describe (const config_t *self);

void
    config_test (bool verbose);

#endif
