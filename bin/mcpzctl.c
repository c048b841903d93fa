/*  mcpzctl — the operator's command-line client, and a quick MCP client.

    mcpzctl [--control EP] [--json] [--timeout MS] COMMAND [ARG...]
    mcpzctl call [--endpoint EP] [--timeout MS] TOOL [key=value...]
*/
#include "proto/mcpz.h"

#include <czmq.h>
#include <jansson.h>

typedef struct {
    const char *control;        //  control endpoint
    const char *endpoint;       //  client endpoint, for call
    bool json;                  //  print raw JSON
    int timeout;                //  ms to wait for any answer
} options_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: mcpzctl [--control EP] [--json] [--timeout MS] COMMAND [ARG...]\n"
        "       mcpzctl call [--endpoint EP] [--timeout MS] TOOL [key=value...]\n\n"
        "Control commands (spec/control.md):\n"
        "  stats                 figures of the node\n"
        "  sessions [LIMIT [CURSOR]]  list sessions, a page at a time\n"
        "  session ID            one session\n"
        "  kill ID               end a session\n"
        "  cleanup               run one cleanup cycle now\n"
        "  metrics               Prometheus text\n"
        "  drain                 stop taking new sessions\n"
        "  shutdown              drain, then exit\n"
        "  call TOOL [k=v...]    open an MCP session, call TOOL, print its result;\n"
        "                        a value that parses as JSON is sent as JSON\n\n"
        "The control endpoint comes from --control, else MCPZ_CONTROL, else\n"
        "ipc://mcpzd.ctl; the client endpoint from --endpoint, else MCPZ_ENDPOINT,\n"
        "else tcp://127.0.0.1:5555. Exit status: 0 ok, 1 refused or failed,\n"
        "2 bad usage, 3 no answer in time.\n");
}

//  Prints a value for people: scalars as they are, objects as key/value
//  lines, arrays of objects as one line per element.
static void
s_print_human (json_t *value, int indent)
{
    const char *key;
    json_t *item;
    if (json_is_object (value)) {
        json_object_foreach (value, key, item) {
            if (streq (key, "ok"))
                continue;
            if (json_is_object (item) || json_is_array (item)) {
                printf ("%*s%s:\n", indent, "", key);
                s_print_human (item, indent + 2);
            }
            else {
                char *text = json_dumps (item, JSON_ENCODE_ANY);
                printf ("%*s%-16s %s\n", indent, "", key,
                        json_is_string (item)? json_string_value (item): text);
                free (text);
            }
        }
    }
    else
    if (json_is_array (value)) {
        size_t index;
        json_array_foreach (value, index, item) {
            char *text = json_dumps (item, JSON_COMPACT | JSON_ENCODE_ANY);
            printf ("%*s%s\n", indent, "", text);
            free (text);
        }
    }
}

static int
s_control (options_t *options, int argc, char *argv [])
{
    const char *command = argv [0];
    json_t *request = json_pack ("{s:s}", "command", command);
    if ((streq (command, "session") || streq (command, "kill"))) {
        if (argc < 2) {
            fprintf (stderr, "mcpzctl: %s needs a session id\n", command);
            return 2;
        }
        json_object_set_new (request, "id", json_string (argv [1]));
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
            json_t *metrics = json_object_get (json, "text");
            if (options->json)
                printf ("%s\n", reply);
            else
            if (!ok)
                fprintf (stderr, "mcpzctl: %s\n", json_string_value (json_object_get (json, "error")));
            else
            if (json_is_string (metrics))
                fputs (json_string_value (metrics), stdout);
            else
                s_print_human (json, 0);
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
        options.control = "ipc://mcpzd.ctl";
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
    if (streq (argv [index], "call")) {
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
