/*  lists — the catalog as this host's sessions see it: less what an
    operator disabled (control commands disable and enable), in pages.

    Owns: the disabled rows of each list (hidden, NULL while none) and this
    host's own pages of a list that has disabled rows (else the catalog's
    shared pages serve). Every host holds the same set: the supervisor
    sends each change to every host.
    Takes: CATALOG "", "", {"tool": [names], "resource": [...], "template":
    [...], "prompt": [...]} from the supervisor (session_host.c): the whole
    disabled set, so a host that got it late still gets it right.
    Sends: notifications/tools/list_changed, notifications/resources/
    list_changed (resources and templates) or notifications/prompts/
    list_changed to every ready session, on its listener (kept for replay
    when it has none).
*/
#include "actors/host/lists.h"
#include "actors/host/host.h"
#include "actors/host/upstreams.h"
#include "proto/jsonrpc.h"
#include "runtime/log.h"

static const char *const s_notices [LISTS] = {
    "notifications/tools/list_changed", "notifications/resources/list_changed",
    "notifications/resources/list_changed", "notifications/prompts/list_changed"
};

static bool
s_hidden (void *arg, list_kind_t kind, const char *key)
{
    host_t *self = (host_t *) arg;
    return self->hidden [kind] && zhashx_lookup (self->hidden [kind], key);
}

const catalog_filter_t *
lists_filter (host_t *self)
{
    for (int kind = 0; kind < LISTS; kind++)
        if (self->hidden [kind] && zhashx_size (self->hidden [kind])) {
            self->filter.hidden = s_hidden;
            self->filter.arg = self;
            return &self->filter;
        }
    return NULL;
}

void
lists_answer (host_t *self, request_t *request, list_kind_t kind)
{
    json_t *cursor = json_object_get (request->params, "cursor");
    const char *page = NULL;
    if (!cursor || json_is_null (cursor) || json_is_string (cursor))
        page = self->pages [kind]?
               catalog_pages_find (self->pages [kind], self->page_counts [kind], json_string_value (cursor)):
               catalog_page (self->table, kind, json_string_value (cursor));
    if (page)
        host_answer_result (self, request->session, request->peer, request->id, page);
    else
        host_answer_error (self, request->session, request->peer, request->id,
                           JSONRPC_INVALID_PARAMS, "invalid cursor");
}

//  Every ready session hears that a list changed
static void
s_notify (host_t *self, list_kind_t kind)
{
    for (session_t *session = (session_t *) zhashx_first (self->sessions); session;
         session = (session_t *) zhashx_next (self->sessions))
        if (session->state == SESSION_READY) {
            size_t size;
            char *body = jsonrpc_encode_notification (s_notices [kind], NULL, &size);
            host_notify (self, session, body, size);
        }
}

//  True when the set holds exactly the names
static bool
s_same (zhashx_t *set, json_t *names)
{
    if ((set? zhashx_size (set): 0) != json_array_size (names))
        return false;
    size_t index;
    json_t *name;
    json_array_foreach (names, index, name)
        if (!json_is_string (name) || !zhashx_lookup (set, json_string_value (name)))
            return false;
    return true;
}

//  This host's pages of a list: the catalog's rows less the hidden ones,
//  and the upstreams' rows; none (the catalog's shared pages serve) when
//  it has neither
static void
s_repage (host_t *self, list_kind_t kind)
{
    catalog_pages_destroy (&self->pages [kind], self->page_counts [kind]);
    json_t *items = catalog_items (self->table, kind, lists_filter (self));
    size_t own = json_array_size (items);
    upstreams_items (self, kind, items);
    bool hidden = self->hidden [kind] && zhashx_size (self->hidden [kind]);
    if (items && (hidden || json_array_size (items) > own)) {
        self->pages [kind] = catalog_pages_of (kind, items, self->config->page_size, &self->page_counts [kind]);
        if (!self->pages [kind])
            log_error (self->name, "no memory for a list's pages: the catalog's show");
    }
    json_decref (items);
}

//  The list shows what names leaves visible
static void
s_hide (host_t *self, list_kind_t kind, json_t *names)
{
    zhashx_destroy (&self->hidden [kind]);
    self->hidden [kind] = json_array_size (names)? zhashx_new (): NULL;
    size_t index;
    json_t *name;
    json_array_foreach (names, index, name)
        if (json_is_string (name) && self->hidden [kind])
            zhashx_insert (self->hidden [kind], json_string_value (name), (void *) 1);
    s_repage (self, kind);
}

void
lists_upstreams_changed (host_t *self, const bool *changed)
{
    //  An upstream's URIs show as they are only while no other row has them
    bool resources = changed [LIST_RESOURCES] || changed [LIST_TEMPLATES];
    for (int kind = 0; kind < LISTS; kind++)
        if (changed [kind] || (resources && (kind == LIST_RESOURCES || kind == LIST_TEMPLATES)))
            s_repage (self, (list_kind_t) kind);
    if (changed [LIST_TOOLS])
        s_notify (self, LIST_TOOLS);
    if (resources)
        s_notify (self, LIST_RESOURCES);
    if (changed [LIST_PROMPTS])
        s_notify (self, LIST_PROMPTS);
}

void
lists_change (host_t *self, zmq_msg_t *body)
{
    json_t *set = json_loadb ((const char *) zmq_msg_data (body), zmq_msg_size (body), 0, NULL);
    if (!json_is_object (set))
        log_error (self->name, "malformed CATALOG from the supervisor");
    //  Resources and templates share one notice; it is sent once
    bool notify [LISTS] = { false };
    for (int kind = 0; json_is_object (set) && kind < LISTS; kind++) {
        json_t *names = json_object_get (set, catalog_kind_name ((list_kind_t) kind));
        if (s_same (self->hidden [kind], names))
            continue;
        s_hide (self, (list_kind_t) kind, names);
        notify [kind == LIST_TEMPLATES? LIST_RESOURCES: kind] = true;
    }
    json_decref (set);
    for (int kind = 0; kind < LISTS; kind++)
        if (notify [kind])
            s_notify (self, (list_kind_t) kind);
}

void
lists_destroy (host_t *self)
{
    for (int kind = 0; kind < LISTS; kind++) {
        catalog_pages_destroy (&self->pages [kind], self->page_counts [kind]);
        zhashx_destroy (&self->hidden [kind]);
    }
}
