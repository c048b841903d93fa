/*  endpoint — see endpoint.h. */
#include "proto/endpoint.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <string.h>

bool
endpoint_tcp_loopback (const char *address)
{
    const char *colon = strrchr (address, ':');
    if (!colon || strchr (address, ';') || !colon [1]
    ||  !(strcmp (colon + 1, "*") == 0 || strspn (colon + 1, "0123456789") == strlen (colon + 1)))
        return false;
    char host [64];
    size_t length = (size_t) (colon - address);
    if (length >= sizeof (host))
        return false;
    memcpy (host, address, length);
    host [length] = 0;
    struct in_addr ipv4;
    return strcmp (host, "localhost") == 0 || strcmp (host, "[::1]") == 0
        || (inet_pton (AF_INET, host, &ipv4) == 1 && (ntohl (ipv4.s_addr) >> 24) == 127);
}

bool
endpoint_local (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) == 0 || strncmp (endpoint, "inproc://", 9) == 0)
        return true;
    return strncmp (endpoint, "tcp://", 6) == 0 && endpoint_tcp_loopback (endpoint + 6);
}

void
endpoint_test (bool verbose)
{
    printf (" * endpoint: ");
    assert (endpoint_local ("tcp://127.0.0.1:5555"));
    assert (endpoint_local ("tcp://127.9.9.9:*"));
    assert (endpoint_local ("tcp://localhost:1"));
    assert (endpoint_local ("tcp://[::1]:1"));
    assert (endpoint_local ("ipc://@abstract"));
    assert (endpoint_local ("ipc:///tmp/x"));
    assert (!endpoint_local ("tcp://0.0.0.0:5555"));
    assert (!endpoint_local ("tcp://*:5555"));
    assert (!endpoint_local ("tcp://eth0:5555"));
    assert (!endpoint_local ("tcp://127.0.0.1:1;0.0.0.0:2"));
    assert (!endpoint_local ("tcp://127.0.0.1;10.0.0.1:2"));
    assert (!endpoint_local ("tcp://127.0.0.1:"));
    assert (!endpoint_local ("tcp://127.0.0.1:x"));
    assert (!endpoint_local ("ws://127.0.0.1:1"));
    assert (!endpoint_local ("tcp://10.0.0.1:1"));
    printf ("OK\n");
}
