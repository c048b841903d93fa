/*  lists — the catalog as this host's sessions see it: less what an
    operator disabled (control commands disable and enable), in pages.

    Owns: the disabled rows of each list (hidden, NULL while none) and this
    host's own pages of a list that has disabled rows (else the catalog's
    shared pages serve). Every host holds the same set: the supervisor
    sends each change to every host.
    Takes: CATALOG "", "", {"action","kind","name"} from the supervisor
    (session_host.c).
    Sends: notifications/tools/list_changed, notifications/resources/
    list_changed (resources and templates) or notifications/prompts/
    list_changed to every ready session, on its listener (kept for replay
    when it has none).
*/
#include "actors/host/lists.h"
#include "actors/host/host.h"
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
    if (!cursor || json_is_string (cursor))
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
            host_send (self, "MSG", session->listener, session->id, session, body, size);
        }
}

void
lists_change (host_t *self, zmq_msg_t *body)
{
    json_t *change = json_loadb ((const char *) zmq_msg_data (body), zmq_msg_size (body), 0, NULL);
    const char *action = json_string_value (json_object_get (change, "action"));
    const char *name = json_string_value (json_object_get (change, "name"));
    int kind = catalog_kind (json_string_value (json_object_get (change, "kind")));
    if (!action || !name || kind < 0) {
        log_error (self->name, "malformed CATALOG from the supervisor");
        json_decref (change);
        return;
    }
    if (!self->hidden [kind])
        self->hidden [kind] = zhashx_new ();
    if (streq (action, "disable"))
        zhashx_insert (self->hidden [kind], name, (void *) 1);
    else
        zhashx_delete (self->hidden [kind], name);
    json_decref (change);
    catalog_pages_destroy (&self->pages [kind], self->page_counts [kind]);
    if (zhashx_size (self->hidden [kind])) {
        catalog_filter_t filter = { s_hidden, self };
        self->pages [kind] = catalog_pages_new (self->table, (list_kind_t) kind, self->config->page_size,
                                                &filter, &self->page_counts [kind]);
        if (!self->pages [kind])
            log_error (self->name, "no memory for list pages: the whole list shows");
    }
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
