/*  actor — see actor.h. */
#include "runtime/actor.h"

void
actor_ready (zsock_t *pipe, const char *reason)
{
    zsock_signal (pipe, 0);
    if (reason)
        zstr_sendx (pipe, "ERROR", reason, NULL);
    else
        zstr_send (pipe, "READY");
}

zactor_t *
actor_start (zactor_fn *body, void *args, char *error, size_t error_size)
{
    zactor_t *actor = zactor_new (body, args);
    if (!actor) {
        snprintf (error, error_size, "cannot start a thread");
        return NULL;
    }
    char *status = NULL, *reason = NULL;
    if (zstr_recvx (actor, &status, &reason, NULL) >= 1 && streq (status, "READY")) {
        zstr_free (&status);
        return actor;
    }
    snprintf (error, error_size, "%s", reason? reason: "actor failed to start");
    zstr_free (&status);
    zstr_free (&reason);
    zactor_destroy (&actor);
    return NULL;
}

bool
actor_told_to_stop (zsock_t *pipe)
{
    char *command = zstr_recv (pipe);
    bool stop = !command || streq (command, "$TERM");
    zstr_free (&command);
    return stop;
}
