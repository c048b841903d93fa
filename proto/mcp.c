/*  mcp — MCP lifecycle and result shapes. See mcp.h. */
#include "proto/mcp.h"
#include "proto/prelude.h"
#include "proto/jsonw.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

const char *const mcp_versions [MCP_VERSION_COUNT] = {
    "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"
};

int
mcp_negotiate_version (const char *client)
{
    for (int index = 0; client && index < MCP_VERSION_COUNT; index++)
        if (streq (client, mcp_versions [index]))
            return index;
    return MCP_VERSION_COUNT - 1;
}

static bool
s_too_big (json_t *value)
{
    //  json_dumpb with no buffer returns the size it would need
    return json_dumpb (value, NULL, 0, JSON_COMPACT) > MCP_MAX_INIT_FIELD;
}

int
mcp_init_parse (json_t *params, mcp_init_t *init, const char **reason_p)
{
    memset (init, 0, sizeof (*init));
    const char *reason = NULL;
    json_t *version = json_object_get (params, "protocolVersion");
    json_t *client = json_object_get (params, "clientInfo");
    json_t *capabilities = json_object_get (params, "capabilities");
    if (!json_is_object (params))
        reason = "initialize needs params";
    else
    if (!json_is_string (version))
        reason = "protocolVersion must be a string";
    else
    if (!json_is_object (client)
    ||  !json_is_string (json_object_get (client, "name")))
        reason = "clientInfo must be an object with a name";
    else
    if (capabilities && !json_is_object (capabilities))
        reason = "capabilities must be an object";
    else
    if (s_too_big (client))
        reason = "clientInfo is larger than 8192 bytes";
    else
    if (capabilities && s_too_big (capabilities))
        reason = "capabilities are larger than 8192 bytes";
    if (reason) {
        if (reason_p)
            *reason_p = reason;
        return -1;
    }
    init->version = mcp_negotiate_version (json_string_value (version));
    init->client_info = json_incref (client);
    init->capabilities = capabilities? json_incref (capabilities): json_object ();
    return 0;
}

void
mcp_init_clear (mcp_init_t *init)
{
    json_decref (init->client_info);
    json_decref (init->capabilities);
    init->client_info = NULL;
    init->capabilities = NULL;
}

unsigned
mcp_version_capabilities (int version, unsigned capabilities)
{
    return version == 0? capabilities & ~MCP_CAP_COMPLETIONS: capabilities;
}

char *
mcp_init_result (int version, unsigned capabilities)
{
    assert (version >= 0 && version < MCP_VERSION_COUNT);
    static const struct {
        unsigned bit;
        const char *text;
    } s_declared [] = {
        { MCP_CAP_TOOLS,       "\"tools\":{\"listChanged\":true}" },
        { MCP_CAP_LOGGING,     "\"logging\":{}" },
        { MCP_CAP_RESOURCES,   "\"resources\":{\"subscribe\":true,\"listChanged\":true}" },
        { MCP_CAP_PROMPTS,     "\"prompts\":{\"listChanged\":true}" },
        { MCP_CAP_COMPLETIONS, "\"completions\":{}" },
    };
    capabilities = mcp_version_capabilities (version, capabilities);
    char declared [200] = "";
    for (size_t index = 0; index < sizeof (s_declared) / sizeof (s_declared [0]); index++)
        if (capabilities & s_declared [index].bit) {
            if (*declared)
                strcat (declared, ",");
            strcat (declared, s_declared [index].text);
        }
    return proto_format (NULL,
        "{\"protocolVersion\":\"%s\",\"capabilities\":{%s},"
        "\"serverInfo\":{\"name\":\"mcpz\",\"version\":\"%s\"}}",
        mcp_versions [version], declared, MCPZ_VERSION);
}

char *
mcp_text_result (const char *text, bool is_error, json_t *structured)
{
    size_t size = strlen (text);
    jsonw_t writer;
    jsonw_init (&writer, size + 96);
    jsonw_text (&writer, "{\"content\":[{\"type\":\"text\",\"text\":");
    jsonw_string (&writer, text, size);
    jsonw_text (&writer, "}]");
    if (is_error)
        jsonw_text (&writer, ",\"isError\":true");
    if (structured) {
        char *encoded = json_dumps (structured, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!encoded)
            writer.failed = true;
        else {
            jsonw_text (&writer, ",\"structuredContent\":");
            jsonw_text (&writer, encoded);
        }
        free (encoded);
    }
    jsonw_text (&writer, "}");
    return jsonw_finish (&writer, NULL);
}

//  Whole numbers print as integers: clients compare progress with ints.
static json_t *
s_number (double value)
{
    if (value == (double) (json_int_t) value && value > -9e15 && value < 9e15)
        return json_integer ((json_int_t) value);
    return json_real (value);
}

char *
mcp_progress_params (json_t *token, double progress, double total,
                     const char *message)
{
    json_t *params = json_pack ("{s:O,s:o}", "progressToken", token,
                                "progress", s_number (progress));
    if (!params)
        return NULL;
    if (total >= 0)
        json_object_set_new (params, "total", s_number (total));
    if (message)
        json_object_set_new (params, "message", json_string (message));
    char *encoded = json_dumps (params, JSON_COMPACT);
    json_decref (params);
    return encoded;
}

static const char *const s_log_levels [MCP_LOG_LEVELS] = {
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"
};

int
mcp_log_level (const char *name)
{
    for (int index = 0; name && index < MCP_LOG_LEVELS; index++)
        if (streq (name, s_log_levels [index]))
            return index;
    return -1;
}

const char *
mcp_log_level_name (int index)
{
    return index >= 0 && index < MCP_LOG_LEVELS? s_log_levels [index]: s_log_levels [0];
}

char *
mcp_log_params (const char *level, const char *logger, const char *message)
{
    json_t *params = json_pack ("{s:s,s:s}", "level", level, "data", message);
    if (params && logger)
        json_object_set_new (params, "logger", json_string (logger));
    char *text = params? json_dumps (params, JSON_COMPACT): NULL;
    json_decref (params);
    return text;
}

//  --------------------------------------------------------------------------
//  Self-test

static json_t *
s_load (const char *text)
{
    json_t *json = json_loads (text, 0, NULL);
    assert (json);
    return json;
}

void
mcp_test (bool verbose)
{
    printf (" * mcp: ");
    assert (mcp_negotiate_version ("2024-11-05") == 0);
    assert (mcp_negotiate_version ("2025-06-18") == 2);
    assert (mcp_negotiate_version ("2025-11-25") == 3);
    assert (mcp_negotiate_version ("1999-01-01") == 3);
    assert (mcp_negotiate_version (NULL) == 3);

    mcp_init_t init;
    const char *reason = NULL;
    json_t *params = s_load ("{\"protocolVersion\":\"2025-03-26\","
                             "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}");
    assert (mcp_init_parse (params, &init, &reason) == 0);
    assert (init.version == 1);
    assert (json_is_object (init.capabilities));
    assert (streq (json_string_value (json_object_get (init.client_info, "name")), "t"));
    mcp_init_clear (&init);
    mcp_init_clear (&init);
    json_decref (params);

    const char *bad [] = {
        "{}", "{\"protocolVersion\":1,\"clientInfo\":{\"name\":\"t\"}}",
        "{\"protocolVersion\":\"x\"}",
        "{\"protocolVersion\":\"x\",\"clientInfo\":{\"name\":3}}",
        "{\"protocolVersion\":\"x\",\"clientInfo\":{\"name\":\"t\"},\"capabilities\":[]}",
        "[]"
    };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        params = s_load (bad [index]);
        reason = NULL;
        assert (mcp_init_parse (params, &init, &reason) == -1);
        assert (reason);
        json_decref (params);
    }
    assert (mcp_init_parse (NULL, &init, &reason) == -1);
    char padding [MCP_MAX_INIT_FIELD + 1];
    memset (padding, 'x', sizeof (padding) - 1);
    padding [MCP_MAX_INIT_FIELD] = 0;
    params = json_pack ("{s:s,s:{s:s,s:s}}", "protocolVersion", "2025-06-18",
                        "clientInfo", "name", "t", "padding", padding);
    assert (mcp_init_parse (params, &init, &reason) == -1 && strstr (reason, "clientInfo"));
    json_decref (params);

    char *text = mcp_init_result (2, MCP_CAP_TOOLS | MCP_CAP_LOGGING);
    json_t *result = s_load (text);
    assert (streq (json_string_value (json_object_get (result, "protocolVersion")), "2025-06-18"));
    assert (json_is_object (json_object_get (json_object_get (result, "capabilities"), "tools")));
    assert (json_is_object (json_object_get (json_object_get (result, "capabilities"), "logging")));
    json_decref (result);
    free (text);
    text = mcp_init_result (3, MCP_CAP_LOGGING);
    result = s_load (text);
    assert (json_object_size (json_object_get (result, "capabilities")) == 1);
    json_decref (result);
    free (text);
    text = mcp_init_result (0, MCP_CAP_COMPLETIONS | MCP_CAP_PROMPTS);
    assert (strstr (text, "\"capabilities\":{\"prompts\":{\"listChanged\":true}}"));
    free (text);
    text = mcp_init_result (3, 0);
    assert (strstr (text, "\"capabilities\":{}"));
    free (text);

    json_t *sum = json_pack ("{s:i}", "sum", 5);
    text = mcp_text_result ("5", false, sum);
    assert (streq (text, "{\"content\":[{\"type\":\"text\",\"text\":\"5\"}],\"structuredContent\":{\"sum\":5}}"));
    free (text);
    json_decref (sum);
    text = mcp_text_result ("no", true, NULL);
    assert (strstr (text, "\"isError\":true"));
    free (text);
    text = mcp_text_result ("q\"\n", false, NULL);
    result = s_load (text);
    assert (streq (json_string_value (json_object_get (json_array_get (
            json_object_get (result, "content"), 0), "text")), "q\"\n"));
    json_decref (result);
    free (text);

    json_t *token = json_string ("tok");
    text = mcp_progress_params (token, 1, 3, "step 1/3");
    result = s_load (text);
    assert (json_integer_value (json_object_get (result, "progress")) == 1);
    assert (json_integer_value (json_object_get (result, "total")) == 3);
    json_decref (result);
    free (text);
    text = mcp_progress_params (token, 0.5, -1, NULL);
    assert (!strstr (text, "total") && !strstr (text, "message"));
    free (text);
    json_decref (token);

    assert (streq (mcp_versions [MCP_VERSION_BATCHES], "2025-03-26"));
    assert (mcp_log_level ("debug") == 0 && mcp_log_level ("emergency") == 7);
    assert (mcp_log_level ("loud") == -1 && mcp_log_level (NULL) == -1);
    text = mcp_log_params ("info", "demo", "hi");
    assert (streq (text, "{\"level\":\"info\",\"data\":\"hi\",\"logger\":\"demo\"}"));
    free (text);
    printf ("OK\n");
}
