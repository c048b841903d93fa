/*  catalog — what providers offer. See catalog.h.

    A catalog holds a few hundred rows at most, so lookups are linear: a
    strcmp per row beats hashing a name. List pages are built once, at
    freeze, as the exact result texts the session hosts send.
*/
#include "tools/catalog.h"
#include "tools/content.h"
#include "proto/jsonrpc.h"
#include "proto/mcp.h"

#include <assert.h>
#include <czmq.h>

#define CATALOG_MAX 1024        //  rows of each kind
#define CURSOR_PREFIX "mcpz-page-"

typedef struct {
    const void *defs [CATALOG_MAX];
    size_t size;
    char **pages;               //  result texts, one per page
    size_t page_count;
} list_t;

struct _catalog_t {
    list_t lists [LISTS];
};

static const char *const s_list_keys [LISTS] = { "tools", "resources", "resourceTemplates", "prompts" };

catalog_t *
catalog_new (void)
{
    return (catalog_t *) calloc (1, sizeof (catalog_t));
}

void
catalog_destroy (catalog_t **self_p)
{
    assert (self_p);
    catalog_t *self = *self_p;
    if (self) {
        for (int kind = 0; kind < LISTS; kind++)
            catalog_pages_destroy (&self->lists [kind].pages, self->lists [kind].page_count);
        free (self);
        *self_p = NULL;
    }
}

//  True when text is absent or JSON of the given type
static bool
s_json_is (const char *text, json_type type)
{
    if (!text)
        return true;
    json_t *value = json_loads (text, JSON_DECODE_ANY, NULL);
    bool good = value && json_typeof (value) == type;
    json_decref (value);
    return good;
}

static const char *
s_key (list_kind_t kind, const void *def)
{
    switch (kind) {
        case LIST_TOOLS:     return ((const tool_def_t *) def)->name;
        case LIST_RESOURCES: return ((const resource_def_t *) def)->uri;
        case LIST_TEMPLATES: return ((const template_def_t *) def)->uri_template;
        default:             return ((const prompt_def_t *) def)->name;
    }
}

static bool
s_hidden (const catalog_filter_t *filter, list_kind_t kind, const char *key)
{
    return filter && filter->hidden (filter->arg, kind, key);
}

static const void *
s_find (catalog_t *self, const catalog_filter_t *filter, list_kind_t kind, const char *key)
{
    list_t *list = &self->lists [kind];
    for (size_t index = 0; index < list->size; index++)
        if (streq (s_key (kind, list->defs [index]), key))
            return s_hidden (filter, kind, key)? NULL: list->defs [index];
    return NULL;
}

static int
s_add (catalog_t *self, list_kind_t kind, const void *def, bool valid)
{
    list_t *list = &self->lists [kind];
    const char *key = s_key (kind, def);
    if (!valid || !key || s_find (self, NULL, kind, key) || list->size == CATALOG_MAX || list->pages)
        return -1;
    list->defs [list->size++] = def;
    return 0;
}

int
catalog_add_tool (catalog_t *self, const tool_def_t *def)
{
    bool valid = def->input_schema && def->call && def->description
              && s_json_is (def->input_schema, JSON_OBJECT)
              && s_json_is (def->output_schema, JSON_OBJECT)
              && s_json_is (def->icons, JSON_ARRAY) && s_json_is (def->meta, JSON_OBJECT);
    return s_add (self, LIST_TOOLS, def, valid);
}

int
catalog_add_resource (catalog_t *self, const resource_def_t *def)
{
    bool valid = def->name && (def->read || (!def->text != !def->blob));
    return s_add (self, LIST_RESOURCES, def, valid);
}

int
catalog_add_template (catalog_t *self, const template_def_t *def)
{
    return s_add (self, LIST_TEMPLATES, def,
                  def->name && def->read && def->uri_template && strchr (def->uri_template, '{'));
}

int
catalog_add_prompt (catalog_t *self, const prompt_def_t *def)
{
    return s_add (self, LIST_PROMPTS, def, def->get != NULL);
}

//  --------------------------------------------------------------------------
//  Lists

static void
s_set_string (json_t *object, const char *key, const char *value)
{
    if (value)
        json_object_set_new (object, key, json_string (value));
}

static void
s_set_json (json_t *object, const char *key, const char *text)
{
    if (text)
        json_object_set_new (object, key, json_loads (text, JSON_DECODE_ANY, NULL));
}

static json_t *
s_tool_json (const tool_def_t *def)
{
    json_t *item = json_pack ("{s:s}", "name", def->name);
    s_set_string (item, "title", def->title);
    s_set_string (item, "description", def->description);
    s_set_json (item, "inputSchema", def->input_schema);
    s_set_json (item, "outputSchema", def->output_schema);
    static const char *const hints [] = { "readOnlyHint", "destructiveHint",
                                          "idempotentHint", "openWorldHint" };
    tool_hint_t values [] = { def->read_only, def->destructive, def->idempotent, def->open_world };
    json_t *annotations = json_object ();
    for (int index = 0; index < 4; index++)
        if (values [index] != HINT_UNSET)
            json_object_set_new (annotations, hints [index], json_boolean (values [index] == HINT_TRUE));
    if (json_object_size (annotations))
        json_object_set (item, "annotations", annotations);
    json_decref (annotations);
    s_set_json (item, "icons", def->icons);
    s_set_json (item, "_meta", def->meta);
    return item;
}

static json_t *
s_item_json (list_kind_t kind, const void *def)
{
    json_t *item = NULL;
    if (kind == LIST_TOOLS)
        item = s_tool_json ((const tool_def_t *) def);
    else
    if (kind == LIST_RESOURCES) {
        const resource_def_t *resource = (const resource_def_t *) def;
        item = json_pack ("{s:s,s:s}", "uri", resource->uri, "name", resource->name);
        s_set_string (item, "title", resource->title);
        s_set_string (item, "description", resource->description);
        s_set_string (item, "mimeType", resource->mime_type);
    }
    else
    if (kind == LIST_TEMPLATES) {
        const template_def_t *template = (const template_def_t *) def;
        item = json_pack ("{s:s,s:s}", "uriTemplate", template->uri_template, "name", template->name);
        s_set_string (item, "title", template->title);
        s_set_string (item, "description", template->description);
        s_set_string (item, "mimeType", template->mime_type);
    }
    else {
        const prompt_def_t *prompt = (const prompt_def_t *) def;
        item = json_pack ("{s:s}", "name", prompt->name);
        s_set_string (item, "title", prompt->title);
        s_set_string (item, "description", prompt->description);
        json_t *arguments = json_array ();
        for (const prompt_argument_t *argument = prompt->arguments;
             argument && argument->name; argument++) {
            json_t *entry = json_pack ("{s:s,s:b}", "name", argument->name,
                                       "required", argument->required);
            s_set_string (entry, "description", argument->description);
            json_array_append_new (arguments, entry);
        }
        if (json_array_size (arguments))
            json_object_set (item, "arguments", arguments);
        json_decref (arguments);
    }
    return item;
}

//  The result text of one page: count items of array from first
static char *
s_page_text (list_kind_t kind, json_t *items, size_t first, size_t count, size_t page)
{
    json_t *array = json_array ();
    for (size_t index = first; index < first + count; index++)
        json_array_append (array, json_array_get (items, index));
    json_t *result = json_pack ("{s:o}", s_list_keys [kind], array);
    if (first + count < json_array_size (items)) {
        char cursor [40];
        snprintf (cursor, sizeof (cursor), CURSOR_PREFIX "%zu", page + 1);
        json_object_set_new (result, "nextCursor", json_string (cursor));
    }
    char *text = json_dumps (result, JSON_COMPACT);
    json_decref (result);
    return text;
}

json_t *
catalog_items (catalog_t *self, list_kind_t kind, const catalog_filter_t *filter)
{
    list_t *list = &self->lists [kind];
    json_t *items = json_array ();
    for (size_t index = 0; items && index < list->size; index++)
        if (!s_hidden (filter, kind, s_key (kind, list->defs [index])))
            json_array_append_new (items, s_item_json (kind, list->defs [index]));
    return items;
}

char **
catalog_pages_of (list_kind_t kind, json_t *items, int page_size, size_t *count_p)
{
    assert (page_size > 0);
    size_t total = json_array_size (items);
    size_t pages = total? (total + (size_t) page_size - 1) / (size_t) page_size: 1;
    char **texts = (char **) calloc (pages, sizeof (char *));
    bool failed = !texts || !items;
    for (size_t page = 0; texts && !failed && page < pages; page++) {
        size_t first = page * (size_t) page_size;
        size_t count = total - first < (size_t) page_size? total - first: (size_t) page_size;
        texts [page] = s_page_text (kind, items, first, count, page);
        failed |= !texts [page];
    }
    if (failed) {
        catalog_pages_destroy (&texts, pages);
        return NULL;
    }
    *count_p = pages;
    return texts;
}

char **
catalog_pages_new (catalog_t *self, list_kind_t kind, int page_size,
                   const catalog_filter_t *filter, size_t *count_p)
{
    json_t *items = catalog_items (self, kind, filter);
    char **texts = catalog_pages_of (kind, items, page_size, count_p);
    json_decref (items);
    return texts;
}

void
catalog_pages_destroy (char ***pages_p, size_t count)
{
    if (*pages_p) {
        for (size_t page = 0; page < count; page++)
            free ((*pages_p) [page]);
        free (*pages_p);
        *pages_p = NULL;
    }
}

const char *
catalog_pages_find (char **pages, size_t count, const char *cursor)
{
    if (!cursor)
        return pages [0];
    size_t prefix = strlen (CURSOR_PREFIX);
    if (strncmp (cursor, CURSOR_PREFIX, prefix) || !isdigit ((unsigned char) cursor [prefix]))
        return NULL;
    char *end;
    unsigned long page = strtoul (cursor + prefix, &end, 10);
    if (*end || page == 0 || page >= count)
        return NULL;
    return pages [page];
}

int
catalog_freeze (catalog_t *self, int page_size)
{
    for (int kind = 0; kind < LISTS; kind++) {
        list_t *list = &self->lists [kind];
        list->pages = catalog_pages_new (self, (list_kind_t) kind, page_size, NULL, &list->page_count);
        if (!list->pages)
            return -1;
    }
    return 0;
}

const char *
catalog_page (catalog_t *self, list_kind_t kind, const char *cursor)
{
    return catalog_pages_find (self->lists [kind].pages, self->lists [kind].page_count, cursor);
}

size_t
catalog_size (catalog_t *self, list_kind_t kind)
{
    return self->lists [kind].size;
}

unsigned
catalog_capabilities (catalog_t *self)
{
    //  Tools are always offered: an empty list is an answer, and the tools
    //  of workers and upstream servers come and go while mcpz runs
    unsigned capabilities = MCP_CAP_LOGGING | MCP_CAP_TOOLS;
    if (self->lists [LIST_RESOURCES].size || self->lists [LIST_TEMPLATES].size)
        capabilities |= MCP_CAP_RESOURCES;
    if (self->lists [LIST_PROMPTS].size)
        capabilities |= MCP_CAP_PROMPTS;
    //  Completion is offered when something can complete
    for (size_t index = 0; index < self->lists [LIST_PROMPTS].size; index++)
        if (((const prompt_def_t *) self->lists [LIST_PROMPTS].defs [index])->complete)
            capabilities |= MCP_CAP_COMPLETIONS;
    for (size_t index = 0; index < self->lists [LIST_TEMPLATES].size; index++)
        if (((const template_def_t *) self->lists [LIST_TEMPLATES].defs [index])->complete)
            capabilities |= MCP_CAP_COMPLETIONS;
    return capabilities;
}

const tool_def_t *
catalog_tool (catalog_t *self, const char *name)
{
    return (const tool_def_t *) s_find (self, NULL, LIST_TOOLS, name);
}

//  --------------------------------------------------------------------------
//  URI templates: {name} matches one or more characters other than '/'
//  (RFC 6570 simple expansion encodes '/' in a value) up to the next literal.

static bool s_template_match (const char *template, const char *uri, json_t *variables);

bool
catalog_template_match (const char *template, const char *uri)
{
    return s_template_match (template, uri, NULL);
}

//  Matches uri against template; fills variables (when not NULL) and
//  returns true on a match.
static bool
s_template_match (const char *template, const char *uri, json_t *variables)
{
    while (*template) {
        if (*template != '{') {
            if (*template++ != *uri++)
                return false;
            continue;
        }
        const char *close = strchr (template, '}');
        if (!close)
            return false;
        const char *next = close + 1;       //  the literal after the variable
        size_t length = 0;
        while (uri [length] && uri [length] != '/' && (!*next || uri [length] != *next))
            length++;
        if (length == 0)
            return false;
        if (variables) {
            char *name = strndup (template + 1, (size_t) (close - template - 1));
            char *value = strndup (uri, length);
            if (name && value)
                json_object_set_new (variables, name, json_string (value));
            free (name);
            free (value);
        }
        uri += length;
        template = next;
    }
    return *uri == 0;
}

//  True when the template has a variable called name
static bool
s_template_has (const char *template, const char *name)
{
    size_t length = strlen (name);
    for (const char *open = strchr (template, '{'); open; open = strchr (open + 1, '{'))
        if (strncmp (open + 1, name, length) == 0 && open [1 + length] == '}')
            return true;
    return false;
}

static const template_def_t *
s_template_for (catalog_t *self, const catalog_filter_t *filter, const char *uri)
{
    list_t *list = &self->lists [LIST_TEMPLATES];
    for (size_t index = 0; index < list->size; index++) {
        const template_def_t *def = (const template_def_t *) list->defs [index];
        if (s_template_match (def->uri_template, uri, NULL)
        &&  !s_hidden (filter, LIST_TEMPLATES, def->uri_template))
            return def;
    }
    return NULL;
}

bool
catalog_has_uri (catalog_t *self, const catalog_filter_t *filter, const char *uri)
{
    return s_find (self, filter, LIST_RESOURCES, uri) || s_template_for (self, filter, uri);
}

bool
catalog_has (catalog_t *self, list_kind_t kind, const char *key)
{
    return s_find (self, NULL, kind, key) != NULL;
}

static const char *const s_kind_names [LISTS] = { "tool", "resource", "template", "prompt" };

int
catalog_kind (const char *name)
{
    for (int kind = 0; kind < LISTS; kind++)
        if (name && streq (name, s_kind_names [kind]))
            return kind;
    return -1;
}

const char *
catalog_kind_name (list_kind_t kind)
{
    return s_kind_names [kind];
}

//  --------------------------------------------------------------------------
//  Resolving requests

//  A resource's fixed contents
static void
s_read_static (tool_call_t *call)
{
    const resource_def_t *def = (const resource_def_t *) call->def;
    json_t *contents = def->text? content_resource_text (def->uri, def->mime_type, def->text):
                                  content_resource_blob (def->uri, def->mime_type, def->blob);
    tool_call_contents (call, json_pack ("[o]", contents));
}

//  A completion of something that does not complete: no suggestions
static void
s_complete_nothing (tool_call_t *call)
{
    tool_call_completions (call, json_array ());
}

static int
s_fail (char *message, size_t size, int code, const char *format, const char *detail)
{
    //  Names from a client are cut, on a character boundary, to fit
    char shown [101];
    size_t length = detail? strlen (detail): 0;
    if (length > 100) {
        length = 100;
        while (length && ((unsigned char) detail [length] & 0xC0) == 0x80)
            length--;
    }
    memcpy (shown, detail? detail: "", length);
    shown [length] = 0;
    snprintf (message, size, format, shown);
    return code;
}

//  What tools/call and prompts/get share: a name among the visible rows of
//  the list, and arguments that are an object (an empty one when absent)
static int
s_named (catalog_t *self, const catalog_filter_t *filter, list_kind_t kind, json_t *params,
         catalog_target_t *target, const void **def_p, json_t **arguments_p,
         char *message, size_t size)
{
    const char *what = kind == LIST_TOOLS? "tool": "prompt";
    json_t *name = json_object_get (params, "name");
    json_t *arguments = json_object_get (params, "arguments");
    if (!json_is_string (name))
        return s_fail (message, size, JSONRPC_INVALID_PARAMS, "params need the %s's name", what);
    if (arguments && !json_is_object (arguments))
        return s_fail (message, size, JSONRPC_INVALID_PARAMS, "%s arguments must be an object", what);
    *def_p = s_find (self, filter, kind, json_string_value (name));
    if (!*def_p)
        return s_fail (message, size, JSONRPC_INVALID_PARAMS,
                       kind == LIST_TOOLS? "unknown tool: %s": "unknown prompt: %s", json_string_value (name));
    *arguments_p = arguments? arguments: (target->owned = json_object ());
    return 0;
}

static int
s_resolve_tool (catalog_t *self, const catalog_filter_t *filter, json_t *params,
                tool_call_t *call, catalog_target_t *target, char *message, size_t size)
{
    const void *found;
    json_t *arguments;
    int code = s_named (self, filter, LIST_TOOLS, params, target, &found, &arguments, message, size);
    if (code)
        return code;
    const tool_def_t *def = (const tool_def_t *) found;
    call->kind = CALL_TOOL;
    call->def = def;
    call->arguments = arguments;
    target->run = def->call;
    target->is_inline = def->is_inline;
    target->timeout_ms = def->timeout_ms;
    return 0;
}

static int
s_resolve_read (catalog_t *self, const catalog_filter_t *filter, json_t *params,
                tool_call_t *call, catalog_target_t *target, char *message, size_t size)
{
    const char *uri = json_string_value (json_object_get (params, "uri"));
    if (!uri)
        return s_fail (message, size, JSONRPC_INVALID_PARAMS, "resources/read needs params with a uri%s", NULL);
    call->kind = CALL_READ;
    call->uri = uri;
    const resource_def_t *resource = (const resource_def_t *) s_find (self, filter, LIST_RESOURCES, uri);
    if (resource) {
        call->def = resource;
        target->run = resource->read? resource->read: s_read_static;
        target->is_inline = resource->read? resource->is_inline: true;
        return 0;
    }
    const template_def_t *template = s_template_for (self, filter, uri);
    if (!template)
        return s_fail (message, size, MCP_RESOURCE_NOT_FOUND, "resource not found: %s", uri);
    call->def = template;
    call->arguments = target->owned = json_object ();
    s_template_match (template->uri_template, uri, target->owned);
    target->run = template->read;
    target->is_inline = template->is_inline;
    return 0;
}

//  Every required argument given, every given one a string
static int
s_prompt_arguments (const prompt_def_t *def, json_t *arguments, char *message, size_t size)
{
    const char *key;
    json_t *value;
    json_object_foreach (arguments, key, value)
        if (!json_is_string (value))
            return s_fail (message, size, JSONRPC_INVALID_PARAMS, "prompt argument '%s' must be a string", key);
    for (const prompt_argument_t *argument = def->arguments; argument && argument->name; argument++)
        if (argument->required && !json_object_get (arguments, argument->name))
            return s_fail (message, size, JSONRPC_INVALID_PARAMS,
                           "missing required prompt argument: %s", argument->name);
    return 0;
}

static int
s_resolve_prompt (catalog_t *self, const catalog_filter_t *filter, json_t *params,
                  tool_call_t *call, catalog_target_t *target, char *message, size_t size)
{
    const void *found;
    json_t *arguments;
    int code = s_named (self, filter, LIST_PROMPTS, params, target, &found, &arguments, message, size);
    if (code)
        return code;
    const prompt_def_t *def = (const prompt_def_t *) found;
    code = s_prompt_arguments (def, arguments, message, size);
    if (code)
        return code;
    call->kind = CALL_PROMPT;
    call->def = def;
    call->arguments = arguments;
    target->run = def->get;
    target->is_inline = def->is_inline;
    return 0;
}

static bool
s_prompt_has (const prompt_def_t *def, const char *name)
{
    for (const prompt_argument_t *argument = def->arguments; argument && argument->name; argument++)
        if (streq (argument->name, name))
            return true;
    return false;
}

static int
s_resolve_complete (catalog_t *self, const catalog_filter_t *filter, json_t *params,
                    tool_call_t *call, catalog_target_t *target, char *message, size_t size)
{
    json_t *ref = json_object_get (params, "ref");
    const char *type = json_string_value (json_object_get (ref, "type"));
    json_t *argument = json_object_get (params, "argument");
    const char *name = json_string_value (json_object_get (argument, "name"));
    const char *value = json_string_value (json_object_get (argument, "value"));
    json_t *context = json_object_get (json_object_get (params, "context"), "arguments");
    if (!type || !name || !value || (context && !json_is_object (context)))
        return s_fail (message, size, JSONRPC_INVALID_PARAMS,
                       "completion/complete needs a ref and an argument with a name and a value%s", NULL);
    tool_fn *complete = NULL;
    bool is_inline = true;
    if (streq (type, "ref/prompt")) {
        const char *prompt = json_string_value (json_object_get (ref, "name"));
        const prompt_def_t *def = prompt? (const prompt_def_t *) s_find (self, filter, LIST_PROMPTS, prompt): NULL;
        if (!def)
            return s_fail (message, size, JSONRPC_INVALID_PARAMS, "unknown prompt: %s", prompt);
        if (!s_prompt_has (def, name))
            return s_fail (message, size, JSONRPC_INVALID_PARAMS, "the prompt has no argument %s", name);
        call->def = def;
        complete = def->complete;
        is_inline = def->is_inline;
    }
    else
    if (streq (type, "ref/resource")) {
        const char *uri = json_string_value (json_object_get (ref, "uri"));
        const template_def_t *def = uri? (const template_def_t *) s_find (self, filter, LIST_TEMPLATES, uri): NULL;
        if (!def)
            return s_fail (message, size, JSONRPC_INVALID_PARAMS, "unknown resource template: %s", uri);
        if (!s_template_has (def->uri_template, name))
            return s_fail (message, size, JSONRPC_INVALID_PARAMS, "the template has no variable %s", name);
        call->def = def;
        complete = def->complete;
        is_inline = def->is_inline;
    }
    else
        return s_fail (message, size, JSONRPC_INVALID_PARAMS, "unknown reference type: %s", type);
    call->kind = CALL_COMPLETE;
    call->argument = name;
    call->value = value;
    call->arguments = context? context: (target->owned = json_object ());
    target->run = complete? complete: s_complete_nothing;
    target->is_inline = complete? is_inline: true;
    return 0;
}

int
catalog_resolve (catalog_t *self, const catalog_filter_t *filter, const char *method,
                 json_t *params, tool_call_t *call, catalog_target_t *target,
                 char *message, size_t size)
{
    memset (target, 0, sizeof (*target));
    if (!json_is_object (params))
        return s_fail (message, size, JSONRPC_INVALID_PARAMS, "%s needs params", method);
    if (streq (method, "tools/call"))
        return s_resolve_tool (self, filter, params, call, target, message, size);
    if (streq (method, "resources/read"))
        return s_resolve_read (self, filter, params, call, target, message, size);
    if (streq (method, "prompts/get"))
        return s_resolve_prompt (self, filter, params, call, target, message, size);
    if (streq (method, "completion/complete"))
        return s_resolve_complete (self, filter, params, call, target, message, size);
    return s_fail (message, size, JSONRPC_METHOD_NOT_FOUND, "method not found%s", NULL);
}

//  True when value has the JSON Schema type named
static bool
s_has_type (json_t *value, const char *type)
{
    if (streq (type, "integer"))
        return json_is_integer (value);
    if (streq (type, "number"))
        return json_is_number (value);
    static const struct { const char *name; json_type type; } s_types [] = {
        { "string", JSON_STRING }, { "object", JSON_OBJECT }, { "array", JSON_ARRAY },
        { "boolean", JSON_TRUE }, { "null", JSON_NULL }
    };
    for (size_t index = 0; index < sizeof (s_types) / sizeof (s_types [0]); index++)
        if (streq (type, s_types [index].name))
            return json_typeof (value) == s_types [index].type
                || (s_types [index].type == JSON_TRUE && json_is_false (value));
    return true;                //  a type this check does not know: not judged
}

//  structuredContent against the tool's outputSchema, one level deep: an
//  object, with every required property, each declared property of its
//  declared type. Returns NULL when it conforms, else why not.
static const char *
s_output_mismatch (json_t *schema, json_t *structured)
{
    if (!json_is_object (structured))
        return "a tool with an outputSchema must return structuredContent, an object";
    size_t index;
    json_t *name;
    json_array_foreach (json_object_get (schema, "required"), index, name)
        if (json_is_string (name) && !json_object_get (structured, json_string_value (name)))
            return "structuredContent lacks a property its outputSchema requires";
    const char *key;
    json_t *property;
    json_object_foreach (json_object_get (schema, "properties"), key, property) {
        json_t *value = json_object_get (structured, key);
        const char *type = json_string_value (json_object_get (property, "type"));
        if (value && type && !s_has_type (value, type))
            return "structuredContent has a property of another type than its outputSchema says";
    }
    return NULL;
}

void
catalog_check_output (tool_call_t *call)
{
    const tool_def_t *def = (const tool_def_t *) call->def;
    if (call->kind != CALL_TOOL || !def || !def->output_schema || !call->result)
        return;
    json_t *result = json_loads (call->result, 0, NULL);
    json_t *schema = json_loads (def->output_schema, 0, NULL);
    const char *mismatch = json_is_true (json_object_get (result, "isError"))? NULL:
                           s_output_mismatch (schema, json_object_get (result, "structuredContent"));
    if (mismatch)
        tool_call_fail (call, JSONRPC_INTERNAL_ERROR, mismatch);
    json_decref (schema);
    json_decref (result);
}

void
catalog_target_clear (catalog_target_t *target)
{
    json_decref (target->owned);
    target->owned = NULL;
}

//  --------------------------------------------------------------------------
//  Self-test

static void
s_twice (tool_call_t *call)
{
    tool_call_text (call, "twice", false, NULL);
}

static void
s_template_read (tool_call_t *call)
{
    const char *id = json_string_value (json_object_get (call->arguments, "id"));
    tool_call_contents (call, json_pack ("[o]", content_resource_text (call->uri, "text/plain", id)));
}

static void
s_prompt_get (tool_call_t *call)
{
    tool_call_messages (call, NULL, json_pack ("[o]", prompt_message ("user", content_text ("hi"))));
}

static void
s_run (catalog_t *catalog, const char *method, const char *params_text, char **result_p, int *code_p)
{
    json_t *params = json_loads (params_text, 0, NULL);
    assert (params);
    tool_call_t call = { 0 };
    catalog_target_t target;
    char message [200];
    *code_p = catalog_resolve (catalog, NULL, method, params, &call, &target, message, sizeof (message));
    *result_p = NULL;
    if (*code_p == 0) {
        target.run (&call);
        *result_p = call.result;
        call.result = NULL;
    }
    tool_call_clear (&call);
    catalog_target_clear (&target);
    json_decref (params);
}

void
catalog_test (bool verbose)
{
    printf (" * catalog: ");
    static const tool_def_t twice = {
        .name = "twice", .description = "doubles", .input_schema = "{\"type\":\"object\"}",
        .is_inline = true, .call = s_twice, .title = "Twice", .read_only = HINT_TRUE,
        .destructive = HINT_FALSE, .output_schema = "{\"type\":\"object\"}",
        .icons = "[{\"src\":\"https://example.com/i.png\",\"mimeType\":\"image/png\"}]",
        .meta = "{\"example.com/owner\":\"ops\"}"
    };
    static const tool_def_t thrice = {
        .name = "thrice", .description = "triples", .input_schema = "{}", .call = s_twice
    };
    static const tool_def_t broken = { .name = "broken", .description = "x", .input_schema = "[]", .call = s_twice };
    static const resource_def_t text = { .uri = "test://text", .name = "text", .text = "hello", .mime_type = "text/plain" };
    static const resource_def_t both = { .uri = "test://both", .name = "both", .text = "a", .blob = "YQ==" };
    static const template_def_t items = {
        .uri_template = "test://items/{id}/data", .name = "items", .read = s_template_read, .is_inline = true
    };
    static const prompt_argument_t arguments [] = { { "topic", "what about", true }, { .name = NULL } };
    static const prompt_def_t prompt = {
        .name = "greet", .description = "says hi", .arguments = arguments, .get = s_prompt_get, .is_inline = true
    };
    catalog_t *catalog = catalog_new ();
    assert (catalog_add_tool (catalog, &twice) == 0);
    assert (catalog_add_tool (catalog, &twice) == -1);
    assert (catalog_add_tool (catalog, &broken) == -1);
    assert (catalog_add_tool (catalog, &thrice) == 0);
    assert (catalog_add_resource (catalog, &text) == 0);
    assert (catalog_add_resource (catalog, &both) == -1);
    assert (catalog_add_template (catalog, &items) == 0);
    assert (catalog_add_prompt (catalog, &prompt) == 0);
    assert (catalog_freeze (catalog, 1) == 0);
    assert (catalog_add_tool (catalog, &broken) == -1);
    assert (catalog_capabilities (catalog) == (MCP_CAP_TOOLS | MCP_CAP_LOGGING | MCP_CAP_RESOURCES | MCP_CAP_PROMPTS));

    //  Pages of one tool each, chained by cursor
    const char *page = catalog_page (catalog, LIST_TOOLS, NULL);
    assert (strstr (page, "\"name\":\"twice\"") && strstr (page, "\"nextCursor\":\"mcpz-page-1\""));
    assert (strstr (page, "\"annotations\":{\"readOnlyHint\":true,\"destructiveHint\":false}"));
    assert (strstr (page, "\"title\":\"Twice\"") && strstr (page, "\"outputSchema\""));
    assert (strstr (page, "\"icons\":[{\"src\":\"https://example.com/i.png\",\"mimeType\":\"image/png\"}]"));
    assert (strstr (page, "\"_meta\":{\"example.com/owner\":\"ops\"}"));
    page = catalog_page (catalog, LIST_TOOLS, "mcpz-page-1");
    assert (strstr (page, "thrice") && !strstr (page, "nextCursor") && !strstr (page, "annotations"));
    assert (!catalog_page (catalog, LIST_TOOLS, "mcpz-page-2"));
    assert (!catalog_page (catalog, LIST_TOOLS, "mcpz-page-0"));
    assert (!catalog_page (catalog, LIST_TOOLS, "mcpz-page-1x"));
    assert (!catalog_page (catalog, LIST_TOOLS, "garbage"));
    assert (streq (catalog_page (catalog, LIST_PROMPTS, NULL),
        "{\"prompts\":[{\"name\":\"greet\",\"description\":\"says hi\",\"arguments\":"
        "[{\"name\":\"topic\",\"required\":true,\"description\":\"what about\"}]}]}"));
    assert (streq (catalog_page (catalog, LIST_TEMPLATES, NULL),
        "{\"resourceTemplates\":[{\"uriTemplate\":\"test://items/{id}/data\",\"name\":\"items\"}]}"));

    char *result;
    int code;
    s_run (catalog, "resources/read", "{\"uri\":\"test://text\"}", &result, &code);
    assert (code == 0 && strstr (result, "\"text\":\"hello\""));
    free (result);
    s_run (catalog, "resources/read", "{\"uri\":\"test://items/42/data\"}", &result, &code);
    assert (code == 0 && strstr (result, "\"text\":\"42\"") && strstr (result, "test://items/42/data"));
    free (result);
    s_run (catalog, "resources/read", "{\"uri\":\"test://items/4/2/data\"}", &result, &code);
    assert (code == MCP_RESOURCE_NOT_FOUND);
    s_run (catalog, "resources/read", "{\"uri\":\"test://items//data\"}", &result, &code);
    assert (code == MCP_RESOURCE_NOT_FOUND);
    assert (catalog_has_uri (catalog, NULL, "test://items/7/data") && !catalog_has_uri (catalog, NULL, "test://nope"));
    s_run (catalog, "prompts/get", "{\"name\":\"greet\",\"arguments\":{\"topic\":\"x\"}}", &result, &code);
    assert (code == 0 && strstr (result, "\"messages\":[{\"role\":\"user\""));
    free (result);
    s_run (catalog, "prompts/get", "{\"name\":\"greet\"}", &result, &code);
    assert (code == JSONRPC_INVALID_PARAMS);
    s_run (catalog, "prompts/get", "{\"name\":\"greet\",\"arguments\":{\"topic\":1}}", &result, &code);
    assert (code == JSONRPC_INVALID_PARAMS);
    s_run (catalog, "prompts/get", "{\"name\":\"nope\"}", &result, &code);
    assert (code == JSONRPC_INVALID_PARAMS);
    s_run (catalog, "completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"greet\"},"
           "\"argument\":{\"name\":\"topic\",\"value\":\"a\"}}", &result, &code);
    assert (code == 0 && streq (result, "{\"completion\":{\"values\":[],\"total\":0,\"hasMore\":false}}"));
    free (result);
    s_run (catalog, "completion/complete", "{\"ref\":{\"type\":\"ref/resource\",\"uri\":\"test://items/{id}/data\"},"
           "\"argument\":{\"name\":\"nope\",\"value\":\"a\"}}", &result, &code);
    assert (code == JSONRPC_INVALID_PARAMS);
    s_run (catalog, "completion/complete", "{\"ref\":{\"type\":\"ref/other\"},"
           "\"argument\":{\"name\":\"x\",\"value\":\"a\"}}", &result, &code);
    assert (code == JSONRPC_INVALID_PARAMS);
    s_run (catalog, "tools/call", "{\"name\":\"thrice\"}", &result, &code);
    assert (code == 0 && strstr (result, "twice"));
    free (result);
    s_run (catalog, "tools/call", "{\"name\":\"nope\"}", &result, &code);
    assert (code == JSONRPC_INVALID_PARAMS);
    //  twice declares an outputSchema but returns no structuredContent
    tool_call_t call = { .kind = CALL_TOOL, .def = &twice };
    tool_call_text (&call, "x", false, NULL);
    catalog_check_output (&call);
    assert (!call.result && call.error_code == JSONRPC_INTERNAL_ERROR);
    json_t *structured = json_pack ("{s:i}", "n", 2);
    tool_call_text (&call, "x", false, structured);
    catalog_check_output (&call);
    assert (call.result);
    tool_call_text (&call, "x", true, NULL);
    catalog_check_output (&call);
    assert (call.result);
    json_decref (structured);
    json_t *schema = json_pack ("{s:[s],s:{s:{s:s}}}", "required", "n", "properties", "n", "type", "integer");
    json_t *good = json_pack ("{s:i}", "n", 1), *bad = json_pack ("{s:s}", "n", "1"), *empty = json_object ();
    assert (!s_output_mismatch (schema, good) && s_output_mismatch (schema, bad)
            && s_output_mismatch (schema, empty) && s_output_mismatch (schema, NULL));
    json_decref (schema), json_decref (good), json_decref (bad), json_decref (empty);
    tool_call_clear (&call);
    catalog_destroy (&catalog);
    assert (!catalog);
    printf ("OK\n");
}
