/*  tool — the interface between mcpz and tool code, and the table of tools.

    A provider fills tool_def_t rows (static data) and registers them before
    the actors start; the table is read-only afterwards and shared by every
    thread. A tool function gets a tool_call_t: its arguments, a way to
    report progress, a way to wait that ends early on cancellation, and the
    slots for its outcome. The runner (a tool worker, or a session host for
    inline tools) implements the hooks.
*/
#ifndef MCPZ_TOOL_H
#define MCPZ_TOOL_H

#include <jansson.h>
#include <stdbool.h>

typedef struct _tool_call_t tool_call_t;

typedef struct {
    const char *name;
    const char *description;
    const char *input_schema;       //  JSON Schema text of the arguments
    //  Inline tools run on the session host, saving two thread hops (~50 µs)
    //  per call. Only for tools that finish in microseconds and never wait:
    //  an inline tool that blocked would stall every session on its host.
    bool is_inline;
    int timeout_ms;                 //  deadline override; 0 = server default
    void (*call) (tool_call_t *call);
} tool_def_t;

struct _tool_call_t {
    json_t *arguments;              //  borrowed; an object, maybe empty
    //  Runner hooks; inline runners leave wait NULL (inline tools never wait)
    void (*progress) (tool_call_t *self, double progress, double total,
                      const char *message);
    bool (*wait) (tool_call_t *self, int ms);
    void (*log) (tool_call_t *self, const char *level, const char *logger,
                 const char *message);
    void *runner;                   //  the runner's own context
    //  Outcome, set through the functions below
    char *result;                   //  CallToolResult JSON text, owned
    int error_code;                 //  JSON-RPC error when result is NULL
    char *error_message;            //  owned
};

//  Outcome: a CallToolResult with one text block.
void
    tool_call_text (tool_call_t *self, const char *text, bool is_error,
                    json_t *structured);

//  Outcome: a failed argument check, answered as a tool error (isError) so
//  the model that made the call can read what was wrong and try again.
void
    tool_call_bad_argument (tool_call_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Outcome: a JSON-RPC error instead of a result.
void
    tool_call_fail (tool_call_t *self, int code, const char *message);

void
    tool_call_progress (tool_call_t *self, double progress, double total,
                        const char *message);

//  Sends notifications/message to the caller when its session's
//  logging/setLevel allows level (an MCP level: debug, info, notice,
//  warning, error, critical, alert, emergency).
void
    tool_call_log (tool_call_t *self, const char *level, const char *logger,
                   const char *message);

//  Waits up to ms; returns false as soon as the call is cancelled.
bool
    tool_call_wait (tool_call_t *self, int ms);

//  Frees the outcome strings; the call struct itself belongs to the runner.
void
    tool_call_clear (tool_call_t *self);

//  Helpers for argument checks: each returns true and sets *value_p when the
//  named argument is present and well-typed, else records a bad-argument
//  outcome and returns false.
bool
    tool_arg_string (tool_call_t *self, const char *name, const char **value_p);
bool
    tool_arg_integer (tool_call_t *self, const char *name, long min, long max,
                      long *value_p);

typedef struct _tool_table_t tool_table_t;

tool_table_t *
    tool_table_new (void);

void
    tool_table_destroy (tool_table_t **self_p);

//  def is static data, not copied. Returns -1 on a duplicate name or a
//  schema that is not a JSON object.
int
    tool_table_add (tool_table_t *self, const tool_def_t *def);

const tool_def_t *
    tool_table_find (tool_table_t *self, const char *name);

//  The tools/list result text, built once. Call after the last add.
const char *
    tool_table_list (tool_table_t *self);

size_t
    tool_table_size (tool_table_t *self);

void
    tool_test (bool verbose);

#endif
