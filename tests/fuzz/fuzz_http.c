/*  fuzz_http — libFuzzer target for what the HTTP edge reads from clients
    before anything else does: a POST body's shape (proto/http.c, its own
    scanner and jansson behind it), then the same bytes through the
    host's JSON-RPC parser, and the header helpers (Origin, Host, Accept,
    and the Mcp-* headers a 2026-07-28 request mirrors, with the bytes as
    both request and tool schema), then the log's UTF-8 cleaning.

    Build: cmake -DMCPZ_FUZZ=ON with clang (tests/tests.cmake); run:
    build/fuzz_http -max_total_time=60 -max_len=4096
*/
#include "proto/http.h"
#include "proto/jsonrpc.h"
#include "proto/jsonw.h"
#include "proto/mcpheaders.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    http_body_t body;
    const char *reason;
    int code = http_body_read ((const char *) data, size, &body, &reason);
    //  The scanner and the full parser must agree on what they both read
    if (code == 0 && body.requests) {
        int parse_code;
        json_t *id = NULL;
        jsonrpc_t *message = jsonrpc_parse ((const char *) data, size, &parse_code, &reason, &id);
        jsonrpc_destroy (&message);
        json_decref (id);
    }
    http_body_clear (&body);
    char *text = (char *) malloc (size + 1);
    if (!text)
        return 0;
    memcpy (text, data, size);
    text [size] = 0;
    bool json, sse;
    http_accepts (text, &json, &sse);
    http_origin_allowed (text, "https://a.example, http://b.example:8080");
    http_host_loopback (text);
    char address [256];
    int port;
    http_parse_address (text, address, sizeof (address), &port);
    size_t event_size;
    free (http_sse_event ("1", text, size, &event_size));
    free (mcpheaders_value (text, size));
    json_t *parsed = json_loadb (text, size, 0, NULL);
    if (json_is_object (parsed)) {
        const char *why;
        if (mcpheaders_schema_valid (parsed, &why))
            free (mcpheaders_request (parsed, parsed));
    }
    json_decref (parsed);
    //  What the log cleans is always a JSON string
    size_t cleaned = jsonw_utf8_clean (text, size);
    json_t *checked = json_stringn (text, cleaned);
    if (!checked && !memchr (text, 0, cleaned))
        abort ();
    json_decref (checked);
    free (text);
    return 0;
}
