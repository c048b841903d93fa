/*  http — see http.h. */
#include "proto/http.h"
#include "proto/jsonrpc.h"
#include "proto/prelude.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

//  Counts one message of a body; false when it is not an object.
static bool
s_count (json_t *message, http_body_t *body)
{
    if (!json_is_object (message))
        return false;
    json_t *method = json_object_get (message, "method");
    json_t *id = json_object_get (message, "id");
    if (json_is_string (method) && id && !json_is_null (id)) {
        if (!body->id)
            body->id = json_incref (id);
        body->requests++;
    }
    return true;
}

//  Past the string that starts at p (a quote), or NULL when it does not
//  end. *escaped_p says whether it holds an escape.
static const char *
s_string_end (const char *p, const char *end, bool *escaped_p)
{
    for (p++; p < end; p++)
        if (*p == '\\') {
            *escaped_p = true;
            p++;
        }
        else
        if (*p == '"')
            return p + 1;
    return NULL;
}

static const char *
s_space (const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

//  Past one value, or NULL when it is cut short or nests too deep. It
//  checks structure only: what looks right is read in full by the host.
static const char *
s_value_end (const char *p, const char *end)
{
    bool escaped = false;
    if (p < end && *p == '"')
        return s_string_end (p, end, &escaped);
    if (p < end && (*p == '{' || *p == '[')) {
        int depth = 0;
        for (; p < end; p++) {
            if (*p == '"') {
                p = s_string_end (p, end, &escaped);
                if (!p)
                    return NULL;
                p--;
            }
            else
            if (*p == '{' || *p == '[') {
                if (++depth > JSONRPC_MAX_DEPTH)
                    return NULL;
            }
            else
            if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
        }
        return NULL;
    }
    const char *start = p;
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n'
           && *p != '\r' && *p != '\t')
        p++;
    return p > start? p: NULL;
}

//  Reads the shape of one JSON object without building it: its "id" and
//  "method" members. Returns false when the body needs the full parser
//  (not one object, escaped keys, anything cut short).
static bool
s_scan (const char *p, const char *end, http_body_t *body)
{
    p = s_space (p, end);
    if (p == end || *p++ != '{')
        return false;
    const char *id = NULL, *id_end = NULL, *method = NULL, *method_end = NULL;
    for (p = s_space (p, end); p < end && *p != '}'; ) {
        bool escaped = false;
        const char *key = p, *key_end = *p == '"'? s_string_end (p, end, &escaped): NULL;
        if (!key_end || escaped)
            return false;
        p = s_space (key_end, end);
        if (p == end || *p++ != ':')
            return false;
        const char *value = s_space (p, end), *value_end = s_value_end (value, end);
        if (!value_end)
            return false;
        if (key_end - key == 4 && memcmp (key, "\"id\"", 4) == 0) {
            id = value;
            id_end = value_end;
        }
        else
        if (key_end - key == 8 && memcmp (key, "\"method\"", 8) == 0) {
            method = value;
            method_end = value_end;
        }
        p = s_space (value_end, end);
        if (p < end && *p == ',')
            p = s_space (p + 1, end);
        else
        if (p < end && *p != '}')
            return false;
    }
    if (p == end || s_space (p + 1, end) != end)
        return false;
    bool escaped = false;
    if (method && (*method != '"' || (s_string_end (method, method_end, &escaped), escaped)))
        return false;           //  the host tells what is wrong with it
    if (method && id && !(id_end - id == 4 && memcmp (id, "null", 4) == 0)) {
        body->id = json_loadb (id, (size_t) (id_end - id), JSON_DECODE_ANY, NULL);
        body->requests = 1;
        body->initialize = method_end - method == 12 && memcmp (method, "\"initialize\"", 12) == 0;
    }
    return true;
}

int
http_body_read (const char *data, size_t size, http_body_t *body, const char **reason_p)
{
    memset (body, 0, sizeof (*body));
    *reason_p = NULL;
    //  The common case, one message, read without a tree: the host parses
    //  it in full anyway, and a second parse was a tenth of the edge's time
    if (s_scan (data, data + size, body))
        return 0;
    http_body_clear (body);
    if ((*reason_p = jsonrpc_costly (data, size)))
        return JSONRPC_PARSE_ERROR;
    json_t *root = json_loadb (data, size, JSON_DECODE_ANY, NULL);
    if (!root) {
        *reason_p = "body is not valid JSON";
        return JSONRPC_PARSE_ERROR;
    }
    int code = 0;
    if (json_is_array (root)) {
        size_t index;
        json_t *message;
        json_array_foreach (root, index, message)
            if (!s_count (message, body))
                code = JSONRPC_INVALID_REQUEST;
        if (json_array_size (root) == 0)
            code = JSONRPC_INVALID_REQUEST;
        if (code)
            *reason_p = "a batch must hold one or more JSON-RPC objects";
    }
    else
    if (s_count (root, body))
        body->initialize = body->requests
            && streq (json_string_value (json_object_get (root, "method")), "initialize");
    else {
        code = JSONRPC_INVALID_REQUEST;
        *reason_p = "body must be a JSON-RPC object";
    }
    json_decref (root);
    return code;
}

void
http_body_clear (http_body_t *body)
{
    json_decref (body->id);
    body->id = NULL;
}

//  True when text starts with prefix and goes on with ":PORT" or ends.
static bool
s_host_port (const char *text, const char *prefix)
{
    size_t length = strlen (prefix);
    if (strncasecmp (text, prefix, length))
        return false;
    text += length;
    if (*text == 0)
        return true;
    if (*text++ != ':' || !*text)
        return false;
    for (; *text; text++)
        if (!isdigit ((unsigned char) *text))
            return false;
    return true;
}

bool
http_host_loopback (const char *host)
{
    return host && (s_host_port (host, "localhost") || s_host_port (host, "127.0.0.1")
                    || s_host_port (host, "[::1]"));
}

bool
http_origin_allowed (const char *origin, const char *allowed)
{
    if (strncasecmp (origin, "http://", 7) == 0 && http_host_loopback (origin + 7))
        return true;
    size_t length = strlen (origin);
    for (const char *entry = allowed; entry && *entry; ) {
        const char *comma = strchr (entry, ',');
        size_t size = comma? (size_t) (comma - entry): strlen (entry);
        while (size && isspace ((unsigned char) *entry)) {
            entry++;
            size--;
        }
        while (size && isspace ((unsigned char) entry [size - 1]))
            size--;
        if (size == length && strncasecmp (entry, origin, size) == 0)
            return true;
        entry = comma? comma + 1: NULL;
    }
    return false;
}

void
http_accepts (const char *accept, bool *json_p, bool *sse_p)
{
    if (!accept) {
        *json_p = *sse_p = true;
        return;
    }
    bool any = strstr (accept, "*/*") != NULL;
    *json_p = any || strcasestr (accept, "application/json") || strcasestr (accept, "application/*");
    *sse_p = any || strcasestr (accept, "text/event-stream") || strcasestr (accept, "text/*");
}

char *
http_sse_event (const char *event_id, const char *data, size_t size, size_t *size_p)
{
    //  Every line of data gets its own "data: " prefix (6) and newline
    size_t lines = 1;
    for (size_t index = 0; index < size; index++)
        lines += data [index] == '\n';
    size_t capacity = strlen (event_id) + 6 + size + lines * 7 + 2 + sizeof (HTTP_SSE_RETRY);
    char *event = (char *) malloc (capacity);
    if (!event)
        return NULL;
    size_t at = 0;
    if (*event_id)
        at += (size_t) sprintf (event, "id: %s\n", event_id);
    //  An event id with no data primes a client to reconnect (SEP-1699):
    //  it says when, too
    if (*event_id && size == 0)
        at += (size_t) sprintf (event + at, "%s", HTTP_SSE_RETRY);
    const char *line = data, *end = data + size;
    do {
        const char *newline = memchr (line, '\n', (size_t) (end - line));
        size_t length = newline? (size_t) (newline - line): (size_t) (end - line);
        //  A carriage return would end the line early for an SSE reader
        if (length && line [length - 1] == '\r')
            length--;
        memcpy (event + at, "data: ", 6);
        memcpy (event + at + 6, line, length);
        at += 6 + length;
        event [at++] = '\n';
        line = newline? newline + 1: end;
    } while (line < end);
    event [at++] = '\n';
    event [at] = 0;
    if (size_p)
        *size_p = at;
    return event;
}

int
http_error_code (int status)
{
    return status == 429 || status >= 500? -32000: JSONRPC_INVALID_REQUEST;
}

int
http_parse_address (const char *text, char *address, size_t size, int *port_p)
{
    const char *colon = strrchr (text, ':');
    const char *port = colon? colon + 1: text;
    char *end = NULL;
    long number = strtol (port, &end, 10);
    if (!*port || *end || number < 1 || number > 65535)
        return -1;
    *port_p = (int) number;
    size_t length = colon? (size_t) (colon - text): 0;
    if (!colon) {
        snprintf (address, size, "127.0.0.1");
        return 0;
    }
    bool bracketed = length >= 2 && text [0] == '[' && text [length - 1] == ']';
    if (bracketed) {
        text++;
        length -= 2;
    }
    //  An IPv6 address needs its brackets, else its last colon looks like
    //  the port's
    if (length == 0 || length >= size || (!bracketed && memchr (text, ':', length)))
        return -1;
    memcpy (address, text, length);
    address [length] = 0;
    return 0;
}

//  --------------------------------------------------------------------------

static int
s_read (const char *text, http_body_t *body)
{
    const char *reason;
    int code = http_body_read (text, strlen (text), body, &reason);
    assert (!code || reason);
    return code;
}

void
http_test (bool verbose)
{
    printf (" * http: ");
    http_body_t body;
    assert (s_read ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}", &body) == 0);
    assert (body.requests == 1 && body.initialize && json_integer_value (body.id) == 1);
    http_body_clear (&body);
    assert (s_read ("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &body) == 0);
    assert (body.requests == 0 && !body.initialize && !body.id);
    assert (s_read ("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}", &body) == 0);
    assert (body.requests == 0);
    assert (s_read ("[{\"jsonrpc\":\"2.0\",\"method\":\"x\"},{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}]",
                    &body) == 0);
    assert (!body.initialize && body.requests == 1 && json_integer_value (body.id) == 7);
    http_body_clear (&body);
    assert (s_read ("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", &body) == 0);
    assert (body.requests == 0);
    assert (s_read ("{\"jsonrpc\"", &body) == JSONRPC_PARSE_ERROR);
    //  Read without a tree: nested values, escapes in strings, white space
    assert (s_read (" { \"params\" : {\"a\":[1,{\"b\":\"}\\\"\"}]}, \"id\" : \"x\" ,"
                    "\"method\":\"tools/call\"}\n", &body) == 0);
    assert (body.requests == 1 && !body.initialize && streq (json_string_value (body.id), "x"));
    http_body_clear (&body);
    assert (s_read ("{\"method\":\"ping\",\"id\":null}", &body) == 0 && body.requests == 0);
    assert (s_read ("{\"id\":1,\"method\":\"initialize\",\"params\":{}}", &body) == 0);
    assert (body.initialize && json_integer_value (body.id) == 1);
    http_body_clear (&body);
    //  What the scan cannot vouch for goes to the full parser
    assert (s_read ("{\"id\":1,\"method\":\"ping\"} x", &body) == JSONRPC_PARSE_ERROR);
    assert (s_read ("{\"id\":1,\"method\":\"ping\"", &body) == JSONRPC_PARSE_ERROR);
    assert (s_read ("{\"\\u0069d\":1,\"method\":\"ping\"}", &body) == 0 && body.requests == 1);
    http_body_clear (&body);
    assert (s_read ("[]", &body) == JSONRPC_INVALID_REQUEST);
    assert (s_read ("[1]", &body) == JSONRPC_INVALID_REQUEST);
    assert (s_read ("42", &body) == JSONRPC_INVALID_REQUEST);
    char deep [200];
    memset (deep, '[', sizeof (deep) - 1);
    deep [sizeof (deep) - 1] = 0;
    assert (s_read (deep, &body) == JSONRPC_PARSE_ERROR);

    assert (http_origin_allowed ("http://localhost:6274", NULL));
    assert (http_origin_allowed ("http://127.0.0.1", ""));
    assert (http_origin_allowed ("http://[::1]:80", NULL));
    assert (!http_origin_allowed ("http://localhost.evil.com", NULL));
    assert (!http_origin_allowed ("http://evil.com", NULL));
    assert (!http_origin_allowed ("https://localhost:1", NULL));
    assert (http_origin_allowed ("https://app.example.com", "http://a.b, https://app.example.com"));
    assert (!http_origin_allowed ("https://app.example.co", "https://app.example.com"));
    assert (!http_origin_allowed ("null", "http://a.b"));
    assert (http_host_loopback ("localhost:8080") && http_host_loopback ("127.0.0.1"));
    assert (!http_host_loopback ("evil.com:8080") && !http_host_loopback ("localhost:80x")
            && !http_host_loopback ("localhost.evil.com") && !http_host_loopback (NULL));

    bool json, sse;
    http_accepts ("application/json, text/event-stream", &json, &sse);
    assert (json && sse);
    http_accepts ("text/event-stream", &json, &sse);
    assert (!json && sse);
    http_accepts ("text/html", &json, &sse);
    assert (!json && !sse);
    http_accepts ("*/*", &json, &sse);
    assert (json && sse);
    http_accepts (NULL, &json, &sse);
    assert (json && sse);

    size_t size;
    char *event = http_sse_event ("12", "{\"a\":1}", 7, &size);
    assert (streq (event, "id: 12\ndata: {\"a\":1}\n\n") && size == strlen (event));
    free (event);
    event = http_sse_event ("", "a\r\nb", 4, &size);
    assert (streq (event, "data: a\ndata: b\n\n"));
    free (event);
    event = http_sse_event ("3", "", 0, &size);
    assert (streq (event, "id: 3\nretry: 1000\ndata: \n\n"));
    free (event);

    char address [64];
    int port;
    assert (http_parse_address ("8080", address, sizeof (address), &port) == 0
            && streq (address, "127.0.0.1") && port == 8080);
    assert (http_parse_address ("0.0.0.0:80", address, sizeof (address), &port) == 0
            && streq (address, "0.0.0.0") && port == 80);
    assert (http_parse_address ("[::1]:9000", address, sizeof (address), &port) == 0
            && streq (address, "::1") && port == 9000);
    assert (http_parse_address ("localhost:1", address, sizeof (address), &port) == 0);
    assert (http_parse_address ("0", address, sizeof (address), &port) == -1);
    assert (http_parse_address ("x:70000", address, sizeof (address), &port) == -1);
    assert (http_parse_address (":80", address, sizeof (address), &port) == -1);
    assert (http_parse_address ("::1:80", address, sizeof (address), &port) == -1);
    assert (http_error_code (503) == -32000 && http_error_code (404) == JSONRPC_INVALID_REQUEST);
    printf ("OK\n");
}
