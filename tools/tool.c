/*  tool — tool calls and the tool table. See tool.h. */
#include "tools/tool.h"
#include "proto/jsonrpc.h"
#include "proto/mcp.h"

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
//  The table: a handful of tools, so a linear search beats hashing.

#define TOOL_TABLE_MAX 256

struct _tool_table_t {
    const tool_def_t *defs [TOOL_TABLE_MAX];    //  registered tools, static data
    size_t size;                                //  how many
    char *list;                                 //  cached tools/list result
};

tool_table_t *
tool_table_new (void)
{
    return (tool_table_t *) calloc (1, sizeof (tool_table_t));
}

void
tool_table_destroy (tool_table_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->list);
        free (*self_p);
        *self_p = NULL;
    }
}

int
tool_table_add (tool_table_t *self, const tool_def_t *def)
{
    json_t *schema = json_loads (def->input_schema, 0, NULL);
    bool valid = json_is_object (schema);
    json_decref (schema);
    if (!valid || tool_table_find (self, def->name) || self->size == TOOL_TABLE_MAX)
        return -1;
    self->defs [self->size++] = def;
    free (self->list);
    self->list = NULL;
    return 0;
}

const tool_def_t *
tool_table_find (tool_table_t *self, const char *name)
{
    for (size_t index = 0; index < self->size; index++)
        if (streq (self->defs [index]->name, name))
            return self->defs [index];
    return NULL;
}

const char *
tool_table_list (tool_table_t *self)
{
    if (self->list)
        return self->list;
    json_t *tools = json_array ();
    for (size_t index = 0; index < self->size; index++) {
        const tool_def_t *def = self->defs [index];
        json_array_append_new (tools, json_pack ("{s:s,s:s,s:o}",
            "name", def->name, "description", def->description,
            "inputSchema", json_loads (def->input_schema, 0, NULL)));
    }
    json_t *result = json_pack ("{s:o}", "tools", tools);
    self->list = json_dumps (result, JSON_COMPACT);
    json_decref (result);
    return self->list;
}

size_t
tool_table_size (tool_table_t *self)
{
    return self->size;
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
        "twice", "doubles n", "{\"type\":\"object\"}", true, 0, s_twice
    };
    static const tool_def_t broken = {
        "broken", "bad schema", "[]", true, 0, s_twice
    };
    tool_table_t *table = tool_table_new ();
    assert (tool_table_add (table, &twice) == 0);
    assert (tool_table_add (table, &twice) == -1);
    assert (tool_table_add (table, &broken) == -1);
    assert (tool_table_size (table) == 1);
    assert (tool_table_find (table, "twice") == &twice);
    assert (tool_table_find (table, "thrice") == NULL);
    const char *list = tool_table_list (table);
    assert (streq (list, "{\"tools\":[{\"name\":\"twice\",\"description\":\"doubles n\","
                         "\"inputSchema\":{\"type\":\"object\"}}]}"));

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
    tool_table_destroy (&table);
    assert (!table);
    printf ("OK\n");
}
