/*  tool — the context of a provider request and its outcomes. See tool.h. */
#include "tools/tool.h"
#include "proto/jsonrpc.h"
#include "proto/mcp.h"
#include "tools/content.h"

#include <assert.h>
#include <czmq.h>

void
tool_call_text (tool_call_t *self, const char *text, bool is_error,
                json_t *structured)
{
    tool_call_clear (self);
    self->result = mcp_text_result (text, is_error, structured);
    if (!self->result)
        tool_call_fail (self, JSONRPC_INTERNAL_ERROR, "out of memory");
}

//  Sets a result object as the outcome (taken)
static void
s_result (tool_call_t *self, json_t *result)
{
    tool_call_clear (self);
    self->result = result? json_dumps (result, JSON_COMPACT): NULL;
    json_decref (result);
    if (!self->result)
        tool_call_fail (self, JSONRPC_INTERNAL_ERROR, "out of memory");
}

void
tool_call_content (tool_call_t *self, json_t *content, json_t *structured, bool is_error)
{
    if (!json_is_array (content)) {
        json_decref (content);
        tool_call_fail (self, JSONRPC_INTERNAL_ERROR, "a tool result needs an array of content");
        return;
    }
    json_t *result = json_pack ("{s:o}", "content", content);
    if (result && structured) {
        //  Clients that read only content see the same data as text
        char *text = json_dumps (structured, JSON_COMPACT | JSON_ENCODE_ANY);
        json_array_append_new (content, content_text (text));
        free (text);
        json_object_set (result, "structuredContent", structured);
    }
    if (result && is_error)
        json_object_set_new (result, "isError", json_true ());
    s_result (self, result);
}

//  Wraps what was given (taken) as the one field of a result object; NULL
//  when it is not an array
static json_t *
s_wrap (const char *key, json_t *array)
{
    if (json_is_array (array))
        return json_pack ("{s:o}", key, array);
    json_decref (array);
    return NULL;
}

void
tool_call_contents (tool_call_t *self, json_t *contents)
{
    s_result (self, s_wrap ("contents", contents));
}

void
tool_call_messages (tool_call_t *self, const char *description, json_t *messages)
{
    json_t *result = s_wrap ("messages", messages);
    if (result && description)
        json_object_set_new (result, "description", json_string (description));
    s_result (self, result);
}

//  The spec's cap on values in one completion
#define COMPLETION_MAX 100

void
tool_call_completions (tool_call_t *self, json_t *values)
{
    size_t total = json_array_size (values);
    while (json_array_size (values) > COMPLETION_MAX)
        json_array_remove (values, COMPLETION_MAX);
    json_t *completion = s_wrap ("values", values);
    if (completion) {
        json_object_set_new (completion, "total", json_integer ((json_int_t) total));
        json_object_set_new (completion, "hasMore", json_boolean (total > COMPLETION_MAX));
    }
    s_result (self, completion? json_pack ("{s:o}", "completion", completion): NULL);
}

void
tool_call_bad_argument (tool_call_t *self, const char *format, ...)
{
    char text [256];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof (text), format, args);
    va_end (args);
    tool_call_text (self, text, true, NULL);
}

void
tool_call_fail (tool_call_t *self, int code, const char *message)
{
    tool_call_clear (self);
    self->error_code = code;
    self->error_message = strdup (message);
}

void
tool_call_progress (tool_call_t *self, double progress, double total,
                    const char *message)
{
    if (self->progress)
        self->progress (self, progress, total, message);
}

void
tool_call_log (tool_call_t *self, const char *level, const char *logger,
               const char *message)
{
    if (self->log)
        self->log (self, level, logger, message);
}

bool
tool_call_wait (tool_call_t *self, int ms)
{
    //  An inline tool must never wait; treat it as a programming error
    assert (self->wait);
    return self->wait (self, ms);
}

json_t *
tool_call_ask (tool_call_t *self, const char *method, json_t *params,
               int *code_p, char **message_p)
{
    if (self->ask)
        return self->ask (self, method, params, code_p, message_p);
    *code_p = JSONRPC_INTERNAL_ERROR;
    *message_p = strdup ("inline code cannot ask the client");
    return NULL;
}

void
tool_call_resource_updated (tool_call_t *self, const char *uri)
{
    if (self->notify)
        self->notify (self, "UPDATED", uri);
}

void
tool_call_detach (tool_call_t *self)
{
    if (self->notify)
        self->notify (self, "DETACH", "");
}

bool
tool_call_roots_changed (tool_call_t *self)
{
    bool changed = self->roots_changed;
    self->roots_changed = false;
    return changed;
}

void
tool_call_clear (tool_call_t *self)
{
    free (self->result);
    free (self->error_message);
    self->result = NULL;
    self->error_message = NULL;
    self->error_code = 0;
}

bool
tool_arg_string (tool_call_t *self, const char *name, const char **value_p)
{
    json_t *value = json_object_get (self->arguments, name);
    if (!json_is_string (value)) {
        tool_call_bad_argument (self, "argument '%s' must be a string", name);
        return false;
    }
    *value_p = json_string_value (value);
    return true;
}

bool
tool_arg_integer (tool_call_t *self, const char *name, long min, long max,
                  long *value_p)
{
    json_t *value = json_object_get (self->arguments, name);
    if (!json_is_integer (value)
    ||  json_integer_value (value) < min || json_integer_value (value) > max) {
        tool_call_bad_argument (self, "argument '%s' must be an integer from %ld to %ld",
                                name, min, max);
        return false;
    }
    *value_p = (long) json_integer_value (value);
    return true;
}

//  --------------------------------------------------------------------------
//  Self-test

static void
s_twice (tool_call_t *call)
{
    long n;
    if (tool_arg_integer (call, "n", 0, 100, &n)) {
        char text [32];
        snprintf (text, sizeof (text), "%ld", 2 * n);
        tool_call_text (call, text, false, NULL);
    }
}

void
tool_test (bool verbose)
{
    printf (" * tool: ");
    static const tool_def_t twice = {
        .name = "twice", .description = "doubles n", .input_schema = "{\"type\":\"object\"}",
        .is_inline = true, .call = s_twice
    };
    tool_call_t call = { 0 };
    call.arguments = json_pack ("{s:i}", "n", 21);
    twice.call (&call);
    assert (call.result && strstr (call.result, "\"text\":\"42\""));
    assert (!strstr (call.result, "isError"));
    tool_call_clear (&call);
    json_decref (call.arguments);
    call.arguments = json_pack ("{s:s}", "n", "x");
    twice.call (&call);
    assert (call.result && strstr (call.result, "\"isError\":true"));
    assert (strstr (call.result, "'n'"));
    tool_call_fail (&call, -32603, "boom");
    assert (!call.result && call.error_code == -32603);
    tool_call_clear (&call);
    json_decref (call.arguments);

    //  Content blocks and structured content, as one result
    json_t *structured = json_pack ("{s:i}", "n", 1);
    tool_call_content (&call, json_pack ("[o]", content_image ("AAAA", "image/png")), structured, false);
    json_decref (structured);
    assert (call.result && strstr (call.result, "\"type\":\"image\"")
            && strstr (call.result, "{\"type\":\"text\",\"text\":\"{\\\"n\\\":1}\"}")
            && strstr (call.result, "\"structuredContent\":{\"n\":1}"));
    tool_call_content (&call, json_object (), NULL, false);
    assert (!call.result && call.error_code == -32603);
    json_t *values = json_array ();
    for (int index = 0; index < 150; index++)
        json_array_append_new (values, json_string ("v"));
    tool_call_completions (&call, values);
    assert (strstr (call.result, "\"total\":150,\"hasMore\":true"));
    int code;
    char *message;
    assert (!tool_call_ask (&call, "roots/list", NULL, &code, &message) && code == -32603);
    free (message);
    tool_call_clear (&call);
    printf ("OK\n");
}
