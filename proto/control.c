/*  control — operator control protocol. See control.h and spec/control.md. */
#include "proto/control.h"
#include "proto/jsonw.h"
#include "proto/prelude.h"
#include "proto/mcpz.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const s_names [CONTROL_COMMANDS] = {
    "stats", "sessions", "session", "kill", "cleanup", "metrics", "drain",
    "shutdown", "config", "disable", "enable", "upstreams"
};

//  What disable and enable name: exactly one of these arguments
static const char *const s_kinds [] = { "tool", "resource", "template", "prompt" };

const char *
control_command_name (control_command_t command)
{
    assert (command < CONTROL_COMMANDS);
    return s_names [command];
}

static int
s_error (char *error, size_t error_size, const char *format, const char *arg)
{
    snprintf (error, error_size, format, arg);
    return -1;
}

//  The session id argument of session and kill.
static int
s_parse_id (json_t *root, control_request_t *request, char *error, size_t error_size)
{
    json_t *id = json_object_get (root, "id");
    if (!json_is_string (id))
        return s_error (error, error_size, "%s needs \"id\": a session id string", request->name);
    if (!mcpz_sid_valid (json_string_value (id), json_string_length (id)))
        return s_error (error, error_size, "%s: \"id\" is not a session id (32 lowercase hex)", request->name);
    memcpy (request->id, json_string_value (id), MCPZ_SID_SIZE + 1);
    return 0;
}

static int
s_parse_target (json_t *root, control_request_t *request, char *error, size_t error_size)
{
    for (size_t index = 0; index < sizeof (s_kinds) / sizeof (s_kinds [0]); index++) {
        json_t *value = json_object_get (root, s_kinds [index]);
        if (!value)
            continue;
        if (request->kind)
            return s_error (error, error_size, "%s names one of tool, resource, template, prompt", request->name);
        if (!json_is_string (value) || json_string_length (value) == 0
        ||  json_string_length (value) >= sizeof (request->target))
            return s_error (error, error_size, "%s: the name must be a string of 1 to 1023 bytes", request->name);
        request->kind = s_kinds [index];
        strcpy (request->target, json_string_value (value));
    }
    if (!request->kind)
        return s_error (error, error_size, "%s needs one of \"tool\", \"resource\", \"template\", \"prompt\"",
                        request->name);
    return 0;
}

static int
s_parse_page (json_t *root, control_request_t *request, char *error, size_t error_size)
{
    json_t *limit = json_object_get (root, "limit");
    json_t *cursor = json_object_get (root, "cursor");
    request->limit = 100;
    if (limit) {
        if (!json_is_integer (limit) || json_integer_value (limit) < 1
        ||  json_integer_value (limit) > 1000)
            return s_error (error, error_size, "%s: \"limit\" must be an integer 1..1000", request->name);
        request->limit = (int) json_integer_value (limit);
    }
    if (cursor && !json_is_null (cursor)) {
        if (!json_is_string (cursor) || json_string_length (cursor) >= sizeof (request->cursor))
            return s_error (error, error_size, "%s: \"cursor\" must be a cursor string from a previous reply", request->name);
        strcpy (request->cursor, json_string_value (cursor));
    }
    return 0;
}

int
control_parse (const char *data, size_t size, control_request_t *request,
               char *error, size_t error_size)
{
    memset (request, 0, sizeof (*request));
    json_t *root = json_loadb (data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!root)
        return s_error (error, error_size, "request is not JSON%s", "");
    int rc = 0;
    json_t *command = json_object_get (root, "command");
    if (!json_is_object (root))
        rc = s_error (error, error_size, "request must be a JSON object%s", "");
    else
    if (!json_is_string (command))
        rc = s_error (error, error_size, "request needs \"command\": a string%s", "");
    else {
        const char *name = json_string_value (command);
        request->command = CONTROL_COMMANDS;
        for (int index = 0; index < CONTROL_COMMANDS; index++)
            if (streq (name, s_names [index]))
                request->command = (control_command_t) index;
        if (request->command == CONTROL_COMMANDS) {
            //  Cut on a character: a reply holding half of one is no JSON
            char shown [72];
            size_t cut = jsonw_utf8_prefix (name, strlen (name), 64);
            memcpy (shown, name, cut);
            shown [cut] = 0;
            rc = s_error (error, error_size, "unknown command \"%s\"", shown);
        }
        else {
            request->name = s_names [request->command];
            if (request->command == CONTROL_SESSION || request->command == CONTROL_KILL)
                rc = s_parse_id (root, request, error, error_size);
            else
            if (request->command == CONTROL_SESSIONS)
                rc = s_parse_page (root, request, error, error_size);
            else
            if (request->command == CONTROL_DISABLE || request->command == CONTROL_ENABLE)
                rc = s_parse_target (root, request, error, error_size);
        }
    }
    json_decref (root);
    return rc;
}

char *
control_reply_ok (json_t *fields, size_t *size_p)
{
    json_t *reply = json_pack ("{s:b}", "ok", 1);
    if (!reply)
        return NULL;
    if (fields)
        json_object_update (reply, fields);
    json_object_set_new (reply, "ok", json_true ());
    char *text = json_dumps (reply, JSON_COMPACT);
    json_decref (reply);
    if (text && size_p)
        *size_p = strlen (text);
    return text;
}

char *
control_reply_error (const char *error, size_t *size_p)
{
    json_t *reply = json_pack ("{s:b,s:s}", "ok", 0, "error", error);
    char *text = reply? json_dumps (reply, JSON_COMPACT): NULL;
    json_decref (reply);
    if (text && size_p)
        *size_p = strlen (text);
    return text;
}

//  --------------------------------------------------------------------------
//  Self-test

static int
s_parse (const char *text, control_request_t *request, char *error)
{
    return control_parse (text, strlen (text), request, error, 128);
}

void
control_test (bool verbose)
{
    printf (" * control: ");
    control_request_t request;
    char error [128];
    assert (s_parse ("{\"command\":\"stats\"}", &request, error) == 0);
    assert (request.command == CONTROL_STATS);
    //  An unknown name is quoted back cut on a character, never inside one
    char name [80];
    memset (name, 'a', 63);
    strcpy (name + 63, "\xc3\xa9\xc3\xa9");
    char body [160];
    snprintf (body, sizeof (body), "{\"command\":\"%s\"}", name);
    assert (s_parse (body, &request, error) != 0);
    json_t *checked = json_string (error);
    assert (checked && strstr (error, "aaa\"") && !strstr (error, "\xc3"));
    json_decref (checked);
    assert (s_parse ("{\"command\":\"shutdown\",\"extra\":1}", &request, error) == 0);
    assert (request.command == CONTROL_SHUTDOWN);
    assert (s_parse ("{\"command\":\"sessions\"}", &request, error) == 0);
    assert (request.limit == 100 && request.cursor [0] == 0);
    assert (s_parse ("{\"command\":\"sessions\",\"limit\":5,\"cursor\":\"abc\"}", &request, error) == 0);
    assert (request.limit == 5 && streq (request.cursor, "abc"));
    assert (s_parse ("{\"command\":\"kill\",\"id\":\"0123456789abcdef0123456789abcdef\"}", &request, error) == 0);
    assert (streq (request.id, "0123456789abcdef0123456789abcdef"));
    assert (s_parse ("{\"command\":\"disable\",\"tool\":\"echo\"}", &request, error) == 0);
    assert (request.command == CONTROL_DISABLE && streq (request.kind, "tool") && streq (request.target, "echo"));
    assert (s_parse ("{\"command\":\"enable\",\"template\":\"a/{b}\"}", &request, error) == 0);
    assert (streq (request.kind, "template"));
    assert (s_parse ("{\"command\":\"disable\"}", &request, error) == -1 && strstr (error, "tool"));
    assert (s_parse ("{\"command\":\"disable\",\"tool\":\"a\",\"prompt\":\"b\"}", &request, error) == -1);
    assert (s_parse ("{\"command\":\"disable\",\"tool\":\"\"}", &request, error) == -1);
    assert (s_parse ("{\"command\":\"disable\",\"tool\":3}", &request, error) == -1);

    assert (s_parse ("not json", &request, error) == -1 && strstr (error, "not JSON"));
    assert (s_parse ("[1]", &request, error) == -1 && strstr (error, "object"));
    assert (s_parse ("{}", &request, error) == -1 && strstr (error, "command"));
    assert (s_parse ("{\"command\":7}", &request, error) == -1);
    assert (s_parse ("{\"command\":\"fly\"}", &request, error) == -1 && strstr (error, "fly"));
    assert (s_parse ("{\"command\":\"kill\"}", &request, error) == -1 && strstr (error, "id"));
    assert (s_parse ("{\"command\":\"session\",\"id\":\"xyz\"}", &request, error) == -1);
    assert (s_parse ("{\"command\":\"sessions\",\"limit\":0}", &request, error) == -1);
    assert (s_parse ("{\"command\":\"sessions\",\"limit\":\"5\"}", &request, error) == -1);
    assert (s_parse ("{\"command\":\"sessions\",\"cursor\":5}", &request, error) == -1);

    json_t *fields = json_pack ("{s:i,s:b}", "sessions", 3, "ok", 0);
    char *text = control_reply_ok (fields, NULL);
    assert (streq (text, "{\"ok\":true,\"sessions\":3}"));
    free (text);
    json_decref (fields);
    text = control_reply_error ("bad \"x\"", NULL);
    assert (streq (text, "{\"ok\":false,\"error\":\"bad \\\"x\\\"\"}"));
    free (text);
    for (int index = 0; index < CONTROL_COMMANDS; index++)
        assert (control_command_name ((control_command_t) index));
    printf ("OK\n");
}
