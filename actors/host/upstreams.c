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
    lists_upstreams_changed (self, changed);
}

//  The JSON items of upstream index's list kind (borrowed; may be NULL)
static json_t *
s_list (host_t *self, int index, list_kind_t kind)
{
    return json_object_get (self->upstream_lists [index], s_keys [kind]);
}

//  True when an earlier row has this URI (or template): the catalog's, or
//  an upstream's before index
static bool
s_taken (host_t *self, int index, list_kind_t kind, const char *uri)
{
    if (kind == LIST_RESOURCES? catalog_has_uri (self->table, NULL, uri): catalog_has (self->table, kind, uri))
        return true;
    for (int before = 0; before < index; before++) {
        size_t at;
        json_t *item;
        json_array_foreach (s_list (self, before, kind), at, item) {
            const char *other = json_string_value (json_object_get (item, kind == LIST_RESOURCES? "uri": "uriTemplate"));
            if (other && streq (other, uri))
                return true;
        }
    }
    return false;
}

//  The name (NAME_x) or URI (as it is, or NAME+URI) sessions see. Caller frees.
static char *
s_exposed (host_t *self, int index, list_kind_t kind, const char *own)
{
    const char *name = self->config->upstreams [index].name;
    char *exposed = NULL;
    if (kind == LIST_TOOLS || kind == LIST_PROMPTS) {
        if (asprintf (&exposed, "%s_%s", name, own) < 0)
            exposed = NULL;
    }
    else
    if (s_taken (self, index, kind, own)) {
        if (asprintf (&exposed, "%s+%s", name, own) < 0)
            exposed = NULL;
    }
    else
        exposed = strdup (own);
    return exposed;
}

void
upstreams_items (host_t *self, list_kind_t kind, json_t *items)
{
    const char *field = kind == LIST_RESOURCES? "uri": kind == LIST_TEMPLATES? "uriTemplate": "name";
    for (int index = 0; index < self->upstream_count; index++) {
        size_t at;
        json_t *item;
        json_array_foreach (s_list (self, index, kind), at, item) {
            const char *own = json_string_value (json_object_get (item, field));
            char *exposed = own? s_exposed (self, index, kind, own): NULL;
            const catalog_filter_t *filter = lists_filter (self);
            if (!exposed || (filter && filter->hidden (filter->arg, kind, exposed))) {
                free (exposed);
                continue;
            }
            json_t *copy = json_deep_copy (item);
            json_object_set_new (copy, field, json_string (exposed));
            json_array_append_new (items, copy);
            free (exposed);
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
    size_t at;
    json_t *item;
    json_array_foreach (s_list (self, index, kind), at, item)
        if (streq (json_string_value (json_object_get (item, "name"))?: "", *own_p))
            return index;
    return -2;
}

//  The upstream serving uri (a resource of it, or one of its templates'),
//  with the URI it knows; -1 when none. *own_p points into uri.
static int
s_resource (host_t *self, const char *uri, bool exact, const char **own_p)
{
    for (int index = 0; index < self->upstream_count; index++) {
        for (int kind = LIST_RESOURCES; kind <= LIST_TEMPLATES; kind++) {
            const char *field = kind == LIST_RESOURCES? "uri": "uriTemplate";
            size_t at;
            json_t *item;
            json_array_foreach (s_list (self, index, (list_kind_t) kind), at, item) {
                const char *own = json_string_value (json_object_get (item, field));
                char *exposed = own? s_exposed (self, index, (list_kind_t) kind, own): NULL;
                bool prefixed = exposed && own && strcmp (exposed, own) != 0;
                const char *asked = prefixed && strncmp (uri, exposed, strlen (exposed) - strlen (own)) == 0?
                                    uri + strlen (exposed) - strlen (own): prefixed? NULL: uri;
                bool match = asked && (kind == LIST_RESOURCES || exact? streq (asked, own):
                                       catalog_template_match (own, asked));
                match &= !exact || kind == LIST_TEMPLATES;
                free (exposed);
                if (match) {
                    *own_p = asked;
                    return index;
                }
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
    char *own = strndup (space + 1, zmq_msg_size (body) - (size_t) (space - data) - 1);
    char *exposed = own? s_exposed (self, index, LIST_RESOURCES, own): NULL;
    if (exposed)
        subscriptions_updated_uri (self, exposed, strlen (exposed));
    free (exposed);
    free (own);
}

//  params with one field set to the upstream's own name or URI
static json_t *
s_params (json_t *params, const char *path, const char *own)
{
    json_t *copy = json_deep_copy (params);
    json_t *object = copy;
    if (streq (path, "ref.name") || streq (path, "ref.uri")) {
        object = json_object_get (copy, "ref");
        path += 4;
    }
    json_object_set_new (object, path, json_string (own));
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
    json_t *forwarded = s_params (params, path, own);
    calls_start_upstream (self, request, index, forwarded);
    json_decref (forwarded);
    return true;
}
