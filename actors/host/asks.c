/*  asks — requests from calls to the client, and the client's answers.

    Owns: the asks in flight, "sid/id" -> the call that asked (a call asks
    one thing at a time: its worker waits for the answer). The id is the
    host's own JSON-RPC id space for requests to clients: integers from 1,
    never reused while the host runs, so a late answer can never match a
    newer ask.
    Takes: ASK call-id, {"method","params"} from the tool pool (through
    calls.c); a client's response in a MSG (through methods.c);
    notifications/roots/list_changed.
    Sends: the request to the client as a MSG on the call's stream (HTTP:
    the SSE stream of the request that started the call; MCPZ/1: the peer
    that sent it); TELL call-id, {"result"} | {"error"} | {"changed":"roots"}
    to the call's worker; notifications/cancelled for an ask whose call
    ended first.

    Every ask is answered to its call exactly once: by the client, by a
    refusal here, or not at all when the call ends first (its worker has
    been told to stop). The call's deadline covers the wait.
*/
#include "actors/host/asks.h"
#include "actors/host/host.h"
#include "proto/jsonrpc.h"
#include "runtime/frames.h"

#include <inttypes.h>

int
asks_setup (host_t *self)
{
    self->asks = zhashx_new ();
    return self->asks? 0: -1;
}

void
asks_destroy (host_t *self)
{
    zhashx_destroy (&self->asks);
}

static void
s_key (char *key, size_t size, const char *sid, uint64_t id)
{
    snprintf (key, size, "%s/%" PRIu64, sid, id);
}

static void
s_tell_error (host_t *self, call_t *call, int code, const char *message)
{
    json_t *answer = json_pack ("{s:{s:i,s:s}}", "error", "code", code, "message", message);
    char *text = json_dumps (answer, JSON_COMPACT);
    json_decref (answer);
    if (text)
        calls_tell (self, call, text);
    free (text);
}

//  Why the client cannot be asked this, or NULL when it can (MCP: a server
//  sends only what the client declared it handles).
static const char *
s_refusal (session_t *session, const char *method, json_t *params)
{
    json_t *capabilities = session->capabilities;
    if (streq (method, "ping"))
        return NULL;
    if (streq (method, "sampling/createMessage"))
        return json_object_get (capabilities, "sampling")? NULL:
               "the client did not declare the sampling capability";
    if (streq (method, "roots/list"))
        return json_object_get (capabilities, "roots")? NULL:
               "the client did not declare the roots capability";
    if (streq (method, "elicitation/create")) {
        json_t *elicitation = json_object_get (capabilities, "elicitation");
        const char *mode = json_string_value (json_object_get (params, "mode"));
        if (!json_is_object (elicitation))
            return "the client did not declare the elicitation capability";
        //  An empty elicitation capability means form mode (2025-11-25)
        if (mode && streq (mode, "url"))
            return json_object_get (elicitation, "url")? NULL:
                   "the client did not declare URL-mode elicitation";
        return !json_object_size (elicitation) || json_object_get (elicitation, "form")? NULL:
               "the client did not declare form-mode elicitation";
    }
    return "mcpz sends clients only ping, sampling/createMessage, elicitation/create and roots/list";
}

void
asks_start (host_t *self, call_t *call, zmq_msg_t *body)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    json_t *ask = json_loadb ((const char *) zmq_msg_data (body), zmq_msg_size (body), 0, NULL);
    const char *method = json_string_value (json_object_get (ask, "method"));
    json_t *params = json_object_get (ask, "params");
    const char *refusal = !method || (params && !json_is_object (params))?
                          "an ask needs a method and object params":
                          !session || !session_live (session)? "the session is closing":
                          call->asking? "a call asks one thing at a time":
                          s_refusal (session, method, params);
    if (refusal) {
        s_tell_error (self, call, JSONRPC_METHOD_NOT_FOUND, refusal);
        json_decref (ask);
        return;
    }
    uint64_t id = ++self->next_ask;
    bool roots = streq (method, "roots/list");
    json_t *request = json_pack ("{s:s,s:I,s:s}", "jsonrpc", "2.0", "id", (json_int_t) id, "method", method);
    if (params)
        json_object_set (request, "params", params);
    json_decref (ask);          //  method and params are gone with it
    size_t size;
    char *text = request? json_dumps (request, JSON_COMPACT): NULL;
    json_decref (request);
    if (!text) {
        s_tell_error (self, call, JSONRPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    size = strlen (text);
    char key [MCPZ_SID_SIZE + 24];
    s_key (key, sizeof (key), call->sid, id);
    zhashx_insert (self->asks, key, call);
    call->asking = id;
    call->asked_roots |= roots;
    call->roots_told &= !roots;
    host_send (self, "MSG", &call->peer, session->id, session, text, size);
}

bool
asks_answer (host_t *self, session_t *session, jsonrpc_t *msg)
{
    json_t *id = jsonrpc_id (msg);
    if (!json_is_integer (id) || json_integer_value (id) <= 0)
        return false;
    char key [MCPZ_SID_SIZE + 24];
    s_key (key, sizeof (key), session->id, (uint64_t) json_integer_value (id));
    call_t *call = (call_t *) zhashx_lookup (self->asks, key);
    if (!call)
        return false;           //  its call ended, or no such ask: nobody waits
    zhashx_delete (self->asks, key);
    call->asking = 0;
    json_t *result = jsonrpc_result (msg);
    json_t *answer = result? json_pack ("{s:O}", "result", result):
                             json_pack ("{s:O}", "error", jsonrpc_error (msg));
    char *text = answer? json_dumps (answer, JSON_COMPACT): NULL;
    json_decref (answer);
    if (text)
        calls_tell (self, call, text);
    else
        s_tell_error (self, call, JSONRPC_INTERNAL_ERROR, "out of memory");
    free (text);
    return true;
}

void
asks_end_call (host_t *self, call_t *call)
{
    if (!call->asking)
        return;
    char key [MCPZ_SID_SIZE + 24];
    s_key (key, sizeof (key), call->sid, call->asking);
    zhashx_delete (self->asks, key);
    session_t *session = (session_t *) zhashx_lookup (self->sessions, call->sid);
    if (session && session_live (session)) {
        char params [96];
        snprintf (params, sizeof (params),
                  "{\"requestId\":%" PRIu64 ",\"reason\":\"the request that asked has ended\"}", call->asking);
        size_t size;
        char *body = jsonrpc_encode_notification ("notifications/cancelled", params, &size);
        host_send (self, "MSG", &call->peer, session->id, session, body, size);
    }
    call->asking = 0;
}

void
asks_roots_changed (host_t *self, session_t *session)
{
    if (session->inflight == 0)
        return;
    for (call_t *call = (call_t *) zhashx_first (self->calls); call;
         call = (call_t *) zhashx_next (self->calls))
        if (call->asked_roots && !call->roots_told && streq (call->sid, session->id)) {
            //  Once until it asks again: a client cannot flood a worker
            call->roots_told = true;
            calls_tell (self, call, "{\"changed\":\"roots\"}");
        }
}
