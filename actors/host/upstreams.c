/*  upstreams — the rows of MCP servers behind mcpz, as sessions see them.

    Owns: a DEALER to every upstream actor (calls go there as they go to
    the tool pool, and come back in the same messages, handled by calls.c),
    and each upstream's lists as the supervisor sent them last.
    Takes: UPSTREAM "", "", lists JSON from the supervisor (session_host.c).

    Names: an upstream's tool or prompt x is NAME_x (NAME has no '_', so it
    splits one way). A resource URI or template stays as it is unless the
    catalog or an earlier upstream has it, then it is NAME+URI (a URI still:
    '+' may stand in a scheme). Requests get the upstream's own names back.
*/
#include "actors/host/upstreams.h"
#include "actors/host/calls.h"
#include "actors/host/host.h"
#include "actors/host/lists.h"
#include "actors/host/subscriptions.h"
#include "proto/jsonrpc.h"
#include "proto/mcp.h"
#include "runtime/log.h"

static const char *const s_keys [LISTS] = { "tools", "resources", "resourceTemplates", "prompts" };

int
upstreams_setup (host_t *self, const char *endpoint)
{
    self->upstream_count = self->config->upstream_count;
    for (int index = 0; index < self->upstream_count; index++) {
        self->upstream_sockets [index] = zsock_new (ZMQ_DEALER);
        if (!self->upstream_sockets [index]
        ||  zsock_connect (self->upstream_sockets [index], "%s-%d", endpoint, index) == -1)
            return -1;
        self->upstream_raw [index] = zsock_resolve (self->upstream_sockets [index]);
    }
    return 0;
}

void
upstreams_destroy (host_t *self)
{
    for (int index = 0; index < self->upstream_count; index++) {
        zsock_destroy (&self->upstream_sockets [index]);
        json_decref (self->upstream_lists [index]);
        json_decref (self->upstream_names [index]);
        for (int kind = 0; kind < LISTS; kind++)
            zhashx_destroy (&self->upstream_rows [index][kind]);
    }
}

static int
s_index (host_t *self, const char *name, size_t length)
{
    for (int index = 0; index < self->upstream_count; index++)
        if (strlen (self->config->upstreams [index].name) == length
        &&  memcmp (self->config->upstreams [index].name, name, length) == 0)
            return index;
    return -1;
}

//  The JSON items of upstream index's list kind (borrowed; may be NULL)
static json_t *
s_list (host_t *self, int index, list_kind_t kind)
{
    return json_object_get (self->upstream_lists [index], s_keys [kind]);
}

static const char *
s_field (list_kind_t kind)
{
    return kind == LIST_RESOURCES? "uri": kind == LIST_TEMPLATES? "uriTemplate": "name";
}

//  What sessions call a row: NAME_x for a tool or prompt; a URI or template
//  as it is, unless the catalog or an earlier upstream has it (taken):
//  then NAME+URI. Caller frees.
static char *
s_exposed (host_t *self, int index, list_kind_t kind, const char *own, zhashx_t *taken)
{
    const char *name = self->config->upstreams [index].name;
    char *exposed = NULL;
    bool prefixed = kind == LIST_TOOLS || kind == LIST_PROMPTS;
    bool clash = !prefixed && (zhashx_lookup (taken, own)
                 || (kind == LIST_RESOURCES? catalog_has_uri (self->table, NULL, own)
                                           : catalog_has (self->table, kind, own)));
    if (prefixed || clash) {
        if (asprintf (&exposed, prefixed? "%s_%s": "%s+%s", name, own) < 0)
            exposed = NULL;
    }
    else
        exposed = strdup (own);
    if (!prefixed)
        zhashx_insert (taken, own, (void *) 1);
    return exposed;
}

//  Names every upstream's rows as sessions see them, once per change of
//  any upstream's lists (a URI shows as it is only while no earlier row
//  has it): for each upstream and list, the names in list order, and a
//  table from name to the row's place, so a request finds its row at once.
static void
s_name_rows (host_t *self)
{
    zhashx_t *taken [LISTS] = { NULL };
    taken [LIST_RESOURCES] = zhashx_new ();
    taken [LIST_TEMPLATES] = zhashx_new ();
    for (int index = 0; index < self->upstream_count; index++) {
        json_decref (self->upstream_names [index]);
        self->upstream_names [index] = json_object ();
        for (int kind = 0; kind < LISTS; kind++) {
            zhashx_destroy (&self->upstream_rows [index][kind]);
            self->upstream_rows [index][kind] = zhashx_new ();
            json_t *names = json_array ();
            size_t at;
            json_t *item;
            json_array_foreach (s_list (self, index, (list_kind_t) kind), at, item) {
                const char *own = json_string_value (json_object_get (item, s_field ((list_kind_t) kind)));
                char *exposed = own && taken [LIST_RESOURCES] && taken [LIST_TEMPLATES]?
                                s_exposed (self, index, (list_kind_t) kind, own, taken [kind]): NULL;
                json_array_append_new (names, exposed? json_string (exposed): json_null ());
                if (exposed && self->upstream_rows [index][kind])
                    zhashx_insert (self->upstream_rows [index][kind], exposed, (void *) (uintptr_t) (at + 1));
                free (exposed);
            }
            json_object_set_new (self->upstream_names [index], s_keys [kind], names);
        }
    }
    zhashx_destroy (&taken [LIST_RESOURCES]);
    zhashx_destroy (&taken [LIST_TEMPLATES]);
}

void
upstreams_change (host_t *self, zmq_msg_t *body)
{
    json_t *lists = json_loadb ((const char *) zmq_msg_data (body), zmq_msg_size (body), 0, NULL);
    const char *name = json_string_value (json_object_get (lists, "name"));
    int index = name? s_index (self, name, strlen (name)): -1;
    if (index < 0) {
        log_error (self->name, "malformed UPSTREAM from the supervisor");
        json_decref (lists);
        return;
    }
    bool changed [LISTS];
    for (int kind = 0; kind < LISTS; kind++)
        changed [kind] = !json_equal (json_object_get (lists, s_keys [kind]),
                                      json_object_get (self->upstream_lists [index], s_keys [kind]))
                         && (json_array_size (json_object_get (lists, s_keys [kind]))
                          || json_array_size (json_object_get (self->upstream_lists [index], s_keys [kind])));
    json_decref (self->upstream_lists [index]);
    self->upstream_lists [index] = lists;
    s_name_rows (self);
    lists_upstreams_changed (self, changed);
}

//  The row an upstream's list has under name (as sessions see it), or NULL
static json_t *
s_row (host_t *self, int index, list_kind_t kind, const char *name)
{
    size_t place = self->upstream_rows [index][kind]?
                   (size_t) (uintptr_t) zhashx_lookup (self->upstream_rows [index][kind], name): 0;
    return place? json_array_get (s_list (self, index, kind), place - 1): NULL;
}

void
upstreams_items (host_t *self, list_kind_t kind, json_t *items)
{
    const catalog_filter_t *filter = lists_filter (self);
    for (int index = 0; index < self->upstream_count; index++) {
        json_t *names = json_object_get (self->upstream_names [index], s_keys [kind]);
        size_t at;
        json_t *item;
        json_array_foreach (s_list (self, index, kind), at, item) {
            const char *exposed = json_string_value (json_array_get (names, at));
            if (!exposed || (filter && filter->hidden (filter->arg, kind, exposed)))
                continue;
            json_t *copy = json_deep_copy (item);
            json_object_set_new (copy, s_field (kind), json_string (exposed));
            json_array_append_new (items, copy);
        }
    }
}

//  The upstream and own name of a prefixed tool or prompt name, when its
//  list has it: index, or -1 (no such upstream), or -2 (no such row)
static int
s_named (host_t *self, list_kind_t kind, const char *name, const char **own_p)
{
    const char *underscore = name? strchr (name, '_'): NULL;
    int index = underscore? s_index (self, name, (size_t) (underscore - name)): -1;
    if (index < 0)
        return -1;
    *own_p = underscore + 1;
    return s_row (self, index, kind, name)? index: -2;
}

//  The upstream serving uri, with the URI it knows it by (*own_p, borrowed
//  from uri or its list): one of its resources, else the first of its
//  templates that matches (exact: the template itself, for completion);
//  -1 when none.
static int
s_resource (host_t *self, const char *uri, bool exact, const char **own_p)
{
    for (int index = 0; !exact && index < self->upstream_count; index++) {
        json_t *row = s_row (self, index, LIST_RESOURCES, uri);
        if (row && json_string_value (json_object_get (row, "uri"))) {
            *own_p = json_string_value (json_object_get (row, "uri"));
            return index;
        }
    }
    const catalog_filter_t *filter = lists_filter (self);
    for (int index = 0; index < self->upstream_count; index++) {
        json_t *names = json_object_get (self->upstream_names [index], s_keys [LIST_TEMPLATES]);
        size_t at;
        json_t *item;
        json_array_foreach (s_list (self, index, LIST_TEMPLATES), at, item) {
            const char *exposed = json_string_value (json_array_get (names, at));
            const char *own = json_string_value (json_object_get (item, "uriTemplate"));
            //  A template an operator disabled reads nothing
            if (!exposed || !own || (!exact && filter && filter->hidden (filter->arg, LIST_TEMPLATES, exposed)))
                continue;
            //  A prefixed template's URIs carry the same prefix
            size_t prefix = strlen (exposed) - strlen (own);
            const char *asked = strncmp (uri, exposed, prefix) == 0? uri + prefix: NULL;
            if (exact? streq (uri, exposed): asked && catalog_template_match (own, asked)) {
                *own_p = exact? own: asked;
                return index;
            }
        }
    }
    return -1;
}

bool
upstreams_has_uri (host_t *self, const char *uri)
{
    const char *own;
    return self->upstream_count && s_resource (self, uri, false, &own) >= 0;
}

void
upstreams_subscribe (host_t *self, const char *uri)
{
    const char *own;
    int index = self->upstream_count && !catalog_has_uri (self->table, lists_filter (self), uri)?
                s_resource (self, uri, false, &own): -1;
    if (index >= 0 && zmq_send (self->upstream_raw [index], "SUBSCRIBE", 9, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 9)
        zmq_send (self->upstream_raw [index], own, strlen (own), 0);
}

void
upstreams_updated (host_t *self, zmq_msg_t *body)
{
    const char *data = (const char *) zmq_msg_data (body);
    const char *space = memchr (data, ' ', zmq_msg_size (body));
    int index = space? s_index (self, data, (size_t) (space - data)): -1;
    if (index < 0)
        return;
    const char *own = space + 1;
    size_t size = zmq_msg_size (body) - (size_t) (own - data);
    //  The URI sessions know: its resource's name, else (a templated URI)
    //  as the upstream says it
    json_t *names = json_object_get (self->upstream_names [index], s_keys [LIST_RESOURCES]);
    size_t at;
    json_t *item;
    json_array_foreach (s_list (self, index, LIST_RESOURCES), at, item) {
        const char *uri = json_string_value (json_object_get (item, "uri"));
        const char *exposed = json_string_value (json_array_get (names, at));
        if (uri && exposed && strlen (uri) == size && memcmp (uri, own, size) == 0) {
            subscriptions_updated_uri (self, exposed, strlen (exposed));
            return;
        }
    }
    subscriptions_updated_uri (self, own, size);
}

//  params with one field set to the upstream's own name or URI. A 2026
//  server learns per request what it may ask the client and which logs it
//  wants (the upstream actor drops both for a 2025 server, which learns
//  neither that way).
static json_t *
s_params (json_t *params, const char *path, const char *own, session_t *session)
{
    json_t *copy = json_deep_copy (params);
    json_t *object = copy;
    if (streq (path, "ref.name") || streq (path, "ref.uri")) {
        object = json_object_get (copy, "ref");
        path += 4;
    }
    json_object_set_new (object, path, json_string (own));
    json_t *meta = json_object_get (copy, "_meta");
    if (!json_is_object (meta)) {
        meta = json_object ();
        json_object_set_new (copy, "_meta", meta);
    }
    if (session->capabilities)      //  shared, not copied: the params are text before the host moves on
        json_object_set (meta, "io.modelcontextprotocol/clientCapabilities", session->capabilities);
    else
        json_object_set_new (meta, "io.modelcontextprotocol/clientCapabilities", json_object ());
    if (session->log_level)
        json_object_set_new (meta, "io.modelcontextprotocol/logLevel",
                             json_string (mcp_log_level_name (session->log_level - 1)));
    else
        json_object_del (meta, "io.modelcontextprotocol/logLevel");
    return copy;
}

bool
upstreams_route (host_t *self, request_t *request)
{
    if (!self->upstream_count || !json_is_object (request->params))
        return false;
    json_t *params = request->params;
    const char *own = NULL, *path = NULL;
    int index = -1;
    json_t *ref = json_object_get (params, "ref");
    const char *type = json_string_value (json_object_get (ref, "type"));
    switch (request->method) {
        case METHOD_TOOLS_CALL:
            index = s_named (self, LIST_TOOLS, json_string_value (json_object_get (params, "name")), &own);
            path = "name";
            break;
        case METHOD_PROMPTS_GET:
            index = s_named (self, LIST_PROMPTS, json_string_value (json_object_get (params, "name")), &own);
            path = "name";
            break;
        case METHOD_RESOURCES_READ:
            if (json_string_value (json_object_get (params, "uri"))
            &&  !catalog_has_uri (self->table, lists_filter (self), json_string_value (json_object_get (params, "uri"))))
                index = s_resource (self, json_string_value (json_object_get (params, "uri")), false, &own);
            path = "uri";
            break;
        case METHOD_COMPLETE:
            if (type && streq (type, "ref/prompt")) {
                index = s_named (self, LIST_PROMPTS, json_string_value (json_object_get (ref, "name")), &own);
                path = "ref.name";
            }
            else
            if (type && streq (type, "ref/resource") && json_string_value (json_object_get (ref, "uri"))
            &&  !catalog_has (self->table, LIST_TEMPLATES, json_string_value (json_object_get (ref, "uri")))) {
                index = s_resource (self, json_string_value (json_object_get (ref, "uri")), true, &own);
                path = "ref.uri";
            }
            break;
        default:
            return false;
    }
    //  A row an operator disabled is none: the catalog answers as for one
    //  that does not exist
    const catalog_filter_t *filter = lists_filter (self);
    const char *asked = !path? NULL:
                        request->method == METHOD_COMPLETE? json_string_value (json_object_get (ref, path + 4)):
                        json_string_value (json_object_get (params, path));
    list_kind_t kind = request->method == METHOD_TOOLS_CALL? LIST_TOOLS:
                       request->method == METHOD_RESOURCES_READ? LIST_RESOURCES:
                       path && streq (path, "ref.uri")? LIST_TEMPLATES: LIST_PROMPTS;
    if (index >= 0 && filter && asked && filter->hidden (filter->arg, kind, asked))
        return false;
    if (index == -1)
        return false;
    if (index == -2) {
        host_answer_error (self, request->session, request->peer, request->id, JSONRPC_INVALID_PARAMS,
                           request->method == METHOD_TOOLS_CALL? "unknown tool": "unknown prompt");
        return true;
    }
    json_t *forwarded = s_params (params, path, own, request->session);
    calls_start_upstream (self, request, index, forwarded);
    json_decref (forwarded);
    return true;
}
