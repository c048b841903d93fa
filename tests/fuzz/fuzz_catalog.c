/*  fuzz_catalog — libFuzzer target for what the catalog reads from clients:
    the params of tools/call, resources/read (URI templates matched against
    any URI), prompts/get and completion/complete, list cursors, and the
    inline code those requests run, with a row hidden as an operator's
    disable would.

    Build: cmake -DMCPZ_FUZZ=ON with clang (tests/tests.cmake); run:
    build/fuzz_catalog -max_total_time=60 -max_len=4096
*/
#include "tools/catalog.h"
#include "tools/demo.h"
#include "tools/fixtures.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool
s_hidden (void *arg, list_kind_t kind, const char *key)
{
    return kind == LIST_PROMPTS && strcmp (key, "test_simple_prompt") == 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static catalog_t *catalog;
    if (!catalog) {
        catalog = catalog_new ();
        if (demo_register (catalog) || fixtures_register (catalog) || catalog_freeze (catalog, 2))
            abort ();
    }
    static const char *const methods [] = {
        "tools/call", "resources/read", "prompts/get", "completion/complete"
    };
    if (size < 1)
        return 0;
    char *text = strndup ((const char *) data + 1, size - 1);
    if (data [0] >= 4) {
        catalog_page (catalog, (list_kind_t) (data [0] % LISTS), text);
        free (text);
        return 0;
    }
    json_t *params = json_loads (text, JSON_DECODE_ANY, NULL);
    free (text);
    catalog_filter_t filter = { s_hidden, NULL };
    tool_call_t call = { 0 };
    catalog_target_t target;
    char message [200];
    if (catalog_resolve (catalog, &filter, methods [data [0]], params, &call, &target,
                         message, sizeof (message)) == 0 && target.is_inline) {
        target.run (&call);
        catalog_check_output (&call);
    }
    tool_call_clear (&call);
    catalog_target_clear (&target);
    json_decref (params);
    return 0;
}
