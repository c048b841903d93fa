/*  tool — the provider interface: how code behind mcpz offers tools,
    resources, resource templates, prompts and completions, and the context
    every such request runs in.

    A provider fills *_def_t rows (static data) and adds them to a catalog
    (catalog.h) before the actors start; the catalog is read-only afterwards
    and shared by every thread. A request to a provider gets a tool_call_t:
    what the request names (arguments, a URI, an argument to complete), ways
    to report progress and logs, to wait, to ask the client something
    (sampling, elicitation, roots), and the slots for its outcome. The
    runner (a tool worker, or a session host for inline rows) implements
    the hooks; a hook an inline runner lacks answers as "not here".
*/
#ifndef MCPZ_TOOL_H
#define MCPZ_TOOL_H

#include <jansson.h>
#include <stdbool.h>

typedef struct _tool_call_t tool_call_t;
typedef void (tool_fn) (tool_call_t *call);

//  A tool annotation: left out of tools/list when unset
typedef enum { HINT_UNSET, HINT_FALSE, HINT_TRUE } tool_hint_t;

typedef struct {
    const char *name;
    const char *description;
    const char *input_schema;       //  JSON Schema text of the arguments
    //  Inline rows run on the session host, saving two thread hops (~50 µs)
    //  per call. Only for code that finishes in microseconds and never
    //  waits: inline code that blocked would stall every session on its host.
    bool is_inline;
    int timeout_ms;                 //  deadline override; 0 = server default
    tool_fn *call;
    //  Metadata for tools/list; NULL or HINT_UNSET leaves a field out
    const char *title;
    const char *output_schema;      //  JSON Schema text of structuredContent
    tool_hint_t read_only, destructive, idempotent, open_world;
    const char *icons;              //  JSON array text of Icon objects
    const char *meta;               //  JSON object text for _meta
} tool_def_t;

//  A resource at a fixed URI. Its contents are text or blob (base64) here,
//  or read runs (call->uri names it) and sets them with tool_call_contents.
typedef struct {
    const char *uri;
    const char *name;
    const char *description;
    const char *mime_type;
    const char *text;
    const char *blob;
    tool_fn *read;
    bool is_inline;
    const char *title;
} resource_def_t;

//  Resources named by an RFC 6570 URI template of simple {variables}, each
//  matching one path segment or more characters up to the template's next
//  literal. read gets call->uri and the variables as call->arguments;
//  complete (may be NULL) gets call->argument and call->value.
typedef struct {
    const char *uri_template;
    const char *name;
    const char *description;
    const char *mime_type;
    tool_fn *read;
    tool_fn *complete;
    bool is_inline;
    const char *title;
} template_def_t;

typedef struct {
    const char *name;
    const char *description;
    bool required;
} prompt_argument_t;

//  get gets the arguments (checked: every required one is a string) in
//  call->arguments and sets messages with tool_call_messages; complete (may
//  be NULL) gets call->argument, call->value and the arguments so far.
typedef struct {
    const char *name;
    const char *description;
    const prompt_argument_t *arguments;     //  ends with a NULL name; may be NULL
    tool_fn *get;
    tool_fn *complete;
    bool is_inline;
    const char *title;
} prompt_def_t;

//  What a request asks of a provider
typedef enum { CALL_TOOL, CALL_READ, CALL_PROMPT, CALL_COMPLETE } call_kind_t;

struct _tool_call_t {
    call_kind_t kind;
    const void *def;                //  the row it runs (a *_def_t of its kind)
    json_t *arguments;              //  borrowed: tool or prompt arguments,
                                    //  template variables, completion context
    const char *uri;                //  resources/read: the URI asked for
    const char *argument;           //  completion: the argument's name
    const char *value;              //  completion: what the user typed so far
    //  Runner hooks; an inline runner has no wait or ask, and detach does
    //  nothing there (inline code answers before any stream could end)
    void (*progress) (tool_call_t *self, double progress, double total,
                      const char *message);
    bool (*wait) (tool_call_t *self, int ms);
    void (*log) (tool_call_t *self, const char *level, const char *logger,
                 const char *message);
    json_t *(*ask) (tool_call_t *self, const char *method, json_t *params,
                    int *code_p, char **message_p);
    void (*notify) (tool_call_t *self, const char *what, const char *detail);
    void *runner;                   //  the runner's own context
    bool roots_changed;             //  the client's roots changed since asked
    //  Outcome, set through the functions below
    char *result;                   //  result JSON text, owned
    int error_code;                 //  JSON-RPC error when result is NULL
    char *error_message;            //  owned
};

//  Outcome: a CallToolResult with one text block.
void
    tool_call_text (tool_call_t *self, const char *text, bool is_error,
                    json_t *structured);

//  Outcome: a CallToolResult of content blocks (a JSON array of
//  content_*() blocks, taken). structured (borrowed, may be NULL) becomes
//  structuredContent, and its serialised JSON is added as a text block for
//  clients that read only content.
void
    tool_call_content (tool_call_t *self, json_t *content, json_t *structured,
                       bool is_error);

//  Outcome: a failed argument check, answered as a tool error (isError) so
//  the model that made the call can read what was wrong and try again.
void
    tool_call_bad_argument (tool_call_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Outcome: a JSON-RPC error instead of a result.
void
    tool_call_fail (tool_call_t *self, int code, const char *message);

//  Outcome of a resources/read: contents (array of content_resource_*(),
//  taken).
void
    tool_call_contents (tool_call_t *self, json_t *contents);

//  Outcome of a prompts/get: messages (array of prompt_message(), taken);
//  description may be NULL.
void
    tool_call_messages (tool_call_t *self, const char *description, json_t *messages);

//  Outcome of a completion: values (array of strings, taken; more than 100
//  are cut to 100 with hasMore set).
void
    tool_call_completions (tool_call_t *self, json_t *values);

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

//  Asks the caller's client (sampling/createMessage, elicitation/create,
//  roots/list, ping) and waits for its answer; the call's deadline and
//  cancellation cover the wait. Returns the result (owned), or NULL with
//  *code_p and *message_p (owned) set: the client's JSON-RPC error, or
//  mcpz's own when the client lacks the capability, the call ended, or the
//  code runs inline. params is borrowed.
json_t *
    tool_call_ask (tool_call_t *self, const char *method, json_t *params,
                   int *code_p, char **message_p);

//  Tells subscribed sessions that the resource at uri changed
//  (notifications/resources/updated), on every host.
void
    tool_call_resource_updated (tool_call_t *self, const char *uri);

//  Ends the response stream the call answers on, before its result
//  (SEP-1699): the client reconnects with Last-Event-ID and gets the rest.
void
    tool_call_detach (tool_call_t *self);

//  True once after the client said its roots changed (for a call that
//  asked roots/list): ask again to see them.
bool
    tool_call_roots_changed (tool_call_t *self);

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

void
    tool_test (bool verbose);

#endif
