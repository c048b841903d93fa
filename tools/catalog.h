/*  catalog — what providers offer: the tools, resources, resource templates
    and prompts mcpz serves, filled before the actors start and read-only
    (shared by every thread without locks) once frozen.

    It answers the list methods as pages of ready text, finds what a
    request names, and says which capabilities that makes the server's.
*/
#ifndef MCPZ_CATALOG_H
#define MCPZ_CATALOG_H

#include "tools/tool.h"

typedef struct _catalog_t catalog_t;

typedef enum { LIST_TOOLS, LIST_RESOURCES, LIST_TEMPLATES, LIST_PROMPTS, LISTS } list_kind_t;

//  What a caller does not see: rows for which hidden says true (key is a
//  tool or prompt name, a resource URI or a URI template)
typedef struct {
    bool (*hidden) (void *arg, list_kind_t kind, const char *key);
    void *arg;
} catalog_filter_t;

//  What runs a request, found by catalog_resolve
typedef struct {
    tool_fn *run;
    bool is_inline;
    int timeout_ms;             //  0 = the server's default
    json_t *owned;              //  what call->arguments may point into
} catalog_target_t;

catalog_t *
    catalog_new (void);

void
    catalog_destroy (catalog_t **self_p);

//  Each def is static data, not copied. Each returns -1 on a duplicate
//  name (or URI), a schema or metadata that is not the JSON it must be, or
//  a full catalog.
int
    catalog_add_tool (catalog_t *self, const tool_def_t *def);
int
    catalog_add_resource (catalog_t *self, const resource_def_t *def);
int
    catalog_add_template (catalog_t *self, const template_def_t *def);
int
    catalog_add_prompt (catalog_t *self, const prompt_def_t *def);

//  Builds the list pages, page_size items each. Call after the last add;
//  returns 0, or -1 when out of memory.
int
    catalog_freeze (catalog_t *self, int page_size);

//  mcp_capability_t bits for what is loaded (tools and logging always)
unsigned
    catalog_capabilities (catalog_t *self);

size_t
    catalog_size (catalog_t *self, list_kind_t kind);

//  The result text of one list page: the first for a NULL cursor, else the
//  page the cursor names; NULL for a cursor it never gave out.
const char *
    catalog_page (catalog_t *self, list_kind_t kind, const char *cursor);

//  The pages of a list without what filter hides (may be NULL): result
//  texts, *count_p of them (at least one, maybe empty). NULL out of
//  memory; else free with catalog_pages_destroy.
char **
    catalog_pages_new (catalog_t *self, list_kind_t kind, int page_size,
                       const catalog_filter_t *filter, size_t *count_p);

void
    catalog_pages_destroy (char ***pages_p, size_t count);

//  The list's rows that filter leaves visible, as the JSON items of a list
//  result (a new array).
json_t *
    catalog_items (catalog_t *self, list_kind_t kind, const catalog_filter_t *filter);

//  Pages of any items (borrowed), as catalog_pages_new makes them.
char **
    catalog_pages_of (list_kind_t kind, json_t *items, int page_size, size_t *count_p);

//  True when uri matches a URI template (see template_def_t).
bool
    catalog_template_match (const char *template, const char *uri);

//  The page a cursor names (the first for NULL), or NULL for a cursor
//  never given out.
const char *
    catalog_pages_find (char **pages, size_t count, const char *cursor);

const tool_def_t *
    catalog_tool (catalog_t *self, const char *name);

//  True when uri names a resource or matches a template filter leaves
//  visible (filter may be NULL).
bool
    catalog_has_uri (catalog_t *self, const catalog_filter_t *filter, const char *uri);

//  True when the list holds a row of this key.
bool
    catalog_has (catalog_t *self, list_kind_t kind, const char *key);

//  The list_kind_t a name says (tool, resource, template, prompt), or -1.
int
    catalog_kind (const char *name);

//  The name of a list_kind_t: tool, resource, template or prompt.
const char *
    catalog_kind_name (list_kind_t kind);

//  Finds what a tools/call, resources/read, prompts/get or
//  completion/complete names, among what filter (may be NULL) leaves
//  visible, and checks its params: fills call (kind, def,
//  arguments, uri, argument, value; all borrowed from params or
//  target->owned) and target. Returns 0, or a JSON-RPC error code with
//  message filled.
int
    catalog_resolve (catalog_t *self, const catalog_filter_t *filter,
                     const char *method, json_t *params,
                     tool_call_t *call, catalog_target_t *target,
                     char *message, size_t size);

void
    catalog_target_clear (catalog_target_t *target);

//  A tool result whose structuredContent does not match the tool's
//  outputSchema (one level: required properties and their types) becomes
//  an internal error: a client must be able to trust the schema.
void
    catalog_check_output (tool_call_t *call);

void
    catalog_test (bool verbose);

#endif
