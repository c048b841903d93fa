/*  config — settings from flags, environment, file, defaults. See config.h.

    One table describes every option: its flag, where it lands in config_t,
    its kind and its range. Parsing, checking, usage and the description of
    effective settings all read the same table, so a new flag is one row.
*/
#include "runtime/config.h"
#include "proto/endpoint.h"
#include "proto/http.h"

#include <czmq.h>
#include <jansson.h>
#include <limits.h>
#include <unistd.h>

typedef enum { KIND_INT, KIND_STRING, KIND_LIST, KIND_BOOL, KIND_LEVEL, KIND_FORMAT,
               KIND_STORE, KIND_UPSTREAM } kind_t;

typedef struct {
    const char *name;           //  flag without dashes
    kind_t kind;
    size_t offset;              //  into config_t
    bool invert;                //  a bool flag that turns its field off
    size_t size;                //  buffer size of strings
    long min, max;              //  range of integers
    const char *fallback;       //  default as text; NULL = computed
    const char *help;
} option_t;

#define OPT_INT(name, field, min, max, def, help) \
    { name, KIND_INT, offsetof (config_t, field), false, 0, min, max, def, help }
#define OPT_STR(name, kind, field, def, help) \
    { name, kind, offsetof (config_t, field), false, sizeof (((config_t *) 0)->field), 0, 0, def, help }
#define OPT_BOOL(name, field, invert, help) \
    { name, KIND_BOOL, offsetof (config_t, field), invert, 0, 0, 0, "false", help }

static const option_t s_options [] = {
    OPT_STR ("listen", KIND_LIST, listen, "tcp://127.0.0.1:5555", "client endpoint (repeatable)"),
    OPT_STR ("control", KIND_STRING, control, "ipc://.mcpzd/control", "control endpoint"),
    OPT_STR ("http", KIND_STRING, http, "", "MCP Streamable HTTP [ADDR:]PORT (off)"),
    OPT_STR ("http-path", KIND_STRING, http_path, "/mcp", "the MCP endpoint's path"),
    OPT_INT ("http-max-streams", http_max_streams, 1, 1000, "10", "open GET streams per session; past it 429"),
    OPT_STR ("http-allowed-origins", KIND_STRING, http_allowed_origins, "", "origins allowed besides localhost ones (comma-separated)"),
    OPT_INT ("http-max-connections", http_max_connections, 1, 1000000, "10000", "HTTP connections open at once; past it new ones wait"),
    OPT_INT ("http-stream-bytes", http_stream_bytes, 1024, 268435456, "1048576", "bytes an SSE stream may hold for a slow reader before it is dropped"),
    OPT_INT ("http-buffer-bytes", http_buffer_bytes, 65536, 2147483647, "268435456", "bytes all HTTP uploads and streams may hold at once"),
    OPT_STR ("store", KIND_STORE, store, "sqlite:mcpz.db", "none, sqlite:PATH or postgresql://..."),
    OPT_INT ("session-ttl", session_ttl, 1, 31536000, "1800", "idle seconds before a session expires"),
    OPT_INT ("cleanup-interval", cleanup_interval, 1, 86400, "300", "seconds between cleanup cycles"),
    OPT_INT ("request-timeout", request_timeout, 1, 86400000, "30000", "default deadline of a tool call, ms"),
    OPT_INT ("max-sessions", max_sessions, 1, 10000000, "100000", "session cap of this node"),
    OPT_INT ("max-client-sessions", max_client_sessions, 1, 10000000, "10000",
             "sessions one client may hold on this node (one key or token; unauthenticated, one connection)"),
    OPT_INT ("max-inflight", max_inflight, 1, 100000, "64", "requests in flight per session"),
    OPT_INT ("session-threads", session_threads, 1, 256, NULL, "session-host threads (cores)"),
    OPT_INT ("tool-threads", tool_threads, 1, 1024, "4", "tool-worker threads"),
    OPT_INT ("db-workers", db_workers, 1, 256, "5", "database workers, one connection each"),
    OPT_STR ("node-id", KIND_STRING, node_id, NULL, "this node's name (host name)"),
    OPT_STR ("node-listen", KIND_STRING, node_listen, "", "node-to-node link to bind, tcp://ADDR:PORT (off)"),
    OPT_STR ("node-advertise", KIND_STRING, node_advertise, "", "how other nodes reach --node-listen (its endpoint)"),
    OPT_INT ("lease-ms", lease_ms, 300, 600000, "1500", "a node's lease: unrenewed this long, its sessions move"),
    OPT_INT ("store-wait", store_wait, 0, 3600, "0", "seconds a start waits for an unreachable store"),
    OPT_INT ("link-buffer-bytes", link_buffer_bytes, 65536, 2147483647, "268435456",
             "bytes of frames forwarded to other nodes held until answered; past it 503"),
    OPT_STR ("config", KIND_STRING, config_file, "", "settings file (ZPL); flags override it"),
    { "log-level", KIND_LEVEL, offsetof (config_t, log_level), false, 0, 0, 0, "info", "error, warn, info or debug" },
    { "log-format", KIND_FORMAT, offsetof (config_t, log_json), false, 0, 0, 0, "text", "text or json" },
    OPT_BOOL ("no-demo-tools", demo_tools, true, "do not load the demo tools"),
    { "upstream", KIND_UPSTREAM, offsetof (config_t, upstreams), false, 0, 0, 0, NULL,
      "an MCP server behind mcpz: NAME=stdio:COMMAND ARGS... or NAME=http(s)://URL (repeatable)" },
    OPT_BOOL ("conformance-fixtures", conformance_fixtures, false,
              "load the fixtures the official MCP conformance suite expects"),
    OPT_INT ("page-size", page_size, 1, 10000, "100", "items per page of tools/list, resources/list, prompts/list"),
    OPT_BOOL ("control-remote", control_remote, false, "allow a tcp control endpoint off loopback"),
    OPT_STR ("curve-cert", KIND_STRING, curve_cert, "",
             "CURVE certificate (with its secret key) of the --listen endpoints: clients must authenticate"),
    OPT_STR ("curve-clients", KIND_STRING, curve_clients, "",
             "directory of the public certificates of clients --curve-cert lets in (reread on SIGHUP)"),
    OPT_STR ("node-curve-cert", KIND_STRING, node_curve_cert, "",
             "CURVE certificate every node of the cluster holds: the node link is encrypted and only nodes get in"),
    OPT_STR ("http-tokens", KIND_STRING, http_tokens, "",
             "file of static bearer tokens for --http, lines of NAME SHA256-HEX (reread on SIGHUP)"),
    OPT_STR ("oauth-issuer", KIND_STRING, oauth_issuer, "", "the OAuth issuer whose JWT access tokens --http accepts"),
    OPT_STR ("oauth-jwks", KIND_STRING, oauth_jwks, "", "file of the issuer's public keys (JWKS; reread on SIGHUP)"),
    OPT_STR ("oauth-audience", KIND_STRING, oauth_audience, "", "audience tokens must name (default: --oauth-resource)"),
    OPT_STR ("oauth-resource", KIND_STRING, oauth_resource, "",
             "this MCP server's URL as clients know it (default: http://--http + --http-path)"),
    OPT_STR ("oauth-scopes", KIND_STRING, oauth_scopes, "", "scopes every token must grant, space-separated"),
    OPT_STR ("oauth-authorization-server", KIND_STRING, oauth_authorization_server, "",
             "authorization server named in the resource metadata (default: --oauth-issuer)"),
    OPT_BOOL ("allow-unauthenticated", allow_unauthenticated, false,
              "allow client and node endpoints off loopback without authentication"),
    OPT_INT ("drain-timeout", drain_timeout, 0, 3600000, "10000", "ms a shutdown waits for calls in flight"),
    OPT_INT ("max-message-size", max_message_size, 256, 268435456, "1048576", "largest body accepted, bytes"),
    OPT_INT ("host-queue", host_queue, 1, 10000000, "10000", "messages that may wait for one session host"),
    OPT_INT ("tool-queue", tool_queue, 1, 10000000, "1024", "tool calls that may wait for a free worker"),
    OPT_INT ("store-timeout", store_timeout, 100, 600000, "5000", "bound of every store call, ms"),
    OPT_INT ("peer-queue", peer_queue, 16, 10000000, "10000", "answers queued per client peer before they wait for LISTEN"),
    OPT_INT ("peer-queue-bytes", peer_queue_bytes, 65536, 2147483647, "67108864",
             "bytes of answers a client connection may leave unread; past it the connection is dropped"),
    OPT_INT ("peer-inflight-bytes", peer_inflight_bytes, 65536, 2147483647, "67108864",
             "bytes a client connection may send that are not yet whole messages; past it it is dropped"),
    OPT_INT ("max-connections", max_connections, 0, 10000000, "0",
             "ZeroMQ client connections at once (0: what the descriptor limit leaves); past it new ones are shut"),
    OPT_INT ("replay-events", replay_events, 1, 100000, "64", "events kept per session for LISTEN replay"),
    OPT_INT ("replay-bytes", replay_bytes, 1024, 268435456, "262144", "bytes kept per session for LISTEN replay"),
    OPT_INT ("replay-budget", replay_budget, 65536, 2147483647, "536870912",
             "bytes every session's replay ring together may keep; past it the oldest events go first"),
    OPT_INT ("host-spin-us", host_spin_us, 0, 100000, "150", "us a session host polls without sleeping after work (0: never)"),
};
#define OPTIONS (sizeof (s_options) / sizeof (s_options [0]))
_Static_assert (OPTIONS <= sizeof (((config_t *) 0)->source), "config_t.source is too small");

static const char *const s_levels [] = { "error", "warn", "info", "debug" };

static const option_t *
s_option (const char *name, size_t length)
{
    for (size_t index = 0; index < OPTIONS; index++)
        if (strlen (s_options [index].name) == length
        &&  memcmp (s_options [index].name, name, length) == 0)
            return &s_options [index];
    return NULL;
}

static int
s_fail (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    return -1;
}

//  The upstream called name, made (with defaults) when new; NULL when full.
static config_upstream_t *
s_upstream (config_t *self, const char *name, size_t length)
{
    for (int index = 0; index < self->upstream_count; index++)
        if (strlen (self->upstreams [index].name) == length
        &&  memcmp (self->upstreams [index].name, name, length) == 0)
            return &self->upstreams [index];
    if (self->upstream_count == CONFIG_MAX_UPSTREAMS)
        return NULL;
    config_upstream_t *upstream = &self->upstreams [self->upstream_count++];
    memset (upstream, 0, sizeof (*upstream));
    memcpy (upstream->name, name, length);
    upstream->instances = 1;
    upstream->ping_ms = 5000;
    upstream->max_inflight = 64;
    upstream->queue = 1024;
    return upstream;
}

//  A name is what prefixes its rows: letters, digits and '-' (no '_', so
//  NAME_x splits one way only)
static bool
s_upstream_name_valid (const char *name, size_t length)
{
    if (length == 0 || length > CONFIG_UPSTREAM_NAME)
        return false;
    for (size_t at = 0; at < length; at++)
        if (!isalnum ((unsigned char) name [at]) && name [at] != '-')
            return false;
    return true;
}

static bool
s_upstream_spec_valid (const char *spec)
{
    return (strncmp (spec, "stdio:", 6) == 0 && spec [6] && spec [6] != ' ')
        || strncmp (spec, "http://", 7) == 0 || strncmp (spec, "https://", 8) == 0;
}

static bool
s_store_valid (const char *url)
{
    return streq (url, "none")
        || (strncmp (url, "sqlite:", 7) == 0 && url [7])
        || (strncmp (url, "postgresql://", 13) == 0)
        || (strncmp (url, "postgres://", 11) == 0);
}

//  Sets one option from text. origin names where the text came from, for
//  the error line.
static int
s_set (config_t *self, const option_t *option, const char *value,
       config_source_t source, const char *origin, char *error, size_t error_size)
{
    char *field = (char *) self + option->offset;
    //  A repeatable list restarts when a stronger source first names it
    if (option->kind == KIND_LIST && self->source [option - s_options] != source)
        self->listen_count = 0;
    self->source [option - s_options] = (unsigned char) source;
    switch (option->kind) {
        case KIND_INT: {
            char *end = NULL;
            errno = 0;
            long number = strtol (value, &end, 10);
            if (!*value || *end || errno || number < option->min || number > option->max)
                return s_fail (error, error_size, "%s: %s must be an integer from %ld to %ld, not '%s'",
                               origin, option->name, option->min, option->max, value);
            *(int *) field = (int) number;
            return 0;
        }
        case KIND_BOOL:
            if (streq (value, "true") || streq (value, "1") || streq (value, "yes"))
                *(bool *) field = !option->invert;
            else
            if (streq (value, "false") || streq (value, "0") || streq (value, "no"))
                *(bool *) field = option->invert;
            else
                return s_fail (error, error_size, "%s: %s takes true or false, not '%s'",
                               origin, option->name, value);
            return 0;
        case KIND_LEVEL:
            for (int level = LEVEL_ERROR; level <= LEVEL_DEBUG; level++)
                if (streq (value, s_levels [level])) {
                    *(int *) field = level;
                    return 0;
                }
            return s_fail (error, error_size, "%s: %s must be error, warn, info or debug, not '%s'",
                           origin, option->name, value);
        case KIND_FORMAT:
            if (!streq (value, "text") && !streq (value, "json"))
                return s_fail (error, error_size, "%s: %s must be text or json, not '%s'",
                               origin, option->name, value);
            *(bool *) field = streq (value, "json");
            return 0;
        case KIND_LIST:
            if (!*value || strlen (value) >= option->size / CONFIG_MAX_LISTEN)
                return s_fail (error, error_size, "%s: %s needs an endpoint", origin, option->name);
            if (self->listen_count == CONFIG_MAX_LISTEN)
                return s_fail (error, error_size, "%s: at most %d %s endpoints", origin,
                               CONFIG_MAX_LISTEN, option->name);
            strcpy (self->listen [self->listen_count++], value);
            return 0;
        case KIND_UPSTREAM: {
            const char *equals = strchr (value, '=');
            size_t length = equals? (size_t) (equals - value): 0;
            if (!equals || !s_upstream_name_valid (value, length) || !s_upstream_spec_valid (equals + 1)
            ||  strlen (equals + 1) >= sizeof (self->upstreams [0].spec))
                return s_fail (error, error_size, "%s: %s takes NAME=stdio:COMMAND ARGS... or "
                               "NAME=http(s)://URL, NAME of letters, digits and '-', not '%s'",
                               origin, option->name, value);
            config_upstream_t *upstream = s_upstream (self, value, length);
            if (!upstream)
                return s_fail (error, error_size, "%s: at most %d upstreams", origin, CONFIG_MAX_UPSTREAMS);
            strcpy (upstream->spec, equals + 1);
            return 0;
        }
        case KIND_STORE:
            if (!s_store_valid (value))
                return s_fail (error, error_size, "%s: %s must be none, sqlite:PATH or postgresql://..., not '%s'",
                               origin, option->name, value);
            __attribute__ ((fallthrough));     //  stored as a string
        case KIND_STRING:
            if (strlen (value) >= option->size)
                return s_fail (error, error_size, "%s: %s is longer than %zu bytes",
                               origin, option->name, option->size - 1);
            strcpy (field, value);
            return 0;
    }
    return -1;
}

static void
s_defaults (config_t *self)
{
    memset (self, 0, sizeof (*self));
    for (size_t index = 0; index < OPTIONS; index++)
        if (s_options [index].fallback) {
            int rc = s_set (self, &s_options [index], s_options [index].fallback,
                            SOURCE_DEFAULT, "default", NULL, 0);
            assert (rc == 0);
        }
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    self->session_threads = cores < 1? 1: cores > 256? 256: (int) cores;
    if (gethostname (self->node_id, sizeof (self->node_id) - 1) || !*self->node_id)
        strcpy (self->node_id, "mcpz");
}

//  One integer setting of an upstream section
static int
s_upstream_int (const char *upstream, const char *name, const char *value, long min, long max,
                int *field, char *error, size_t error_size)
{
    char *end = NULL;
    errno = 0;
    long number = value? strtol (value, &end, 10): 0;
    if (!value || !*value || *end || errno || number < min || number > max)
        return s_fail (error, error_size, "config: upstream %s: %s must be an integer from %ld to %ld",
                       upstream, name, min, max);
    *field = (int) number;
    return 0;
}

//  True when text is UTF-8 with no control characters: a node's name
//  goes into logs, metrics labels and the store
static bool
s_printable_text (const char *text)
{
    json_t *checked = json_stringn (text, strlen (text));
    bool printable = checked != NULL;
    json_decref (checked);
    for (const char *at = text; printable && *at; at++)
        printable = (unsigned char) *at >= 0x20 && *at != 0x7f;
    return printable;
}

//  The file's upstreams section: one child per upstream, named as it is,
//  with spec, instances, cwd, env, headers, timeout, ping, max-inflight,
//  queue, era.
static int
s_load_upstreams (config_t *self, zconfig_t *section, char *error, size_t error_size)
{
    for (zconfig_t *child = zconfig_child (section); child; child = zconfig_next (child)) {
        const char *name = zconfig_name (child);
        if (!s_upstream_name_valid (name, strlen (name)))
            return s_fail (error, error_size, "config: upstream name '%s' must be letters, digits and '-'", name);
        config_upstream_t *upstream = s_upstream (self, name, strlen (name));
        if (!upstream)
            return s_fail (error, error_size, "config: at most %d upstreams", CONFIG_MAX_UPSTREAMS);
        for (zconfig_t *item = zconfig_child (child); item; item = zconfig_next (item)) {
            const char *key = zconfig_name (item);
            const char *value = zconfig_value (item)? zconfig_value (item): "";
            struct { const char *key; char *field; size_t size; } strings [] = {
                { "spec", upstream->spec, sizeof (upstream->spec) },
                { "cwd", upstream->cwd, sizeof (upstream->cwd) },
                { "env", upstream->env, sizeof (upstream->env) },
                { "headers", upstream->headers, sizeof (upstream->headers) },
                { "era", upstream->era, sizeof (upstream->era) },
            };
            struct { const char *key; int *field; long min, max; } numbers [] = {
                { "instances", &upstream->instances, 1, 64 },
                { "timeout", &upstream->timeout_ms, 0, 86400000 },
                { "ping", &upstream->ping_ms, 100, 3600000 },
                { "max-inflight", &upstream->max_inflight, 1, 100000 },
                { "queue", &upstream->queue, 1, 10000000 },
            };
            bool known = false;
            for (size_t at = 0; at < sizeof (strings) / sizeof (strings [0]); at++)
                if (streq (key, strings [at].key)) {
                    if (strlen (value) >= strings [at].size)
                        return s_fail (error, error_size, "config: upstream %s: %s is too long", name, key);
                    strcpy (strings [at].field, value);
                    known = true;
                }
            for (size_t at = 0; at < sizeof (numbers) / sizeof (numbers [0]); at++)
                if (streq (key, numbers [at].key)) {
                    if (s_upstream_int (name, key, value, numbers [at].min, numbers [at].max,
                                        numbers [at].field, error, error_size))
                        return -1;
                    known = true;
                }
            if (!known)
                return s_fail (error, error_size, "config: upstream %s: unknown setting '%s'", name, key);
        }
        if (*upstream->spec && !s_upstream_spec_valid (upstream->spec))
            return s_fail (error, error_size, "config: upstream %s: spec must be stdio:COMMAND ARGS... "
                           "or an http(s):// URL", name);
        if (streq (upstream->era, "auto"))
            *upstream->era = 0;
        if (*upstream->era && !streq (upstream->era, "2025-11-25") && !streq (upstream->era, "2026-07-28"))
            return s_fail (error, error_size, "config: upstream %s: era must be auto, 2025-11-25 or 2026-07-28", name);
    }
    return 0;
}

//  The settings file: top-level "name = value" lines, or the same under a
//  "mcpz" section. A comma-separated listen names several endpoints; an
//  upstreams section holds the upstreams' own settings.
static int
s_load_file (config_t *self, char *error, size_t error_size)
{
    //  Read here, not with zconfig_load: CZMQ 4.2.1's leaks its file handle
    //  on a file it cannot parse (found by fuzzing)
    zchunk_t *chunk = zchunk_slurp (self->config_file, 1048576);
    zconfig_t *root = chunk? zconfig_chunk_load (chunk): NULL;
    zchunk_destroy (&chunk);
    if (!root)
        return s_fail (error, error_size, "config: cannot read settings file '%s'", self->config_file);
    zconfig_t *section = zconfig_locate (root, "mcpz");
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        zconfig_t *item = zconfig_child (pass? section: root);
        for (; item && rc == 0; item = zconfig_next (item)) {
            const char *name = zconfig_name (item);
            const char *value = zconfig_value (item);
            if (pass == 0 && streq (name, "mcpz"))
                continue;
            if (streq (name, "upstreams")) {
                rc = s_load_upstreams (self, item, error, error_size);
                continue;
            }
            const option_t *option = s_option (name, strlen (name));
            if (!option || streq (name, "config"))
                rc = s_fail (error, error_size, "config: unknown setting '%s' in %s", name, self->config_file);
            else
            if (option->kind == KIND_LIST) {
                char *copy = strdup (value? value: "");
                char *saved = NULL;
                for (char *part = strtok_r (copy, ",", &saved); part && rc == 0;
                     part = strtok_r (NULL, ",", &saved))
                    rc = s_set (self, option, part, SOURCE_FILE, "config", error, error_size);
                free (copy);
            }
            else
                rc = s_set (self, option, value? value: "", SOURCE_FILE, "config", error, error_size);
        }
        if (!section)
            break;
    }
    zconfig_destroy (&root);
    return rc;
}

//  MCPZ_<FLAG>: upper case, dashes as underscores.
static int
s_load_env (config_t *self, char *envp [], char *error, size_t error_size)
{
    for (size_t index = 0; index < OPTIONS; index++) {
        const option_t *option = &s_options [index];
        char key [64] = "MCPZ_";
        for (size_t at = 0; option->name [at] && at < sizeof (key) - 6; at++)
            key [5 + at] = option->name [at] == '-'? '_': (char) toupper (option->name [at]);
        size_t key_size = strlen (key);
        for (char **entry = envp; entry && *entry; entry++) {
            if (strncmp (*entry, key, key_size) || (*entry) [key_size] != '=')
                continue;
            const char *value = *entry + key_size + 1;
            int rc = 0;
            if (option->kind == KIND_LIST) {
                char *copy = strdup (value);
                char *saved = NULL;
                for (char *part = strtok_r (copy, ",", &saved); part && rc == 0;
                     part = strtok_r (NULL, ",", &saved))
                    rc = s_set (self, option, part, SOURCE_ENV, key, error, error_size);
                free (copy);
            }
            else
                rc = s_set (self, option, value, SOURCE_ENV, key, error, error_size);
            if (rc)
                return rc;
        }
    }
    return 0;
}

//  Finds --config in argv or MCPZ_CONFIG first: the file sits under both.
static void
s_find_config_file (config_t *self, int argc, char *argv [], char *envp [])
{
    for (char **entry = envp; entry && *entry; entry++)
        if (strncmp (*entry, "MCPZ_CONFIG=", 12) == 0)
            snprintf (self->config_file, sizeof (self->config_file), "%s", *entry + 12);
    for (int index = 1; index < argc; index++) {
        if (streq (argv [index], "--config") && index + 1 < argc)
            snprintf (self->config_file, sizeof (self->config_file), "%s", argv [index + 1]);
        else
        if (strncmp (argv [index], "--config=", 9) == 0)
            snprintf (self->config_file, sizeof (self->config_file), "%s", argv [index] + 9);
    }
}

static int
s_load_flags (config_t *self, int argc, char *argv [], char *error, size_t error_size)
{
    for (int index = 1; index < argc; index++) {
        const char *arg = argv [index];
        if (streq (arg, "--help") || streq (arg, "-h"))
            return 1;
        if (strncmp (arg, "--", 2))
            return s_fail (error, error_size, "unexpected argument '%s' (flags start with --)", arg);
        const char *name = arg + 2;
        const char *equals = strchr (name, '=');
        size_t length = equals? (size_t) (equals - name): strlen (name);
        const option_t *option = s_option (name, length);
        if (!option)
            return s_fail (error, error_size, "unknown flag '--%.*s'", (int) length, name);
        const char *value = NULL;
        if (option->kind == KIND_BOOL)
            value = equals? equals + 1: "true";
        else
        if (equals)
            value = equals + 1;
        else
        if (index + 1 < argc)
            value = argv [++index];
        else
            return s_fail (error, error_size, "flag --%s needs a value", option->name);
        char origin [80];
        snprintf (origin, sizeof (origin), "--%s", option->name);
        if (s_set (self, option, value, SOURCE_FLAG, origin, error, error_size))
            return -1;
    }
    return 0;
}

//  tcp://HOST:PORT with a port number: the link is TCP between machines
static bool
s_tcp_endpoint (const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    return strncmp (endpoint, "tcp://", 6) == 0 && colon && colon > endpoint + 6
        && colon [1] && strspn (colon + 1, "0123456789") == strlen (colon + 1);
}

static int
s_check_node_link (config_t *self, char *error, size_t error_size)
{
    if (*self->node_listen && !s_tcp_endpoint (self->node_listen))
        return s_fail (error, error_size, "--node-listen: '%s' is not tcp://ADDR:PORT", self->node_listen);
    if (*self->node_advertise && (!*self->node_listen || !s_tcp_endpoint (self->node_advertise)))
        return s_fail (error, error_size, "--node-advertise: '%s' needs --node-listen and must be "
                       "tcp://HOST:PORT", self->node_advertise);
    if (*self->node_listen && !*self->node_advertise) {
        const char *host = self->node_listen + 6;
        if (*host == '*' || strncmp (host, "0.0.0.0:", 8) == 0 || strncmp (host, "[::]:", 5) == 0)
            return s_fail (error, error_size, "--node-advertise is needed: --node-listen %s binds "
                           "every address, and other nodes need one", self->node_listen);
        snprintf (self->node_advertise, sizeof (self->node_advertise), "%s", self->node_listen);
    }
    if (*self->node_listen && streq (self->store, "none"))
        return s_fail (error, error_size, "--node-listen needs a store nodes share (--store)");
    return 0;
}

//  Off loopback, whoever reaches an endpoint must prove who they are,
//  unless the operator says otherwise: a session id alone is no credential
static int
s_check_authentication (config_t *self, char *error, size_t error_size)
{
    if (!*self->curve_cert != !*self->curve_clients)
        return s_fail (error, error_size, "--curve-cert and --curve-clients go together");
    if (!*self->oauth_jwks != !*self->oauth_issuer)
        return s_fail (error, error_size, "--oauth-jwks and --oauth-issuer go together");
    for (int index = 0; index < self->listen_count && !*self->curve_cert; index++)
        if (!endpoint_local (self->listen [index]) && !self->allow_unauthenticated)
            return s_fail (error, error_size, "--listen %s is off loopback: give --curve-cert and "
                           "--curve-clients, or --allow-unauthenticated", self->listen [index]);
    if (*self->node_listen && !*self->node_curve_cert && !endpoint_local (self->node_listen)
    &&  !self->allow_unauthenticated)
        return s_fail (error, error_size, "--node-listen %s is off loopback: give --node-curve-cert, "
                       "or --allow-unauthenticated", self->node_listen);
    return 0;
}

int
config_load (config_t *self, int argc, char *argv [], char *envp [],
             char *error, size_t error_size)
{
    s_defaults (self);
    s_find_config_file (self, argc, argv, envp);
    if (*self->config_file) {
        self->source [s_option ("config", 6) - s_options] = SOURCE_FLAG;
        if (s_load_file (self, error, error_size))
            return -1;
    }
    if (s_load_env (self, envp, error, error_size))
        return -1;
    int rc = s_load_flags (self, argc, argv, error, error_size);
    if (rc)
        return rc;
    char address [256];
    int port;
    if (*self->http && http_parse_address (self->http, address, sizeof (address), &port))
        return s_fail (error, error_size, "--http: '%s' is not PORT or ADDR:PORT", self->http);
    if (self->http_path [0] != '/')
        return s_fail (error, error_size, "--http-path: '%s' must start with /", self->http_path);
    for (int index = 0; index < self->upstream_count; index++)
        if (!*self->upstreams [index].spec)
            return s_fail (error, error_size, "upstream %s: no spec (--upstream %s=stdio:COMMAND or =URL)",
                           self->upstreams [index].name, self->upstreams [index].name);
    if (!s_printable_text (self->node_id))
        return s_fail (error, error_size, "--node-id must be UTF-8 text without control characters");
    if (s_check_node_link (self, error, error_size))
        return -1;
    return s_check_authentication (self, error, error_size);
}

config_source_t
config_source (const config_t *self, const char *name)
{
    const option_t *option = s_option (name, strlen (name));
    assert (option);
    return (config_source_t) self->source [option - s_options];
}

void
config_usage (void)
{
    printf ("Usage: mcpzd [FLAG VALUE]...\n"
            "Every flag also reads MCPZ_<FLAG> (e.g. MCPZ_STORE); flags override\n"
            "the environment, which overrides --config, which overrides defaults.\n\n");
    for (size_t index = 0; index < OPTIONS; index++) {
        const option_t *option = &s_options [index];
        printf ("  --%-18s %s%s%s%s\n", option->name, option->help,
                option->fallback && *option->fallback && option->kind != KIND_BOOL? " [": "",
                option->fallback && option->kind != KIND_BOOL? option->fallback: "",
                option->fallback && *option->fallback && option->kind != KIND_BOOL? "]": "");
    }
}

char *
config_describe (const config_t *self)
{
    static const char *const sources [] = { "default", "file", "env", "flag" };
    json_t *root = json_object ();
    for (size_t index = 0; index < OPTIONS; index++) {
        const option_t *option = &s_options [index];
        const char *field = (const char *) self + option->offset;
        json_t *value = NULL;
        switch (option->kind) {
            case KIND_INT:    value = json_integer (*(const int *) field); break;
            case KIND_BOOL:   value = json_boolean (*(const bool *) field != option->invert); break;
            case KIND_LEVEL:  value = json_string (s_levels [*(const int *) field]); break;
            case KIND_FORMAT: value = json_string (*(const bool *) field? "json": "text"); break;
            case KIND_LIST:
                value = json_array ();
                for (int at = 0; at < self->listen_count; at++)
                    json_array_append_new (value, json_string (self->listen [at]));
                break;
            case KIND_UPSTREAM:
                value = json_array ();
                for (int at = 0; at < self->upstream_count; at++) {
                    const config_upstream_t *upstream = &self->upstreams [at];
                    json_array_append_new (value, json_pack ("{s:s,s:s,s:i,s:s,s:i,s:i,s:i,s:i}",
                        "name", upstream->name, "spec", upstream->spec, "instances", upstream->instances,
                        "cwd", upstream->cwd, "timeout_ms", upstream->timeout_ms, "ping_ms", upstream->ping_ms,
                        "max_inflight", upstream->max_inflight, "queue", upstream->queue));
                }
                break;
            case KIND_STORE:
            case KIND_STRING: value = json_string (field); break;
        }
        json_object_set_new (root, option->name, json_pack ("{s:o,s:s}", "value", value,
                             "source", sources [self->source [index]]));
    }
    char *text = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    return text;
}

//  --------------------------------------------------------------------------
//  Self-test

static int
s_load (config_t *config, char *envp [], char *error, ...)
{
    char *argv [32] = { "mcpzd" };
    int argc = 1;
    va_list args;
    va_start (args, error);
    for (char *arg = va_arg (args, char *); arg; arg = va_arg (args, char *))
        argv [argc++] = arg;
    va_end (args);
    return config_load (config, argc, argv, envp, error, 256);
}

void
config_test (bool verbose)
{
    printf (" * config: ");
    config_t config;
    char error [256];
    char *no_env [] = { NULL };
    assert (s_load (&config, no_env, error, "--upstream", "every-thing=stdio:node server.js stdio",
                    "--upstream", "web=https://example.com/mcp", NULL) == 0);
    assert (config.upstream_count == 2 && streq (config.upstreams [0].name, "every-thing"));
    assert (streq (config.upstreams [0].spec, "stdio:node server.js stdio") && config.upstreams [0].instances == 1);
    assert (s_load (&config, no_env, error, "--upstream", "bad_name=stdio:x", NULL) == -1 && strstr (error, "NAME"));
    assert (s_load (&config, no_env, error, "--upstream", "a=ftp://x", NULL) == -1);
    assert (s_load (&config, no_env, error, "--upstream", "a=stdio:", NULL) == -1);
    assert (s_load (&config, no_env, error, NULL) == 0);
    assert (config.listen_count == 1 && streq (config.listen [0], "tcp://127.0.0.1:5555"));
    assert (streq (config.store, "sqlite:mcpz.db"));
    assert (config.session_ttl == 1800 && config.cleanup_interval == 300);
    assert (config.request_timeout == 30000 && config.max_sessions == 100000);
    assert (config.max_inflight == 64 && config.tool_threads == 4 && config.db_workers == 5);
    assert (config.session_threads >= 1 && *config.node_id);
    assert (config.log_level == LEVEL_INFO && !config.log_json && config.demo_tools);
    assert (config_source (&config, "store") == SOURCE_DEFAULT);

    assert (s_load (&config, no_env, error, "--listen", "tcp://127.0.0.1:1", "--listen=ipc://x",
                    "--store", "none", "--no-demo-tools", "--log-level", "debug",
                    "--log-format=json", "--session-threads", "3", NULL) == 0);
    assert (config.listen_count == 2 && streq (config.listen [1], "ipc://x"));
    assert (streq (config.store, "none") && !config.demo_tools && config.log_json);
    assert (config.log_level == LEVEL_DEBUG && config.session_threads == 3);
    assert (config_source (&config, "store") == SOURCE_FLAG);

    //  Bad flags name themselves
    assert (s_load (&config, no_env, error, "--session-threads", "0", NULL) == -1);
    assert (strstr (error, "session-threads"));
    assert (s_load (&config, no_env, error, "--session-ttl", "-1", NULL) == -1);
    assert (s_load (&config, no_env, error, "--session-ttl", "12x", NULL) == -1);
    assert (s_load (&config, no_env, error, "--log-level", "loud", NULL) == -1);
    assert (strstr (error, "log-level"));
    assert (s_load (&config, no_env, error, "--store", "mysql://x", NULL) == -1);
    assert (s_load (&config, no_env, error, "--store", "sqlite:", NULL) == -1);
    assert (s_load (&config, no_env, error, "--bogus", "1", NULL) == -1);
    assert (strstr (error, "bogus"));
    assert (s_load (&config, no_env, error, "--max-inflight", NULL) == -1);
    assert (strstr (error, "max-inflight"));
    assert (s_load (&config, no_env, error, "--help", NULL) == 1);

    //  Environment under flags
    char *env [] = { "MCPZ_STORE=none", "MCPZ_SESSION_TTL=60", "MCPZ_LISTEN=ipc://a,ipc://b", NULL };
    assert (s_load (&config, env, error, "--session-ttl", "90", NULL) == 0);
    assert (streq (config.store, "none") && config.session_ttl == 90);
    assert (config.listen_count == 2 && streq (config.listen [1], "ipc://b"));
    assert (config_source (&config, "store") == SOURCE_ENV);
    assert (config_source (&config, "session-ttl") == SOURCE_FLAG);
    char *bad_env [] = { "MCPZ_MAX_SESSIONS=lots", NULL };
    assert (s_load (&config, bad_env, error, NULL) == -1);
    assert (strstr (error, "MCPZ_MAX_SESSIONS"));

    //  File under environment
    char path [] = "/tmp/mcpz-config-test-XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    const char *text = "mcpz\n    store = \"sqlite:/tmp/x.db\"\n    session-ttl = 77\n"
                       "    max-sessions = 5\n    listen = \"ipc://f1,ipc://f2\"\n";
    assert (write (fd, text, strlen (text)) == (ssize_t) strlen (text));
    close (fd);
    assert (s_load (&config, env, error, "--config", path, NULL) == 0);
    assert (streq (config.store, "none"));                     //  env wins
    assert (config.session_ttl == 60 && config.max_sessions == 5);
    assert (config_source (&config, "max-sessions") == SOURCE_FILE);
    assert (s_load (&config, no_env, error, "--config", path, "--listen", "ipc://z", NULL) == 0);
    assert (config.listen_count == 1 && streq (config.listen [0], "ipc://z"));
    assert (streq (config.store, "sqlite:/tmp/x.db"));
    char *description = config_describe (&config);
    assert (strstr (description, "\"max-sessions\":{\"value\":5,\"source\":\"file\"}"));
    free (description);
    fd = open (path, O_WRONLY | O_TRUNC);
    assert (write (fd, "colour = red\n", 13) == 13);
    close (fd);
    assert (s_load (&config, no_env, error, "--config", path, NULL) == -1);
    assert (strstr (error, "colour"));
    unlink (path);
    assert (s_load (&config, no_env, error, "--config", "/nonexistent/x", NULL) == -1);
    //  Off loopback, nobody unauthenticated unless the operator says so
    assert (s_load (&config, no_env, error, "--listen", "tcp://0.0.0.0:5", NULL) == -1);
    assert (strstr (error, "--curve-cert"));
    assert (s_load (&config, no_env, error, "--listen", "tcp://127.0.0.1:1;0.0.0.0:5", NULL) == -1);
    assert (s_load (&config, no_env, error, "--listen", "tcp://0.0.0.0:5",
                    "--allow-unauthenticated", NULL) == 0);
    assert (s_load (&config, no_env, error, "--listen", "tcp://0.0.0.0:5", "--curve-cert", "c",
                    "--curve-clients", "d", NULL) == 0);
    assert (s_load (&config, no_env, error, "--curve-cert", "c", NULL) == -1);
    assert (s_load (&config, no_env, error, "--store", "sqlite:x", "--node-listen", "tcp://10.1.1.1:7",
                    NULL) == -1);
    assert (strstr (error, "--node-curve-cert"));
    assert (s_load (&config, no_env, error, "--store", "sqlite:x", "--node-listen", "tcp://10.1.1.1:7",
                    "--node-curve-cert", "n", NULL) == 0);
    printf ("OK\n");
}
