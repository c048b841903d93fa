/*  demo — echo, add, sleep, progress, fail, roots, touch (spec/control.md). */
#include "tools/demo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_echo (tool_call_t *call)
{
    const char *text;
    if (tool_arg_string (call, "text", &text))
        tool_call_text (call, text, false, NULL);
}

static bool
s_number (tool_call_t *call, const char *name, json_t **value_p)
{
    *value_p = json_object_get (call->arguments, name);
    if (json_is_number (*value_p))
        return true;
    tool_call_bad_argument (call, "argument '%s' must be a number", name);
    return false;
}

//  The fewest digits that read back as the same double: 0.1 + 0.2 prints
//  as 0.30000000000000004, 0.5 as 0.5.
static void
s_shortest (double value, char *text, size_t size)
{
    for (int precision = 1; precision <= 17; precision++) {
        snprintf (text, size, "%.*g", precision, value);
        if (strtod (text, NULL) == value)
            return;
    }
}

static void
s_add (tool_call_t *call)
{
    json_t *a, *b;
    if (!s_number (call, "a", &a) || !s_number (call, "b", &b))
        return;
    json_t *sum;
    json_int_t total;
    if (json_is_integer (a) && json_is_integer (b)
    &&  !__builtin_add_overflow (json_integer_value (a), json_integer_value (b), &total))
        sum = json_integer (total);
    else {
        double value = json_number_value (a) + json_number_value (b);
        if (!isfinite (value)) {
            tool_call_bad_argument (call, "the sum of 'a' and 'b' is out of range");
            return;
        }
        sum = json_real (value);
    }
    char text [40];
    if (json_is_integer (sum))
        snprintf (text, sizeof (text), "%" JSON_INTEGER_FORMAT, json_integer_value (sum));
    else
        s_shortest (json_real_value (sum), text, sizeof (text));
    json_t *structured = json_pack ("{s:o}", "sum", sum);
    tool_call_text (call, text, false, structured);
    json_decref (structured);
}

static void
s_sleep (tool_call_t *call)
{
    long ms;
    if (!tool_arg_integer (call, "ms", 0, 600000, &ms))
        return;
    char note [64];
    snprintf (note, sizeof (note), "sleeping %ld ms", ms);
    tool_call_log (call, "debug", "sleep", note);
    if (!tool_call_wait (call, (int) ms))
        return;                 //  cancelled: nobody reads an answer
    char text [64];
    snprintf (text, sizeof (text), "slept %ld ms", ms);
    tool_call_text (call, text, false, NULL);
}

static void
s_progress (tool_call_t *call)
{
    long steps, interval;
    if (!tool_arg_integer (call, "steps", 1, 1000, &steps)
    ||  !tool_arg_integer (call, "interval_ms", 0, 60000, &interval))
        return;
    for (long step = 1; step <= steps; step++) {
        if (!tool_call_wait (call, (int) interval))
            return;
        char message [64];
        snprintf (message, sizeof (message), "step %ld/%ld", step, steps);
        tool_call_progress (call, (double) step, (double) steps, message);
    }
    char text [64];
    snprintf (text, sizeof (text), "done %ld steps", steps);
    tool_call_log (call, "info", "progress", text);
    tool_call_text (call, text, false, NULL);
}

static void
s_fail (tool_call_t *call)
{
    json_t *message = json_object_get (call->arguments, "message");
    if (message && !json_is_string (message)) {
        tool_call_bad_argument (call, "argument 'message' must be a string");
        return;
    }
    const char *text = message? json_string_value (message): "failure requested";
    tool_call_log (call, "error", "fail", text);
    tool_call_text (call, text, true, NULL);
}

//  Asks the client for its roots; with watch_ms, waits that long for the
//  client to say they changed, and asks again when it does
static void
s_roots (tool_call_t *call)
{
    long watch = 0;
    if (json_object_get (call->arguments, "watch_ms")
    &&  !tool_arg_integer (call, "watch_ms", 0, 600000, &watch))
        return;
    int code;
    char *message = NULL;
    json_t *roots = tool_call_ask (call, "roots/list", NULL, &code, &message);
    if (roots && watch) {
        bool changed = false;
        for (long waited = 0; waited < watch && !(changed = tool_call_roots_changed (call)); waited += 10)
            if (!tool_call_wait (call, 10)) {
                json_decref (roots);
                return;         //  cancelled: nobody reads an answer
            }
        if (changed) {
            json_decref (roots);
            roots = tool_call_ask (call, "roots/list", NULL, &code, &message);
        }
    }
    if (!roots) {
        tool_call_text (call, message? message: "roots/list failed", true, NULL);
        free (message);
        return;
    }
    tool_call_content (call, json_pack ("[]"), roots, false);
    json_decref (roots);
}

static void
s_touch (tool_call_t *call)
{
    const char *uri;
    if (!tool_arg_string (call, "uri", &uri))
        return;
    tool_call_resource_updated (call, uri);
    tool_call_text (call, uri, false, NULL);
}

static const tool_def_t s_tools [] = {
    { .name = "echo", .description = "Returns the given text unchanged.",
      .input_schema =
      "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
      "\"required\":[\"text\"]}",
      .is_inline = true, .call = s_echo },
    { .name = "add", .description = "Adds two numbers.",
      .input_schema =
      "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},"
      "\"b\":{\"type\":\"number\"}},\"required\":[\"a\",\"b\"]}",
      .is_inline = true, .call = s_add, .title = "Add",
      .output_schema = "{\"type\":\"object\",\"properties\":{\"sum\":{\"type\":\"number\"}},"
                       "\"required\":[\"sum\"]}",
      .read_only = HINT_TRUE, .idempotent = HINT_TRUE, .open_world = HINT_FALSE },
    { .name = "sleep", .description = "Waits ms milliseconds, then answers.",
      .input_schema =
      "{\"type\":\"object\",\"properties\":{\"ms\":{\"type\":\"integer\","
      "\"minimum\":0,\"maximum\":600000}},\"required\":[\"ms\"]}",
      .is_inline = false, .call = s_sleep },
    { .name = "progress", .description = "Reports progress steps times, interval_ms apart.",
      .input_schema =
      "{\"type\":\"object\",\"properties\":{\"steps\":{\"type\":\"integer\","
      "\"minimum\":1,\"maximum\":1000},\"interval_ms\":{\"type\":\"integer\","
      "\"minimum\":0,\"maximum\":60000}},\"required\":[\"steps\",\"interval_ms\"]}",
      .is_inline = false, .call = s_progress },
    { .name = "fail", .description = "Answers with a tool error carrying message.",
      .input_schema =
      "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\"}}}",
      .is_inline = true, .call = s_fail },
    { .name = "roots", .description = "Lists the client's roots (roots/list); with watch_ms, "
                                      "waits for them to change and lists them again.",
      .input_schema =
      "{\"type\":\"object\",\"properties\":{\"watch_ms\":{\"type\":\"integer\","
      "\"minimum\":0,\"maximum\":600000}}}",
      .call = s_roots, .read_only = HINT_TRUE },
    { .name = "touch", .description = "Tells the sessions that subscribed to the resource at uri "
                                      "that it changed.",
      .input_schema =
      "{\"type\":\"object\",\"properties\":{\"uri\":{\"type\":\"string\"}},"
      "\"required\":[\"uri\"]}",
      .call = s_touch, .idempotent = HINT_TRUE },
};

int
demo_register (catalog_t *table)
{
    for (size_t index = 0; index < sizeof (s_tools) / sizeof (s_tools [0]); index++)
        if (catalog_add_tool (table, &s_tools [index]))
            return -1;
    return 0;
}
