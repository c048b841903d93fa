/*  upstreams — the MCP servers behind mcpz as a session host sees them:
    their rows in the lists, and requests that name them.
*/
#ifndef MCPZ_HOST_UPSTREAMS_H
#define MCPZ_HOST_UPSTREAMS_H

#include "actors/host/methods.h"
#include "tools/catalog.h"

//  Connects a DEALER to every upstream (endpoint and "-N"). Returns 0 or -1.
int
    upstreams_setup (host_t *self, const char *endpoint);

void
    upstreams_destroy (host_t *self);

//  UPSTREAM body from the supervisor: one upstream's lists, whole. Its
//  part of the lists changes, and sessions hear of each list that changed.
void
    upstreams_change (host_t *self, zmq_msg_t *body);

//  Adds the upstreams' rows of a list to items, as sessions see them:
//  names prefixed NAME_, resource URIs and templates as they are unless
//  another row has them already (then NAME+URI).
void
    upstreams_items (host_t *self, list_kind_t kind, json_t *items);

//  A request for a provider that names an upstream's row: sent there (or
//  answered with the error of an unknown row of a known upstream).
//  Returns false when it names none: the catalog answers.
bool
    upstreams_route (host_t *self, request_t *request);

//  True when uri is an upstream's resource, or matches its template.
bool
    upstreams_has_uri (host_t *self, const char *uri);

//  A session subscribes to uri: when an upstream serves it, the upstream
//  subscribes too (SUBSCRIBE own-uri).
void
    upstreams_subscribe (host_t *self, const char *uri);

//  RESOURCE "NAME uri" from the supervisor: the upstream's resource
//  changed; sessions watching it, by the URI they know, hear of it.
void
    upstreams_updated (host_t *self, zmq_msg_t *body);

#endif
