/*  subscriptions — resources/subscribe and unsubscribe, and the
    notifications/resources/updated they bring.
*/
#ifndef MCPZ_HOST_SUBSCRIPTIONS_H
#define MCPZ_HOST_SUBSCRIPTIONS_H

#include "actors/host/methods.h"

//  A session holds at most this many subscriptions
#define SUBSCRIPTIONS_MAX 128

void
    subscriptions_subscribe (host_t *self, request_t *request);

void
    subscriptions_unsubscribe (host_t *self, request_t *request);

//  The resource at uri changed: every session of this host subscribed to
//  it gets notifications/resources/updated, on its listener (or kept for
//  replay when it has none).
void
    subscriptions_updated (host_t *self, zmq_msg_t *uri);

//  The same for a URI as text.
void
    subscriptions_updated_uri (host_t *self, const char *uri, size_t size);

#endif
