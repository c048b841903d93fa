/*  jsonrpc — JSON-RPC 2.0 parse, validate, encode. See jsonrpc.h. */
#include "proto/jsonrpc.h"
#include "proto/prelude.h"
#include "proto/jsonw.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

struct _jsonrpc_t {
    json_t *root;           //  the whole message, owned
    jsonrpc_kind_t kind;    //  what the message is
    const char *method;     //  borrowed from root, or NULL
    json_t *id;             //  borrowed from root, or NULL
    json_t *params;         //  borrowed from root, or NULL
    json_t *result;         //  borrowed: result of a response
    json_t *error;          //  borrowed: error of an error response
};

//  One pass over text: false as soon as it nests deeper than max_depth or
//  holds more than max_values values (each comma or opening bracket
//  outside strings starts one), else true.
static bool
s_shape_within (const char *data, size_t size, int max_depth, size_t max_values)
{
    int depth = 0;
    size_t values = 1;
    bool in_string = false;
    for (size_t i = 0; i < size; i++) {
        char c = data [i];
        if (in_string) {
            if (c == '\\')
                i++;                    //  skip the escaped character
            else
            if (c == '"')
                in_string = false;
        }
        else
        if (c == '"')
            in_string = true;
        else
        if (c == '[' || c == '{') {
            if (++depth > max_depth || ++values > max_values)
                return false;
        }
        else
        if (c == ',') {
            if (++values > max_values)
                return false;
        }
        else
        if (c == ']' || c == '}')
            depth--;
    }
    return true;
}

bool
jsonrpc_too_deep (const char *data, size_t size, int max_depth)
{
    //  Nesting deeper than max_depth takes more than max_depth brackets
    return size > (size_t) max_depth && !s_shape_within (data, size, max_depth, SIZE_MAX);
}

const char *
jsonrpc_costly (const char *data, size_t size)
{
    if (size <= JSONRPC_MAX_DEPTH || s_shape_within (data, size, JSONRPC_MAX_DEPTH, JSONRPC_MAX_VALUES))
        return NULL;
    return jsonrpc_too_deep (data, size, JSONRPC_MAX_DEPTH)? "nesting too deep":
           "more JSON values than " JSONRPC_MAX_VALUES_TEXT ": too costly to parse";
}

//  An id is a string or an integer; null is refused (MCP forbids it).
static bool
s_id_valid (json_t *id)
{
    return json_is_string (id) || json_is_integer (id);
}

static void
s_fail (int code, const char *reason, json_t *id,
        int *code_p, const char **reason_p, json_t **id_p)
{
    if (code_p)
        *code_p = code;
    if (reason_p)
        *reason_p = reason;
    if (id_p)
        *id_p = (id && s_id_valid (id))? json_incref (id): NULL;
}

//  Classifies a decoded object; returns a reason when it is not a message.
static const char *
s_classify (jsonrpc_t *self)
{
    json_t *root = self->root;
    json_t *version = json_object_get (root, "jsonrpc");
    if (!json_is_string (version) || strcmp (json_string_value (version), "2.0"))
        return "jsonrpc must be \"2.0\"";
    json_t *id = json_object_get (root, "id");
    self->error = json_object_get (root, "error");
    //  Only an error response may carry id null: its request was unreadable
    if (id && !s_id_valid (id) && !(json_is_null (id) && self->error))
        return "id must be a string or an integer";
    self->id = json_is_null (id)? NULL: id;
    json_t *method = json_object_get (root, "method");
    self->result = json_object_get (root, "result");
    if (method) {
        if (!json_is_string (method))
            return "method must be a string";
        if (self->result || self->error)
            return "a request cannot carry result or error";
        json_t *params = json_object_get (root, "params");
        if (params && !json_is_object (params) && !json_is_array (params))
            return "params must be an object or an array";
        self->method = json_string_value (method);
        self->params = params;
        self->kind = id? JSONRPC_REQUEST: JSONRPC_NOTIFICATION;
        return NULL;
    }
    if (self->result && self->error)
        return "a response cannot carry both result and error";
    if (self->result) {
        if (!id)
            return "a response needs an id";
        self->kind = JSONRPC_RESPONSE;
        return NULL;
    }
    if (self->error) {
        json_t *code = json_object_get (self->error, "code");
        if (!json_is_object (self->error) || !json_is_integer (code)
        ||  !json_is_string (json_object_get (self->error, "message")))
            return "error must be an object with integer code and string message";
        //  An error response may carry id null when the request was unreadable
        self->kind = JSONRPC_ERROR;
        return NULL;
    }
    return "neither a request, a notification nor a response";
}

jsonrpc_t *
jsonrpc_parse (const char *data, size_t size, int *code_p,
               const char **reason_p, json_t **id_p)
{
    const char *costly = jsonrpc_costly (data, size);
    if (costly) {
        s_fail (JSONRPC_PARSE_ERROR, costly, NULL, code_p, reason_p, id_p);
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb (data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (!root) {
        s_fail (JSONRPC_PARSE_ERROR, "body is not valid JSON", NULL, code_p, reason_p, id_p);
        return NULL;
    }
    if (!json_is_object (root)) {
        s_fail (JSONRPC_INVALID_REQUEST, json_is_array (root)?
                "batches are not supported": "message must be a JSON object",
                NULL, code_p, reason_p, id_p);
        json_decref (root);
        return NULL;
    }
    jsonrpc_t *self = (jsonrpc_t *) calloc (1, sizeof (jsonrpc_t));
    if (!self) {
        json_decref (root);
        s_fail (JSONRPC_INTERNAL_ERROR, "out of memory", NULL, code_p, reason_p, id_p);
        return NULL;
    }
    self->root = root;
    const char *reason = s_classify (self);
    if (reason) {
        s_fail (JSONRPC_INVALID_REQUEST, reason, json_object_get (root, "id"),
                code_p, reason_p, id_p);
        jsonrpc_destroy (&self);
    }
    return self;
}

void
jsonrpc_destroy (jsonrpc_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        json_decref ((*self_p)->root);
        free (*self_p);
        *self_p = NULL;
    }
}

jsonrpc_kind_t jsonrpc_kind (jsonrpc_t *self)   { return self->kind; }
const char *jsonrpc_method (jsonrpc_t *self)    { return self->method; }
json_t *jsonrpc_id (jsonrpc_t *self)            { return self->id; }
json_t *jsonrpc_params (jsonrpc_t *self)        { return self->params; }
json_t *jsonrpc_result (jsonrpc_t *self)        { return self->result; }
json_t *jsonrpc_error (jsonrpc_t *self)         { return self->error; }

char *
jsonrpc_encode_result (json_t *id, const char *result_text, size_t *size_p)
{
    size_t result_size = strlen (result_text);
    jsonw_t writer;
    jsonw_init (&writer, result_size + 64);
    jsonw_text (&writer, "{\"jsonrpc\":\"2.0\",\"id\":");
    jsonw_id (&writer, id);
    jsonw_text (&writer, ",\"result\":");
    jsonw_raw (&writer, result_text, result_size);
    jsonw_text (&writer, "}");
    return jsonw_finish (&writer, size_p);
}

char *
jsonrpc_encode_error (json_t *id, int code, const char *message, size_t *size_p)
{
    jsonw_t writer;
    jsonw_init (&writer, strlen (message) + 96);
    jsonw_text (&writer, "{\"jsonrpc\":\"2.0\",\"id\":");
    jsonw_id (&writer, id);
    char code_text [48];
    int size = snprintf (code_text, sizeof (code_text), ",\"error\":{\"code\":%d,\"message\":", code);
    jsonw_raw (&writer, code_text, (size_t) size);
    jsonw_string (&writer, message, strlen (message));
    jsonw_text (&writer, "}}");
    return jsonw_finish (&writer, size_p);
}

char *
jsonrpc_encode_notification (const char *method, const char *params_text,
                             size_t *size_p)
{
    jsonw_t writer;
    jsonw_init (&writer, (params_text? strlen (params_text): 0) + 64);
    jsonw_text (&writer, "{\"jsonrpc\":\"2.0\",\"method\":");
    jsonw_string (&writer, method, strlen (method));
    if (params_text) {
        jsonw_text (&writer, ",\"params\":");
        jsonw_text (&writer, params_text);
    }
    jsonw_text (&writer, "}");
    return jsonw_finish (&writer, size_p);
}

//  --------------------------------------------------------------------------
//  Self-test

static int
s_parse_code (const char *text, json_t **id_p)
{
    int code = 0;
    const char *reason = NULL;
    jsonrpc_t *msg = jsonrpc_parse (text, strlen (text), &code, &reason, id_p);
    if (msg) {
        jsonrpc_destroy (&msg);
        return 0;
    }
    assert (reason);
    return code;
}

void
jsonrpc_test (bool verbose)
{
    printf (" * jsonrpc: ");
    //  Requests, notifications, responses
    const char *request = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":{}}";
    jsonrpc_t *msg = jsonrpc_parse (request, strlen (request), NULL, NULL, NULL);
    assert (msg);
    assert (jsonrpc_kind (msg) == JSONRPC_REQUEST);
    assert (streq (jsonrpc_method (msg), "ping"));
    assert (json_integer_value (jsonrpc_id (msg)) == 7);
    assert (json_is_object (jsonrpc_params (msg)));
    jsonrpc_destroy (&msg);
    assert (msg == NULL);
    jsonrpc_destroy (&msg);

    const char *note = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    msg = jsonrpc_parse (note, strlen (note), NULL, NULL, NULL);
    assert (msg && jsonrpc_kind (msg) == JSONRPC_NOTIFICATION);
    assert (jsonrpc_id (msg) == NULL);
    jsonrpc_destroy (&msg);

    const char *response = "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}";
    msg = jsonrpc_parse (response, strlen (response), NULL, NULL, NULL);
    assert (msg && jsonrpc_kind (msg) == JSONRPC_RESPONSE);
    assert (streq (json_string_value (jsonrpc_id (msg)), "a"));
    jsonrpc_destroy (&msg);

    const char *error = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-1,\"message\":\"x\"}}";
    msg = jsonrpc_parse (error, strlen (error), NULL, NULL, NULL);
    assert (msg && jsonrpc_kind (msg) == JSONRPC_ERROR);
    jsonrpc_destroy (&msg);

    //  Malformed input of every kind
    json_t *id = NULL;
    assert (s_parse_code ("", &id) == JSONRPC_PARSE_ERROR && !id);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":1,", &id) == JSONRPC_PARSE_ERROR);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}", &id) == JSONRPC_PARSE_ERROR);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc3\"}", &id) == JSONRPC_PARSE_ERROR);
    assert (s_parse_code ("[]", &id) == JSONRPC_INVALID_REQUEST);
    assert (s_parse_code ("42", &id) == JSONRPC_INVALID_REQUEST);
    assert (s_parse_code ("{\"id\":1,\"method\":\"ping\"}", &id) == JSONRPC_INVALID_REQUEST);
    assert (id && json_integer_value (id) == 1);
    json_decref (id);
    id = NULL;
    assert (s_parse_code ("{\"jsonrpc\":\"1.0\",\"id\":\"s\",\"method\":\"ping\"}", &id) == JSONRPC_INVALID_REQUEST);
    assert (id && streq (json_string_value (id), "s"));
    json_decref (id);
    id = NULL;
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", &id) == JSONRPC_INVALID_REQUEST);
    assert (!id);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", &id) == JSONRPC_INVALID_REQUEST);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", &id) == JSONRPC_INVALID_REQUEST);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", &id) == JSONRPC_INVALID_REQUEST);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", &id) == JSONRPC_INVALID_REQUEST);
    json_decref (id);
    id = NULL;
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":3}", NULL) == JSONRPC_INVALID_REQUEST);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":1}", NULL) == JSONRPC_INVALID_REQUEST);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"result\":1}", NULL) == JSONRPC_INVALID_REQUEST);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"method\":\"b\"}", NULL) == JSONRPC_PARSE_ERROR);
    //  Huge numbers: out-of-range integers and reals are parse errors
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":123456789012345678901234567890,\"method\":\"x\"}", NULL) == JSONRPC_PARSE_ERROR);
    assert (s_parse_code ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"n\":1e999999}}", NULL) == JSONRPC_PARSE_ERROR);
    //  Deep nesting is refused before parsing, but brackets in strings are not nesting
    char deep [2 * JSONRPC_MAX_DEPTH + 64];
    memset (deep, '[', JSONRPC_MAX_DEPTH + 1);
    memset (deep + JSONRPC_MAX_DEPTH + 1, ']', JSONRPC_MAX_DEPTH + 1);
    deep [2 * JSONRPC_MAX_DEPTH + 2] = 0;
    assert (jsonrpc_too_deep (deep, strlen (deep), JSONRPC_MAX_DEPTH));
    assert (s_parse_code (deep, NULL) == JSONRPC_PARSE_ERROR);
    assert (!jsonrpc_too_deep (deep + 1, strlen (deep) - 2, JSONRPC_MAX_DEPTH));
    const char *quoted = "{\"a\":\"[[[[[[[[\\\"[[[[\"}";
    assert (!jsonrpc_too_deep (quoted, strlen (quoted), 2));
    //  Too many values costs too much to parse; commas in strings are text
    char *wide = (char *) malloc (2 * JSONRPC_MAX_VALUES + 3);
    wide [0] = '[';
    for (int index = 0; index < JSONRPC_MAX_VALUES; index++)
        memcpy (wide + 1 + 2 * index, "0,", 2);
    memcpy (wide + 2 * JSONRPC_MAX_VALUES, "0]", 3);
    assert (jsonrpc_costly (wide, strlen (wide)));
    assert (strstr (jsonrpc_costly (wide, strlen (wide)), "too costly"));
    wide [2 * JSONRPC_MAX_VALUES - 2] = 0;
    memcpy (wide + 2 * JSONRPC_MAX_VALUES - 2, "0]", 3);
    assert (!jsonrpc_costly (wide, strlen (wide)));
    memset (wide + 1, ',', 2 * JSONRPC_MAX_VALUES - 3);
    wide [0] = '"';
    memcpy (wide + 2 * JSONRPC_MAX_VALUES - 2, "\"", 2);
    assert (!jsonrpc_costly (wide, strlen (wide)));
    assert (streq (jsonrpc_costly (deep, strlen (deep)), "nesting too deep"));
    free (wide);

    //  Encoders
    size_t size;
    json_t *num = json_integer (3);
    char *text = jsonrpc_encode_result (num, "{}", &size);
    assert (streq (text, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}"));
    assert (size == strlen (text));
    free (text);
    text = jsonrpc_encode_error (NULL, JSONRPC_PARSE_ERROR, "bad \"x\"", &size);
    assert (streq (text, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"bad \\\"x\\\"\"}}"));
    free (text);
    json_t *sid = json_string ("q\"1");
    text = jsonrpc_encode_error (sid, -32601, "no", NULL);
    assert (streq (text, "{\"jsonrpc\":\"2.0\",\"id\":\"q\\\"1\",\"error\":{\"code\":-32601,\"message\":\"no\"}}"));
    free (text);
    text = jsonrpc_encode_notification ("notifications/progress", "{\"p\":1}", NULL);
    assert (streq (text, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"p\":1}}"));
    free (text);
    json_decref (num);
    json_decref (sid);
    printf ("OK\n");
}
