/*  mcpzctl — the operator's command-line client, and a quick MCP client.

    mcpzctl [--control EP] [--json] [--timeout MS] COMMAND [ARG...]
    mcpzctl call [--endpoint EP] [--timeout MS] TOOL [key=value...]
    mcpzctl help COMMAND
*/
#include "proto/mcpz.h"

#include <czmq.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *control;        //  control endpoint
    const char *endpoint;       //  client endpoint, for call
    bool json;                  //  print raw JSON
    int timeout;                //  ms to wait for any answer
} options_t;

typedef struct {
    const char *name;
    const char *args;
    const char *help;
} command_t;

static const command_t s_commands [] = {
    { "stats", "", "Figures of the node: sessions, requests, errors, overloads, timeouts,\n"
      "uptime, and per actor (hosts, tool pool, DB workers, cleanup, supervisor)." },
    { "sessions", "[LIMIT [CURSOR]]", "Lists sessions by id, LIMIT (1..1000, default 100) at a time;\n"
      "pass the printed cursor to get the next page. Pages stay stable while\nsessions come and go." },
    { "session", "ID", "Shows one session held by this node." },
    { "kill", "ID", "Ends a session as CLOSE would: calls in flight are answered, the\nrow is deleted." },
    { "cleanup", "", "Runs one cleanup cycle now and prints its report." },
    { "metrics", "", "Prints the Prometheus text exposition." },
    { "drain", "", "Stops taking new sessions; open ones are still served." },
    { "shutdown", "", "Drains, waits for calls in flight (up to --drain-timeout), exits 0." },
    { "config", "", "Shows every effective setting and where it came from (flag, env,\nfile, default)." },
    { "disable", "tool|resource|template|prompt NAME", "Takes a tool, resource (by URI), resource template (by URI template)\n"
      "or prompt out of every session's lists and requests; sessions hear\nlist_changed." },
    { "enable", "tool|resource|template|prompt NAME", "Puts back what disable took out; sessions hear list_changed." },
    { "upstreams", "", "The MCP servers behind mcpz: state, the MCP era each speaks,\n"
      "instances up, calls in flight, calls, errors, restarts and the last error." },
    { "call", "[--endpoint EP] TOOL [key=value...]", "Opens an MCP session, calls TOOL, prints its text and closes the\n"
      "session. A value that parses as JSON is sent as JSON, else as a string.\n"
      "Exit 1 when the result is a tool error." },
    { "keygen", "PATH", "Makes a CURVE certificate: PATH holds its public key (for a\n"
      "--curve-clients directory, or to give a client mcpzd's key), PATH_secret\n"
      "both keys (for --curve-cert, --node-curve-cert, or a client; mode 0600).\n"
      "Prints the public key. Runs here: no server is asked." },
};
#define COMMANDS (sizeof (s_commands) / sizeof (s_commands [0]))

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: mcpzctl [--control EP] [--json] [--timeout MS] COMMAND [ARG...]\n"
                  "       mcpzctl help COMMAND\n\nCommands:\n");
    for (size_t index = 0; index < COMMANDS; index++) {
        char line [96];
        snprintf (line, sizeof (line), "%s %s", s_commands [index].name, s_commands [index].args);
        const char *help = s_commands [index].help;
        fprintf (out, "  %-40s %.*s\n", line, (int) strcspn (help, "\n"), help);
    }
    fprintf (out, "\nThe control endpoint comes from --control, else MCPZ_CONTROL, else\n"
                  "ipc://.mcpzd/control (mcpzd's default, in its working directory); the\n"
                  "client endpoint of call from --endpoint, else MCPZ_ENDPOINT, else\n"
                  "tcp://127.0.0.1:5555. Output is for people; --json prints the server's\n"
                  "reply as it is. Exit status: 0 ok, 1 refused or failed, 2 bad usage,\n"
                  "3 no answer in time (--timeout, default 5000 ms).\n");
}

//  A new CURVE certificate in PATH and PATH_secret; never over one there
static int
s_keygen (const char *path)
{
    char secret [4096];
    snprintf (secret, sizeof (secret), "%s_secret", path);
    if (access (path, F_OK) == 0 || access (secret, F_OK) == 0) {
        fprintf (stderr, "mcpzctl: %s or %s exists: not overwritten\n", path, secret);
        return 1;
    }
    zcert_t *cert = zcert_new ();
    mode_t mask = umask (077);
    int rc = cert? zcert_save (cert, path): -1;
    umask (mask);
    if (rc == 0 && chmod (path, 0644) == 0)
        printf ("%s\n", zcert_public_txt (cert));
    else
        fprintf (stderr, "mcpzctl: cannot write %s: %s\n", path, strerror (errno));
    zcert_destroy (&cert);
    return rc? 1: 0;
}

static int
s_help (const char *name)
{
    for (size_t index = 0; index < COMMANDS; index++)
        if (streq (s_commands [index].name, name)) {
            printf ("mcpzctl %s %s\n\n%s\n", name, s_commands [index].args, s_commands [index].help);
            return 0;
        }
    fprintf (stderr, "mcpzctl: no command '%s' (see mcpzctl --help)\n", name);
    return 2;
}

//  A value as text for a terminal. Strings come from clients and servers
//  (clientInfo, an upstream's errors): their control bytes are shown as
//  \xNN, never sent to the terminal, where ESC or CR could rewrite what
//  the operator sees.
static char *
s_scalar (json_t *value)
{
    if (!value)
        return strdup ("-");
    if (!json_is_string (value))
        return json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
    const char *text = json_string_value (value);
    size_t size = json_string_length (value);
    char *shown = (char *) malloc (size * 4 + 1);
    char *at = shown;
    for (size_t index = 0; shown && index < size; index++) {
        unsigned char byte = (unsigned char) text [index];
        if (byte < 0x20 || byte == 0x7f)
            at += sprintf (at, "\\x%02x", byte);
        else
            *at++ = (char) byte;
    }
    if (!shown)
        return strdup ("?");
    *at = 0;
    return shown;
}

//  key value lines for the scalars of an object.
static void
s_print_fields (json_t *object, int indent)
{
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) {
        if (streq (key, "ok") || json_is_object (value) || json_is_array (value))
            continue;
        char *text = s_scalar (value);
        printf ("%*s%-18s %s\n", indent, "", key, text);
        free (text);
    }
}

//  The objects inside an object, each as a titled block (one level down:
//  the supervisor's refusals and its HTTP edge).
static void
s_print_nested (json_t *object, int indent)
{
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value)
        if (json_is_object (value)) {
            printf ("%*s%s:\n", indent, "", key);
            s_print_fields (value, indent + 2);
            s_print_nested (value, indent + 2);
        }
}

//  A table of objects: the given columns, widths from the data.
static void
s_print_table (json_t *rows, const char *const *columns, int count)
{
    size_t widths [16] = { 0 };
    for (int column = 0; column < count; column++)
        widths [column] = strlen (columns [column]);
    size_t index;
    json_t *row;
    json_array_foreach (rows, index, row)
        for (int column = 0; column < count; column++) {
            char *text = s_scalar (json_object_get (row, columns [column]));
            if (strlen (text) > widths [column])
                widths [column] = strlen (text);
            free (text);
        }
    //  The last column is not padded: no trailing blanks
    for (int column = 0; column < count; column++)
        printf ("%-*s%s", column + 1 < count? (int) widths [column]: 0, columns [column],
                column + 1 < count? "  ": "\n");
    json_array_foreach (rows, index, row)
        for (int column = 0; column < count; column++) {
            char *text = s_scalar (json_object_get (row, columns [column]));
            printf ("%-*s%s", column + 1 < count? (int) widths [column]: 0, text,
                    column + 1 < count? "  ": "\n");
            free (text);
        }
}

static void
s_print_stats (json_t *reply)
{
    s_print_fields (reply, 0);
    static const char *const hosts [] = { "host", "sessions", "requests", "errors", "overloads",
                                          "inflight", "timeouts", "loading", "store_ops" };
    printf ("\nhosts:\n");
    s_print_table (json_object_get (reply, "hosts"), hosts, 9);
    const char *key;
    json_t *value;
    json_object_foreach (reply, key, value)
        if (json_is_object (value)) {
            printf ("\n%s:\n", key);
            s_print_fields (value, 2);
            s_print_nested (value, 2);
        }
    if (json_array_size (json_object_get (reply, "db"))) {
        static const char *const db [] = { "worker", "connected", "served", "failed", "batches", "busy_ms" };
        printf ("\ndb:\n");
        s_print_table (json_object_get (reply, "db"), db, 6);
    }
}

//  One row per upstream; instances as up/all
static void
s_print_upstreams (json_t *reply)
{
    json_t *table = json_array ();
    size_t index;
    json_t *row;
    json_array_foreach (json_object_get (reply, "upstreams"), index, row) {
        json_t *instances = json_object_get (row, "instances");
        int up = 0;
        size_t at;
        json_t *instance;
        json_array_foreach (instances, at, instance)
            up += streq (json_string_value (json_object_get (instance, "state"))?: "", "up");
        char count [32];
        snprintf (count, sizeof (count), "%d/%zu", up, json_array_size (instances));
        json_array_append_new (table, json_pack ("{s:O,s:O,s:O,s:s,s:O,s:O,s:O,s:O,s:O}",
            "name", json_object_get (row, "name"), "state", json_object_get (row, "state"),
            "era", json_object_get (row, "era"),
            "instances", count, "inflight", json_object_get (row, "inflight"),
            "calls", json_object_get (row, "calls"), "errors", json_object_get (row, "errors"),
            "restarts", json_object_get (row, "restarts"), "last_error", json_object_get (row, "last_error")));
    }
    static const char *const columns [] = { "name", "state", "era", "instances", "inflight", "calls",
                                            "errors", "restarts", "last_error" };
    s_print_table (table, columns, 9);
    json_decref (table);
}

static void
s_print_sessions (json_t *reply)
{
    json_t *rows = json_object_get (reply, "sessions");
    json_t *table = json_array ();
    size_t index;
    json_t *row;
    json_array_foreach (rows, index, row) {
        json_t *client = json_object_get (row, "client");
        char name [160];
        snprintf (name, sizeof (name), "%s %s", json_string_value (json_object_get (client, "name"))?: "?",
                  json_string_value (json_object_get (client, "version"))?: "");
        json_array_append_new (table, json_pack ("{s:O,s:O,s:s,s:I,s:O,s:O}",
            "id", json_object_get (row, "id"), "version", json_object_get (row, "protocol_version"),
            "client", name, "idle_s", json_integer_value (json_object_get (row, "idle_ms")) / 1000,
            "inflight", json_object_get (row, "inflight"), "state", json_object_get (row, "state")));
    }
    static const char *const columns [] = { "id", "version", "client", "idle_s", "inflight", "state" };
    s_print_table (table, columns, 6);
    json_decref (table);
    json_t *cursor = json_object_get (reply, "next_cursor");
    if (json_is_string (cursor))
        printf ("\nmore: mcpzctl sessions %zu %s\n", json_array_size (rows), json_string_value (cursor));
}

static void
s_print_config (json_t *reply)
{
    json_t *rows = json_array ();
    const char *key;
    json_t *setting;
    json_object_foreach (json_object_get (reply, "settings"), key, setting) {
        char *value = s_scalar (json_object_get (setting, "value"));
        json_array_append_new (rows, json_pack ("{s:s,s:s,s:O}", "setting", key, "value", value,
                                                "source", json_object_get (setting, "source")));
        free (value);
    }
    static const char *const columns [] = { "setting", "value", "source" };
    s_print_table (rows, columns, 3);
    json_decref (rows);
}

static void
s_print_reply (const char *command, json_t *reply)
{
    if (streq (command, "stats"))
        s_print_stats (reply);
    else
    if (streq (command, "sessions"))
        s_print_sessions (reply);
    else
    if (streq (command, "config"))
        s_print_config (reply);
    else
    if (streq (command, "metrics"))
        fputs (json_string_value (json_object_get (reply, "text"))?: "", stdout);
    else
    if (streq (command, "cleanup"))
        s_print_fields (json_object_get (reply, "report"), 0);
    else
    if (streq (command, "session")) {
        s_print_fields (reply, 0);
        char *client = json_dumps (json_object_get (reply, "client"), JSON_COMPACT);
        printf ("%-18s %s\n", "client", client? client: "-");
        free (client);
    }
    else
    if (streq (command, "kill"))
        printf ("killed %s\n", json_string_value (json_object_get (reply, "killed")));
    else
    if (streq (command, "drain"))
        printf ("draining: new sessions are refused\n");
    else
    if (streq (command, "shutdown"))
        printf ("shutting down after a drain\n");
    else
    if (streq (command, "upstreams"))
        s_print_upstreams (reply);
    else
    if (streq (command, "disable") || streq (command, "enable"))
        printf ("%s %s %s%s\n", json_string_value (json_object_get (reply, "kind")),
                json_string_value (json_object_get (reply, "name")),
                json_is_true (json_object_get (reply, "enabled"))? "enabled": "disabled",
                json_is_true (json_object_get (reply, "changed"))? "": " already");
    else
        s_print_fields (reply, 0);
}

static int
s_control (options_t *options, int argc, char *argv [])
{
    const char *command = argv [0];
    if (argc > 1 && streq (argv [1], "--help"))
        return s_help (command);
    json_t *request = json_pack ("{s:s}", "command", command);
    if ((streq (command, "session") || streq (command, "kill"))) {
        if (argc < 2) {
            fprintf (stderr, "mcpzctl: %s needs a session id\n", command);
            json_decref (request);
            return 2;
        }
        json_object_set_new (request, "id", json_string (argv [1]));
    }
    if (streq (command, "disable") || streq (command, "enable")) {
        if (argc < 3) {
            fprintf (stderr, "mcpzctl: %s needs tool, resource, template or prompt, then a name\n", command);
            json_decref (request);
            return 2;
        }
        json_object_set_new (request, argv [1], json_string (argv [2]));
    }
    if (streq (command, "sessions")) {
        if (argc > 1)
            json_object_set_new (request, "limit", json_integer (atoi (argv [1])));
        if (argc > 2)
            json_object_set_new (request, "cursor", json_string (argv [2]));
    }
    char *text = json_dumps (request, JSON_COMPACT);
    json_decref (request);
    zsock_t *socket = zsock_new (ZMQ_REQ);
    zsock_set_rcvtimeo (socket, options->timeout);
    zsock_set_linger (socket, 0);
    int rc = 3;
    if (zsock_connect (socket, "%s", options->control) == -1) {
        fprintf (stderr, "mcpzctl: cannot connect to %s\n", options->control);
        rc = 2;
    }
    else
    if (zstr_send (socket, text) == 0) {
        char *reply = zstr_recv (socket);
        json_t *json = reply? json_loads (reply, 0, NULL): NULL;
        if (!reply)
            fprintf (stderr, "mcpzctl: no answer from %s within %d ms\n",
                     options->control, options->timeout);
        else
        if (!json_is_object (json)) {
            fprintf (stderr, "mcpzctl: the server's answer is not JSON\n");
            rc = 1;
        }
        else {
            bool ok = json_is_true (json_object_get (json, "ok"));
            if (options->json)
                printf ("%s\n", reply);
            else
            if (!ok)
                fprintf (stderr, "mcpzctl: %s\n", json_string_value (json_object_get (json, "error")));
            else
                s_print_reply (command, json);
            rc = ok? 0: 1;
        }
        json_decref (json);
        zstr_free (&reply);
    }
    free (text);
    zsock_destroy (&socket);
    return rc;
}

//  --------------------------------------------------------------------------
//  call: a minimal MCPZ/1 client

static int
s_send (zsock_t *socket, const char *command, const char *sid, const char *body)
{
    return zstr_sendx (socket, MCPZ_SIGNATURE, command, sid, body, NULL);
}

//  Receives the next message; returns its body as JSON (new reference) and
//  the kind and session id, or NULL on timeout.
static json_t *
s_recv (zsock_t *socket, char *kind, char *sid)
{
    zmsg_t *msg = zmsg_recv (socket);
    if (!msg)
        return NULL;
    json_t *body = NULL;
    if (zmsg_size (msg) == 5) {
        char *signature = zmsg_popstr (msg);
        char *kind_text = zmsg_popstr (msg);
        char *sid_text = zmsg_popstr (msg);
        zframe_t *event = zmsg_pop (msg);
        zframe_t *frame = zmsg_pop (msg);
        snprintf (kind, 8, "%s", kind_text);
        snprintf (sid, MCPZ_SID_SIZE + 1, "%s", sid_text);
        body = json_loadb ((const char *) zframe_data (frame), zframe_size (frame), 0, NULL);
        zstr_free (&signature);
        zstr_free (&kind_text);
        zstr_free (&sid_text);
        zframe_destroy (&event);
        zframe_destroy (&frame);
    }
    zmsg_destroy (&msg);
    return body;
}

//  Waits for the answer to request id, skipping notifications.
static json_t *
s_answer (zsock_t *socket, int id, char *kind, char *sid)
{
    while (true) {
        json_t *body = s_recv (socket, kind, sid);
        if (!body || !streq (kind, "MSG")
        ||  json_integer_value (json_object_get (body, "id")) == id)
            return body;
        json_decref (body);
    }
}

static json_t *
s_arguments (int argc, char *argv [])
{
    json_t *arguments = json_object ();
    for (int index = 0; index < argc; index++) {
        char *equals = strchr (argv [index], '=');
        if (!equals || equals == argv [index]) {
            fprintf (stderr, "mcpzctl: argument '%s' is not key=value\n", argv [index]);
            json_decref (arguments);
            return NULL;
        }
        *equals = 0;
        json_t *value = json_loads (equals + 1, JSON_DECODE_ANY, NULL);
        json_object_set_new (arguments, argv [index], value? value: json_string (equals + 1));
    }
    return arguments;
}

static int
s_print_result (json_t *answer)
{
    json_t *error = json_object_get (answer, "error");
    if (error) {
        fprintf (stderr, "mcpzctl: error %lld: %s\n",
                 (long long) json_integer_value (json_object_get (error, "code")),
                 json_string_value (json_object_get (error, "message")));
        return 1;
    }
    json_t *result = json_object_get (answer, "result");
    json_t *content = json_object_get (result, "content");
    size_t index;
    json_t *block;
    json_array_foreach (content, index, block)
        if (json_is_string (json_object_get (block, "text")))
            printf ("%s\n", json_string_value (json_object_get (block, "text")));
    bool is_error = json_is_true (json_object_get (result, "isError"));
    return is_error? 1: 0;
}

static int
s_call (options_t *options, int argc, char *argv [])
{
    if (argc < 1) {
        fprintf (stderr, "mcpzctl: call needs a tool name\n");
        return 2;
    }
    json_t *arguments = s_arguments (argc - 1, argv + 1);
    if (!arguments)
        return 2;
    zsock_t *socket = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (socket, options->timeout);
    zsock_set_linger (socket, 100);
    if (zsock_connect (socket, "%s", options->endpoint) == -1) {
        fprintf (stderr, "mcpzctl: cannot connect to %s\n", options->endpoint);
        json_decref (arguments);
        zsock_destroy (&socket);
        return 2;
    }
    char kind [8] = "", sid [MCPZ_SID_SIZE + 1] = "";
    s_send (socket, "MSG", "", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
            "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
            "\"clientInfo\":{\"name\":\"mcpzctl\",\"version\":\"" MCPZ_VERSION "\"}}}");
    json_t *answer = s_answer (socket, 1, kind, sid);
    int rc = 3;
    if (answer && streq (kind, "MSG") && json_object_get (answer, "result")) {
        s_send (socket, "MSG", sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
        json_t *request = json_pack ("{s:s,s:i,s:s,s:{s:s,s:O}}", "jsonrpc", "2.0", "id", 2,
                                     "method", "tools/call", "params", "name", argv [0],
                                     "arguments", arguments);
        char *text = json_dumps (request, JSON_COMPACT);
        s_send (socket, "MSG", sid, text);
        free (text);
        json_decref (request);
        json_decref (answer);
        answer = s_answer (socket, 2, kind, sid);
        if (answer && streq (kind, "MSG"))
            rc = s_print_result (answer);
        s_send (socket, "CLOSE", sid, "");
    }
    if (!answer)
        fprintf (stderr, "mcpzctl: no answer from %s within %d ms\n",
                 options->endpoint, options->timeout);
    else
    if (rc == 3) {
        char *text = json_dumps (answer, JSON_COMPACT);
        fprintf (stderr, "mcpzctl: %s %s\n", kind, text);
        free (text);
        rc = 1;
    }
    json_decref (answer);
    json_decref (arguments);
    zsock_destroy (&socket);
    return rc;
}

int
main (int argc, char *argv [])
{
    zsys_handler_set (NULL);
    options_t options = { getenv ("MCPZ_CONTROL"), getenv ("MCPZ_ENDPOINT"), false, 5000 };
    if (!options.control)
        options.control = "ipc://.mcpzd/control";
    if (!options.endpoint)
        options.endpoint = "tcp://127.0.0.1:5555";
    int index = 1;
    for (; index < argc && strncmp (argv [index], "--", 2) == 0; index++) {
        const char *flag = argv [index];
        bool has_value = index + 1 < argc;
        if (streq (flag, "--help")) {
            s_usage (stdout);
            return 0;
        }
        else
        if (streq (flag, "--json"))
            options.json = true;
        else
        if (streq (flag, "--control") && has_value)
            options.control = argv [++index];
        else
        if (streq (flag, "--endpoint") && has_value)
            options.endpoint = argv [++index];
        else
        if (streq (flag, "--timeout") && has_value && atoi (argv [index + 1]) > 0)
            options.timeout = atoi (argv [++index]);
        else {
            fprintf (stderr, "mcpzctl: bad flag '%s' (see mcpzctl --help)\n", flag);
            return 2;
        }
    }
    if (index == argc) {
        s_usage (stderr);
        return 2;
    }
    if (streq (argv [index], "help"))
        return index + 1 < argc? s_help (argv [index + 1]): (s_usage (stdout), 0);
    if (streq (argv [index], "keygen"))
        return index + 2 == argc? s_keygen (argv [index + 1]): s_help ("keygen") + 2;
    if (streq (argv [index], "call")) {
        if (index + 1 < argc && streq (argv [index + 1], "--help"))
            return s_help ("call");
        //  call takes its own flags after the command word too
        index++;
        for (; index + 1 < argc && strncmp (argv [index], "--", 2) == 0; index += 2) {
            if (streq (argv [index], "--endpoint"))
                options.endpoint = argv [index + 1];
            else
            if (streq (argv [index], "--timeout") && atoi (argv [index + 1]) > 0)
                options.timeout = atoi (argv [index + 1]);
            else {
                fprintf (stderr, "mcpzctl: bad flag '%s' for call\n", argv [index]);
                return 2;
            }
        }
        int rc = s_call (&options, argc - index, argv + index);
        zsys_shutdown ();
        return rc;
    }
    int rc = s_control (&options, argc - index, argv + index);
    zsys_shutdown ();
    return rc;
}
