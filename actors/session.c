/*  session — see session.h. */
#include "actors/session.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

session_t *
session_new (const char *id, int version, json_t *client_info,
             json_t *capabilities, uint32_t epoch, int64_t now_ms)
{
    assert (mcpz_sid_valid (id, strlen (id)));
    session_t *self = (session_t *) calloc (1, sizeof (session_t));
    if (!self) {
        json_decref (client_info);
        json_decref (capabilities);
        return NULL;
    }
    memcpy (self->id, id, MCPZ_SID_SIZE + 1);
    self->version = (uint8_t) version;
    self->state = epoch? SESSION_READY: SESSION_INITIALIZING;
    self->event_id = (uint64_t) epoch << 32;
    self->client_info = client_info;
    self->capabilities = capabilities;
    self->created_ms = (int64_t) time (NULL) * 1000;
    self->last_activity_ms = now_ms;
    return self;
}

void
session_destroy (session_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        json_decref ((*self_p)->client_info);
        json_decref ((*self_p)->capabilities);
        json_decref ((*self_p)->subscriptions);
        free ((*self_p)->principal);
        ring_destroy (&(*self_p)->ring);
        if ((*self_p)->listener)
            zmq_msg_close ((*self_p)->listener);
        free ((*self_p)->listener);
        free (*self_p);
        *self_p = NULL;
    }
}

int
session_set_principal (session_t *self, const char *principal)
{
    free (self->principal);
    self->principal = principal && *principal? strdup (principal): NULL;
    return principal && *principal && !self->principal? -1: 0;
}

bool
session_allows (session_t *self, const void *principal, size_t size)
{
    size_t own = self->principal? strlen (self->principal): 0;
    return own == size && memcmp (self->principal? self->principal: "", principal, size) == 0;
}

bool
session_live (session_t *self)
{
    return self->state == SESSION_INITIALIZING || self->state == SESSION_READY;
}

int
session_set_listener (session_t *self, zmq_msg_t *peer)
{
    if (!self->listener) {
        self->listener = (zmq_msg_t *) malloc (sizeof (zmq_msg_t));
        if (!self->listener)
            return -1;
        zmq_msg_init (self->listener);
    }
    return zmq_msg_copy (self->listener, peer);
}

void
session_heard (session_t *self, zmq_msg_t *peer)
{
    size_t size = zmq_msg_size (peer);
    self->last_peer_size = size <= SESSION_PEER_MAX? (uint8_t) size: 0;
    if (self->last_peer_size)
        memcpy (self->last_peer, zmq_msg_data (peer), size);
}

uint32_t
session_epoch (session_t *self)
{
    return (uint32_t) (self->event_id >> 32);
}

uint64_t
session_next_event (session_t *self)
{
    return ++self->event_id;
}

void
session_test (bool verbose)
{
    printf (" * session: ");
    session_t *session = session_new ("0123456789abcdef0123456789abcdef", 2,
                                      json_pack ("{s:s}", "name", "t"),
                                      json_object (), 0, 1000);
    assert (session);
    assert (session->state == SESSION_INITIALIZING);
    assert (session_live (session));
    assert (session->last_activity_ms == 1000);
    assert (session_next_event (session) == 1);
    assert (session_next_event (session) == 2);
    //  Unbound: anyone unauthenticated, nobody authenticated
    assert (session_allows (session, "", 0));
    assert (!session_allows (session, "curve:k", 7));
    assert (session_set_principal (session, "curve:k") == 0);
    assert (session_allows (session, "curve:k", 7));
    assert (!session_allows (session, "curve:kk", 8));
    assert (!session_allows (session, "curve:", 6));
    assert (!session_allows (session, "", 0));
    session_destroy (&session);
    assert (!session);
    session_destroy (&session);
    //  A loaded session continues above every id of its earlier lives
    session = session_new ("0123456789abcdef0123456789abcdef", 1, json_object (),
                           json_object (), 3, 0);
    assert (session->state == SESSION_READY);
    assert (session_next_event (session) == (3ull << 32) + 1);
    session->state = SESSION_CLOSING;
    assert (!session_live (session));
    zmq_msg_t peer;
    zmq_msg_init_size (&peer, 5);
    memcpy (zmq_msg_data (&peer), "\0abcd", 5);
    assert (session_set_listener (session, &peer) == 0);
    assert (session_set_listener (session, &peer) == 0);
    assert (zmq_msg_size (session->listener) == 5);
    session_heard (session, &peer);
    assert (session->last_peer_size == 5);
    zmq_msg_close (&peer);
    session_destroy (&session);
    printf ("OK\n");
}
