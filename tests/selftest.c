/*  selftest — runs the self-test of one class, or all of them.
    Usage: mcpz_selftest [CLASS] [-v] */
#include "actors/session.h"
#include "proto/control.h"
#include "proto/http.h"
#include "proto/metrics.h"
#include "proto/jsonrpc.h"
#include "proto/jsonw.h"
#include "proto/mcp.h"
#include "proto/mcpheaders.h"
#include "proto/endpoint.h"
#include "actors/zap.h"
#include "actors/http/auth.h"
#include "proto/mcpz.h"
#include "runtime/config.h"
#include "runtime/ids.h"
#include "runtime/heap.h"
#include "runtime/ring.h"
#include "store/store.h"
#include "tools/catalog.h"
#include "tools/content.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} test_t;

static const test_t s_tests [] = {
    { "jsonw", jsonw_test },
    { "jsonrpc", jsonrpc_test },
    { "mcp", mcp_test },
    { "mcpz", mcpz_test },
    { "control", control_test },
    { "metrics", metrics_test },
    { "http", http_test },
    { "mcpheaders", mcpheaders_test },
    { "endpoint", endpoint_test },
    { "config", config_test },
    { "ids", ids_test },
    { "heap", heap_test },
    { "ring", ring_test },
    { "tool", tool_test },
    { "content", content_test },
    { "catalog", catalog_test },
    { "session", session_test },
    { "zap", zap_test },
    { "http_auth", http_auth_test },
    { "store", store_test },
};

int
main (int argc, char *argv [])
{
    bool verbose = argc > 2 && strcmp (argv [2], "-v") == 0;
    const char *only = argc > 1? argv [1]: NULL;
    int ran = 0;
    for (size_t index = 0; index < sizeof (s_tests) / sizeof (s_tests [0]); index++)
        if (!only || strcmp (only, s_tests [index].name) == 0) {
            s_tests [index].test (verbose);
            ran++;
        }
    if (!ran) {
        fprintf (stderr, "selftest: no class named '%s'\n", only);
        return 1;
    }
    return 0;
}
