/*  mcpz — MCPZ/1 envelopes. See mcpz.h and spec/mcpz-1.md. */
#include "proto/mcpz.h"
#include "proto/prelude.h"
#include "proto/jsonrpc.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

static bool
s_frame_is (const mcpz_frame_t *frame, const char *text)
{
    size_t size = strlen (text);
    return frame->size == size && memcmp (frame->data, text, size) == 0;
}

int
mcpz_decode (const mcpz_frame_t *frames, size_t count, size_t max_body,
             mcpz_command_t *command_p, const char **reason_p)
{
    const char *reason = NULL;
    int status = 400;
    mcpz_command_t command = MCPZ_MSG;
    if (count != MCPZ_CLIENT_FRAMES)
        reason = "expected 4 frames: signature, command, session, body";
    else
    if (!s_frame_is (&frames [0], MCPZ_SIGNATURE))
        reason = "bad signature, expected MCPZ/1";
    else
    if (s_frame_is (&frames [1], "MSG"))
        command = MCPZ_MSG;
    else
    if (s_frame_is (&frames [1], "LISTEN"))
        command = MCPZ_LISTEN;
    else
    if (s_frame_is (&frames [1], "CLOSE"))
        command = MCPZ_CLOSE;
    else
        reason = "unknown command, expected MSG, LISTEN or CLOSE";

    if (!reason) {
        const mcpz_frame_t *sid = &frames [2];
        if (sid->size == 0 && command != MCPZ_MSG)
            reason = "this command needs a session id";
        else
        if (sid->size > 0 && !mcpz_sid_valid (sid->data, sid->size)) {
            status = 404;
            reason = "unknown session";
        }
        else
        if (frames [3].size > max_body) {
            status = 413;
            reason = "message larger than the server's limit";
        }
    }
    if (reason) {
        if (reason_p)
            *reason_p = reason;
        return status;
    }
    *command_p = command;
    return 0;
}

bool
mcpz_sid_valid (const void *data, size_t size)
{
    if (size != MCPZ_SID_SIZE)
        return false;
    const char *text = (const char *) data;
    for (size_t index = 0; index < size; index++) {
        char c = text [index];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

void
mcpz_sid_format (const uint8_t bytes [MCPZ_SID_BYTES], char *text)
{
    static const char hex [] = "0123456789abcdef";
    for (int index = 0; index < MCPZ_SID_BYTES; index++) {
        text [2 * index] = hex [bytes [index] >> 4];
        text [2 * index + 1] = hex [bytes [index] & 15];
    }
    text [MCPZ_SID_SIZE] = 0;
}

uint32_t
mcpz_sid_host (const void *sid, uint32_t n)
{
    //  Ids are uniform random, so their first 8 hex digits spread evenly.
    const char *text = (const char *) sid;
    uint32_t value = 0;
    for (int index = 0; index < 8; index++) {
        char c = text [index];
        value = (value << 4) | (uint32_t) (c <= '9'? c - '0': c - 'a' + 10);
    }
    return value % n;
}

char *
mcpz_err_body (int status, const char *message, json_t *id,
               int retry_after_ms, size_t *size_p)
{
    json_t *body = json_pack ("{s:i,s:s,s:O}", "status", status,
                              "message", message, "id", id? id: json_null ());
    if (!body)
        return NULL;
    if (retry_after_ms >= 0)
        json_object_set_new (body, "retry_after_ms", json_integer (retry_after_ms));
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    if (text && size_p)
        *size_p = strlen (text);
    return text;
}

json_t *
mcpz_body_id (const void *data, size_t size)
{
    //  Only small bodies: this runs on refusal paths that must stay cheap.
    if (size > 65536 || jsonrpc_too_deep ((const char *) data, size, JSONRPC_MAX_DEPTH))
        return NULL;
    json_t *root = json_loadb ((const char *) data, size, 0, NULL);
    json_t *id = json_object_get (root, "id");
    id = (json_is_string (id) || json_is_integer (id))? json_incref (id): NULL;
    json_decref (root);
    return id;
}

//  --------------------------------------------------------------------------
//  Self-test

static int
s_decode (const char *sig, const char *cmd, const char *sid, const char *body,
          size_t count, mcpz_command_t *command)
{
    mcpz_frame_t frames [4] = {
        { sig, strlen (sig) }, { cmd, strlen (cmd) },
        { sid, strlen (sid) }, { body, strlen (body) }
    };
    const char *reason = NULL;
    int status = mcpz_decode (frames, count, 16, command, &reason);
    assert (status == 0 || reason);
    return status;
}

void
mcpz_test (bool verbose)
{
    printf (" * mcpz: ");
    const char *sid = "0123456789abcdef0123456789abcdef";
    mcpz_command_t command;
    assert (s_decode ("MCPZ/1", "MSG", "", "{}", 4, &command) == 0 && command == MCPZ_MSG);
    assert (s_decode ("MCPZ/1", "LISTEN", sid, "", 4, &command) == 0 && command == MCPZ_LISTEN);
    assert (s_decode ("MCPZ/1", "CLOSE", sid, "", 4, &command) == 0 && command == MCPZ_CLOSE);
    assert (s_decode ("MCPZ/1", "MSG", sid, "{}", 3, &command) == 400);
    assert (s_decode ("MCPZ/1", "MSG", sid, "{}", 5, &command) == 400);
    assert (s_decode ("MCPZ/1", "MSG", sid, "{}", 0, &command) == 400);
    assert (s_decode ("MCPZ/2", "MSG", sid, "{}", 4, &command) == 400);
    assert (s_decode ("MCPZ/1", "msg", sid, "{}", 4, &command) == 400);
    assert (s_decode ("MCPZ/1", "MSGX", sid, "{}", 4, &command) == 400);
    assert (s_decode ("MCPZ/1", "LISTEN", "", "", 4, &command) == 400);
    assert (s_decode ("MCPZ/1", "CLOSE", "", "", 4, &command) == 400);
    assert (s_decode ("MCPZ/1", "MSG", "0123", "{}", 4, &command) == 404);
    assert (s_decode ("MCPZ/1", "MSG", "0123456789ABCDEF0123456789abcdef", "{}", 4, &command) == 404);
    assert (s_decode ("MCPZ/1", "MSG", sid, "01234567890123456", 4, &command) == 413);
    assert (s_decode ("MCPZ/1", "MSG", sid, "0123456789012345", 4, &command) == 0);

    uint8_t bytes [MCPZ_SID_BYTES];
    for (int index = 0; index < MCPZ_SID_BYTES; index++)
        bytes [index] = (uint8_t) (index * 17 + 5);
    char text [MCPZ_SID_SIZE + 1];
    mcpz_sid_format (bytes, text);
    assert (mcpz_sid_valid (text, strlen (text)));
    assert (streq (text, "05162738495a6b7c8d9eafc0d1e2f304"));
    assert (mcpz_sid_host (text, 1) == 0);
    assert (mcpz_sid_host (text, 7) == 0x05162738u % 7);
    assert (mcpz_sid_host ("ffffffff", 4) == 0xffffffffu % 4);

    json_t *id = json_integer (9);
    char *body = mcpz_err_body (503, "busy", id, 50, NULL);
    assert (streq (body, "{\"status\":503,\"message\":\"busy\",\"id\":9,\"retry_after_ms\":50}"));
    free (body);
    json_decref (id);
    body = mcpz_err_body (400, "bad", NULL, -1, NULL);
    assert (streq (body, "{\"status\":400,\"message\":\"bad\",\"id\":null}"));
    free (body);

    const char *request = "{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"method\":\"ping\"}";
    id = mcpz_body_id (request, strlen (request));
    assert (streq (json_string_value (id), "r1"));
    json_decref (id);
    assert (mcpz_body_id ("nope", 4) == NULL);
    assert (mcpz_body_id ("{\"id\":null}", 11) == NULL);
    printf ("OK\n");
}
