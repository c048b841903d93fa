/*  session_host — owns a table of sessions and answers their messages. */
#ifndef MCPZ_SESSION_HOST_H
#define MCPZ_SESSION_HOST_H

#include <czmq.h>
#include "runtime/config.h"
#include "tools/catalog.h"

typedef struct {
    const config_t *config;     //  read-only settings
    catalog_t *table;           //  read-only catalog
    int index;                  //  which host this is, 0..n-1
    int count;                  //  how many hosts there are
    const char *tools_endpoint; //  the tool pool's inproc endpoint
    const char *cleanup_endpoint;   //  the cleanup actor's inproc endpoint
    const char *control_endpoint;   //  the control actor's inproc endpoint
    char (*db_endpoints) [64];  //  the DB workers; none when store is none
    int db_count;
    const char *upstreams;      //  upstream N's endpoint is this and "-N"
} session_host_args_t;

//  zactor body; args is a session_host_args_t, read before the actor signals.
void
    session_host_actor (zsock_t *pipe, void *args);

#endif
