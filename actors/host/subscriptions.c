/*  subscriptions — which resources a session watches.

    Owns: nothing apart; each session keeps its subscriptions (a JSON object
    used as a set of URIs, NULL while it has none, freed with the session),
    so a closed session leaves nothing behind. An update walks the host's
    sessions: updates are rare next to requests, and a walk of 50,000
    sessions skipping those without subscriptions takes well under a
    millisecond, where an index would cost memory on every subscribe and
    bookkeeping on every way a session can end.
    Takes: UPDATED uri, from the supervisor (session_host.c).
    Sends: notifications/resources/updated to subscribed sessions.
*/
#include "actors/host/subscriptions.h"
#include "actors/host/host.h"
#include "actors/host/lists.h"
#include "actors/host/upstreams.h"
#include "proto/jsonw.h"
#include "proto/mcp.h"

//  The uri a (un)subscribe names, or NULL when it was answered with an
//  error here.
static const char *
s_uri (host_t *self, request_t *request)
{
    const char *uri = json_string_value (json_object_get (request->params, "uri"));
    if (!uri)
        host_answer_error (self, request->session, request->peer, request->id,
                           JSONRPC_INVALID_PARAMS, "params must name a resource uri");
    bool known = uri && (catalog_has_uri (self->table, lists_filter (self), uri)
                         || upstreams_has_uri (self, uri));
    if (uri && !known)
        host_answer_error (self, request->session, request->peer, request->id,
                           MCP_RESOURCE_NOT_FOUND, "resource not found");
    return known? uri: NULL;
}

void
subscriptions_subscribe (host_t *self, request_t *request)
{
    session_t *session = request->session;
    const char *uri = s_uri (self, request);
    if (!uri)
        return;
    upstreams_subscribe (self, uri);
    if (!session->subscriptions)
        session->subscriptions = json_object ();
    if (json_object_size (session->subscriptions) >= SUBSCRIPTIONS_MAX
    &&  !json_object_get (session->subscriptions, uri)) {
        host_answer_error (self, session, request->peer, request->id, JSONRPC_INVALID_REQUEST,
                           "a session may watch at most 128 resources");
        return;
    }
    if (!session->subscriptions || json_object_set_new (session->subscriptions, uri, json_true ())) {
        host_answer_error (self, session, request->peer, request->id, JSONRPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    host_answer_result (self, session, request->peer, request->id, "{}");
}

void
subscriptions_unsubscribe (host_t *self, request_t *request)
{
    session_t *session = request->session;
    //  What the session watches it may always stop watching, even a
    //  resource an operator has disabled since
    const char *uri = json_string_value (json_object_get (request->params, "uri"));
    if (!uri || !json_object_get (session->subscriptions, uri))
        uri = s_uri (self, request);
    if (!uri)
        return;
    json_object_del (session->subscriptions, uri);
    if (session->subscriptions && json_object_size (session->subscriptions) == 0)
        json_decref (session->subscriptions), session->subscriptions = NULL;
    host_answer_result (self, session, request->peer, request->id, "{}");
}

void
subscriptions_updated (host_t *self, zmq_msg_t *uri)
{
    subscriptions_updated_uri (self, (const char *) zmq_msg_data (uri), zmq_msg_size (uri));
}

void
subscriptions_updated_uri (host_t *self, const char *uri, size_t size)
{
    char *text = strndup (uri, size);
    jsonw_t writer;
    jsonw_init (&writer, size + 16);
    jsonw_text (&writer, "{\"uri\":");
    jsonw_string (&writer, uri, size);
    jsonw_text (&writer, "}");
    char *params = jsonw_finish (&writer, NULL);
    for (session_t *session = (session_t *) zhashx_first (self->sessions);
         text && params && session; session = (session_t *) zhashx_next (self->sessions))
        if (session->subscriptions && session_live (session)
        &&  json_object_get (session->subscriptions, text)) {
            size_t size;
            char *body = jsonrpc_encode_notification ("notifications/resources/updated", params, &size);
            host_notify (self, session, body, size);
        }
    free (params);
    free (text);
}
