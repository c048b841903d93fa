/*  mcpheaders — headers that mirror a 2026-07-28 request. See mcpheaders.h.
*/
#include "proto/mcpheaders.h"
#include "proto/prelude.h"

#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SENTINEL_HEAD "=?base64?"
#define SENTINEL_TAIL "?="
#define SCHEMA_DEPTH  64        //  deeper schemas are refused, not walked

static const char s_alphabet [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

//  True when text may go in a header as it is
static bool
s_plain (const char *text, size_t size)
{
    if (size == 0 || text [0] == ' ' || text [0] == '\t'
    ||  text [size - 1] == ' ' || text [size - 1] == '\t')
        return false;
    for (size_t at = 0; at < size; at++) {
        unsigned char byte = (unsigned char) text [at];
        if ((byte < 0x20 && byte != '\t') || byte > 0x7e)
            return false;
    }
    size_t head = strlen (SENTINEL_HEAD), tail = strlen (SENTINEL_TAIL);
    return !(size >= head + tail && memcmp (text, SENTINEL_HEAD, head) == 0
             && memcmp (text + size - tail, SENTINEL_TAIL, tail) == 0);
}

char *
mcpheaders_value (const char *text, size_t size)
{
    if (s_plain (text, size)) {
        char *copy = (char *) malloc (size + 1);
        if (copy) {
            memcpy (copy, text, size);
            copy [size] = 0;
        }
        return copy;
    }
    //  Empty goes encoded too: libcurl drops a header whose value is empty
    size_t head = strlen (SENTINEL_HEAD);
    char *value = (char *) malloc (head + (size + 2) / 3 * 4 + strlen (SENTINEL_TAIL) + 1);
    if (!value)
        return NULL;
    strcpy (value, SENTINEL_HEAD);
    char *out = value + head;
    const unsigned char *in = (const unsigned char *) text;
    for (size_t at = 0; at < size; at += 3) {
        uint32_t group = (uint32_t) in [at] << 16;
        if (at + 1 < size)
            group |= (uint32_t) in [at + 1] << 8;
        if (at + 2 < size)
            group |= in [at + 2];
        *out++ = s_alphabet [(group >> 18) & 63];
        *out++ = s_alphabet [(group >> 12) & 63];
        *out++ = at + 1 < size? s_alphabet [(group >> 6) & 63]: '=';
        *out++ = at + 2 < size? s_alphabet [group & 63]: '=';
    }
    strcpy (out, SENTINEL_TAIL);
    return value;
}

//  An RFC 9110 token
static bool
s_token (const char *name)
{
    if (!*name)
        return false;
    for (const char *at = name; *at; at++)
        if (!isalnum ((unsigned char) *at) && !strchr ("!#$%&'*+-.^_`|~", *at))
            return false;
    return true;
}

//  One annotated property: its name must be a token, unique (seen holds
//  the lowercase names so far), on a primitive type
static const char *
s_check_annotation (json_t *node, json_t *seen)
{
    const char *name = json_string_value (json_object_get (node, "x-mcp-header"));
    const char *type = json_string_value (json_object_get (node, "type"));
    if (!name || !s_token (name))
        return "an x-mcp-header that is not an HTTP token";
    if (!type || !(streq (type, "string") || streq (type, "integer") || streq (type, "boolean")))
        return "an x-mcp-header on a property that is not a string, integer or boolean";
    char lower [256];
    size_t length = strlen (name);
    if (length >= sizeof (lower))
        return "an x-mcp-header name over 255 characters";
    for (size_t at = 0; at <= length; at++)
        lower [at] = (char) tolower ((unsigned char) name [at]);
    if (json_object_get (seen, lower))
        return "two x-mcp-header annotations with one name";
    json_object_set_new (seen, lower, json_true ());
    return NULL;
}

//  Walks every object in node. annotatable: node is a property reached
//  through "properties" alone; chained: its own "properties" are too.
static const char *
s_walk (json_t *node, bool annotatable, bool chained, json_t *seen, int depth)
{
    if (depth > SCHEMA_DEPTH)
        return "a schema nested over 64 deep";
    if (json_is_array (node)) {
        for (size_t at = 0; at < json_array_size (node); at++) {
            const char *reason = s_walk (json_array_get (node, at), false, false, seen, depth + 1);
            if (reason)
                return reason;
        }
        return NULL;
    }
    if (!json_is_object (node))
        return NULL;
    if (json_object_get (node, "x-mcp-header")) {
        const char *reason = annotatable? s_check_annotation (node, seen):
                             "an x-mcp-header that is not reached through properties alone";
        if (reason)
            return reason;
    }
    const char *key;
    json_t *value;
    json_object_foreach (node, key, value) {
        bool properties = chained && streq (key, "properties") && json_is_object (value);
        const char *reason = NULL;
        if (properties) {
            const char *name;
            json_t *property;
            json_object_foreach (value, name, property)
                if ((reason = s_walk (property, true, true, seen, depth + 1)))
                    break;
        }
        else
            reason = s_walk (value, false, false, seen, depth + 1);
        if (reason)
            return reason;
    }
    return NULL;
}

bool
mcpheaders_schema_valid (json_t *schema, const char **reason_p)
{
    json_t *seen = json_object ();
    const char *reason = seen? s_walk (schema, false, true, seen, 0): "out of memory";
    json_decref (seen);
    if (reason_p)
        *reason_p = reason;
    return reason == NULL;
}

//  Appends "Name: value" (value encoded) to lines
static int
s_line (char **lines, const char *name, const char *text, size_t size)
{
    char *value = mcpheaders_value (text, size);
    char *joined = value? proto_format (NULL, "%s%s%s: %s", *lines, **lines? "\n": "", name, value): NULL;
    free (value);
    if (!joined)
        return -1;
    free (*lines);
    *lines = joined;
    return 0;
}

//  The Mcp-Param-* lines of the annotated arguments under schema
static int
s_params (char **lines, json_t *schema, json_t *arguments, int depth)
{
    json_t *properties = json_object_get (schema, "properties");
    if (!json_is_object (properties) || !json_is_object (arguments) || depth > SCHEMA_DEPTH)
        return 0;
    const char *key;
    json_t *property;
    json_object_foreach (properties, key, property) {
        json_t *value = json_object_get (arguments, key);
        const char *name = json_string_value (json_object_get (property, "x-mcp-header"));
        char text [32], header [300];
        const char *data = NULL;
        size_t size = 0;
        if (json_is_string (value)) {
            data = json_string_value (value);
            size = json_string_length (value);
        }
        else
        if (json_is_integer (value)) {
            size = (size_t) snprintf (text, sizeof (text), "%" JSON_INTEGER_FORMAT, json_integer_value (value));
            data = text;
        }
        else
        if (json_is_boolean (value)) {
            data = json_is_true (value)? "true": "false";
            size = strlen (data);
        }
        if (name && data && strlen (name) < 256) {
            snprintf (header, sizeof (header), "Mcp-Param-%s", name);
            if (s_line (lines, header, data, size))
                return -1;
        }
        if (s_params (lines, property, value, depth + 1))
            return -1;
    }
    return 0;
}

char *
mcpheaders_request (json_t *request, json_t *schema)
{
    const char *method = json_string_value (json_object_get (request, "method"));
    json_t *params = json_object_get (request, "params");
    char *lines = strdup ("");
    if (!lines || !method || s_line (&lines, "Mcp-Method", method, strlen (method))) {
        free (lines);
        return NULL;
    }
    json_t *name = streq (method, "tools/call") || streq (method, "prompts/get")? json_object_get (params, "name"):
                   streq (method, "resources/read")? json_object_get (params, "uri"): NULL;
    int rc = json_is_string (name)? s_line (&lines, "Mcp-Name", json_string_value (name), json_string_length (name)): 0;
    if (rc == 0 && schema && streq (method, "tools/call"))
        rc = s_params (&lines, schema, json_object_get (params, "arguments"), 0);
    if (rc) {
        free (lines);
        return NULL;
    }
    return lines;
}

//  --------------------------------------------------------------------------
//  Self test

static void
s_expect_value (const char *text, const char *expected)
{
    char *value = mcpheaders_value (text, strlen (text));
    assert (value && streq (value, expected));
    free (value);
}

static bool
s_valid (const char *schema_text)
{
    json_t *schema = json_loads (schema_text, 0, NULL);
    assert (schema);
    const char *reason = NULL;
    bool valid = mcpheaders_schema_valid (schema, &reason);
    assert (valid == (reason == NULL));
    json_decref (schema);
    return valid;
}

void
mcpheaders_test (bool verbose)
{
    if (verbose)
        printf (" * mcpheaders: ");
    //  The spec's encoding examples
    s_expect_value ("us-west1", "us-west1");
    s_expect_value ("Hello, \xe4\xb8\x96\xe7\x95\x8c", "=?base64?SGVsbG8sIOS4lueVjA==?=");
    s_expect_value (" padded ", "=?base64?IHBhZGRlZCA=?=");
    s_expect_value ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?=");
    s_expect_value ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=");
    s_expect_value ("", "=?base64?" "?=");
    s_expect_value ("a b", "a b");

    assert (s_valid ("{\"type\":\"object\",\"properties\":{\"region\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
                     "\"deep\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"x-mcp-header\":\"N\"}}}}}"));
    assert (s_valid ("{\"type\":\"object\"}"));
    assert (!s_valid ("{\"properties\":{\"a\":{\"type\":\"number\",\"x-mcp-header\":\"A\"}}}"));
    assert (!s_valid ("{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"\"}}}"));
    assert (!s_valid ("{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"A B\"}}}"));
    assert (!s_valid ("{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"X\"},"
                      "\"b\":{\"type\":\"string\",\"x-mcp-header\":\"x\"}}}"));
    assert (!s_valid ("{\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"x-mcp-header\":\"A\"}}}}"));
    assert (!s_valid ("{\"anyOf\":[{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"A\"}}}]}"));
    assert (!s_valid ("{\"$defs\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"A\"}}}"));
    assert (!s_valid ("{\"type\":\"string\",\"x-mcp-header\":\"Root\"}"));

    json_t *schema = json_loads ("{\"properties\":{\"region\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
                                 "\"n\":{\"type\":\"integer\",\"x-mcp-header\":\"N\"},"
                                 "\"on\":{\"type\":\"boolean\",\"x-mcp-header\":\"On\"},"
                                 "\"gone\":{\"type\":\"string\",\"x-mcp-header\":\"Gone\"},"
                                 "\"nested\":{\"properties\":{\"city\":{\"type\":\"string\",\"x-mcp-header\":\"City\"}}}}}",
                                 0, NULL);
    json_t *request = json_loads ("{\"method\":\"tools/call\",\"params\":{\"name\":\"sql\",\"arguments\":"
                                  "{\"region\":\"us-west1\",\"n\":-7,\"on\":false,\"gone\":null,"
                                  "\"nested\":{\"city\":\"K\\u00f6ln\"}}}}", 0, NULL);
    char *lines = mcpheaders_request (request, schema);
    assert (lines);
    assert (strstr (lines, "Mcp-Method: tools/call\nMcp-Name: sql\n"));
    assert (strstr (lines, "Mcp-Param-Region: us-west1"));
    assert (strstr (lines, "Mcp-Param-N: -7"));
    assert (strstr (lines, "Mcp-Param-On: false"));
    assert (strstr (lines, "Mcp-Param-City: =?base64?S8O2bG4=?="));
    assert (!strstr (lines, "Gone"));
    free (lines);
    json_decref (request);
    request = json_loads ("{\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///a b\"}}", 0, NULL);
    lines = mcpheaders_request (request, NULL);
    assert (lines && streq (lines, "Mcp-Method: resources/read\nMcp-Name: file:///a b"));
    free (lines);
    json_decref (request);
    request = json_loads ("{\"method\":\"tools/list\"}", 0, NULL);
    lines = mcpheaders_request (request, schema);
    assert (lines && streq (lines, "Mcp-Method: tools/list"));
    free (lines);
    json_decref (request);
    json_decref (schema);
    if (verbose)
        printf ("OK\n");
}
