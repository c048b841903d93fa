/*  fuzz_envelope — libFuzzer target for what a ZeroMQ client sends: an
    MCPZ/1 envelope (the input split into frames at each 0xff 0xfe pair),
    the id read from a refused body, then the body through the JSON-RPC
    parser and, for an initialize, the MCP params' checks.

    Build: cmake -DMCPZ_FUZZ=ON with clang (tests/tests.cmake); run:
    build/fuzz_envelope -max_total_time=60 -max_len=4096 tests/fuzz/envelope
*/
#include "proto/jsonrpc.h"
#include "proto/mcp.h"
#include "proto/mcpz.h"

#include <stdint.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    mcpz_frame_t frames [8];
    size_t count = 0, start = 0;
    for (size_t at = 0; at + 1 < size && count < 7; at++)
        if (data [at] == 0xff && data [at + 1] == 0xfe) {
            frames [count++] = (mcpz_frame_t) { data + start, at - start };
            start = at + 2;
            at++;
        }
    frames [count++] = (mcpz_frame_t) { data + start, size - start };
    mcpz_command_t command;
    const char *reason;
    mcpz_decode (frames, count, 4096, &command, &reason);
    const mcpz_frame_t *body = &frames [count - 1];
    json_decref (mcpz_body_id (body->data, body->size));
    mcpz_sid_valid (frames [0].data, frames [0].size);
    int code;
    json_t *id = NULL;
    jsonrpc_t *message = jsonrpc_parse ((const char *) body->data, body->size, &code, &reason, &id);
    if (message && jsonrpc_method (message) && strcmp (jsonrpc_method (message), "initialize") == 0) {
        mcp_init_t init = { 0 };
        mcp_init_parse (jsonrpc_params (message), &init, &reason);
        mcp_init_clear (&init);
    }
    jsonrpc_destroy (&message);
    json_decref (id);
    return 0;
}
