/*  lists — what a session's list methods show, and the notices that it
    changed.
*/
#ifndef MCPZ_HOST_LISTS_H
#define MCPZ_HOST_LISTS_H

#include "actors/host/methods.h"
#include "tools/catalog.h"

//  tools/list, resources/list, resources/templates/list, prompts/list: one
//  page; a cursor never given out is -32602.
void
    lists_answer (host_t *self, request_t *request, list_kind_t kind);

//  What requests may not name: NULL while the operator disabled nothing.
const catalog_filter_t *
    lists_filter (host_t *self);

//  CATALOG body, the whole disabled set {"tool": [names], "resource",
//  "template", "prompt"} from the supervisor: the lists it changes change,
//  and every ready session hears of each.
void
    lists_change (host_t *self, zmq_msg_t *body);

//  One upstream's lists changed (changed says which kinds): pages are
//  made again and every ready session hears of each list that changed.
void
    lists_upstreams_changed (host_t *self, const bool *changed);

void
    lists_destroy (host_t *self);

#endif
