/*  fixtures — the conformance suite's fixtures. Each row cites the scenario
    (src/scenarios/server/FILE.ts of the suite) whose text it follows.
*/
#include "tools/fixtures.h"
#include "tools/content.h"
#include "proto/jsonrpc.h"

#include <czmq.h>

//  A 1x1 PNG and a minimal WAV (tools.ts: "a minimal test image", "a
//  minimal test audio file")
#define TEST_PNG "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
#define TEST_WAV "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
#define NO_ARGUMENTS "{\"type\":\"object\",\"properties\":{}}"

static void
s_simple_text (tool_call_t *call)
{
    tool_call_text (call, "This is a simple text response for testing.", false, NULL);
}

static void
s_image (tool_call_t *call)
{
    tool_call_content (call, json_pack ("[o]", content_image (TEST_PNG, "image/png")), NULL, false);
}

static void
s_audio (tool_call_t *call)
{
    tool_call_content (call, json_pack ("[o]", content_audio (TEST_WAV, "audio/wav")), NULL, false);
}

static void
s_embedded (tool_call_t *call)
{
    tool_call_content (call, json_pack ("[o]", content_embedded (content_resource_text (
        "test://embedded-resource", "text/plain", "This is an embedded resource content."))), NULL, false);
}

static void
s_mixed (tool_call_t *call)
{
    tool_call_content (call, json_pack ("[ooo]",
        content_text ("Multiple content types test:"),
        content_image (TEST_PNG, "image/png"),
        content_embedded (content_resource_text ("test://mixed-content-resource", "application/json",
                                                 "{\"test\":\"data\",\"value\":123}"))), NULL, false);
}

static void
s_logging (tool_call_t *call)
{
    static const char *const steps [] = {
        "Tool execution started", "Tool processing data", "Tool execution completed"
    };
    for (int step = 0; step < 3; step++) {
        if (step && !tool_call_wait (call, 50))
            return;
        tool_call_log (call, "info", "conformance", steps [step]);
    }
    tool_call_text (call, "Tool with logging executed successfully", false, NULL);
}

static void
s_progress (tool_call_t *call)
{
    for (int step = 0; step <= 2; step++) {
        if (step && !tool_call_wait (call, 50))
            return;
        char message [64];
        snprintf (message, sizeof (message), "Completed step %d of 100", 50 * step);
        tool_call_progress (call, 50 * step, 100, message);
    }
    tool_call_text (call, "Progress reported: 0, 50, 100 of 100", false, NULL);
}

static void
s_error (tool_call_t *call)
{
    tool_call_text (call, "This tool intentionally returns an error for testing", true, NULL);
}

//  sse-polling.ts: the stream closes mid-call, the result comes after the
//  client reconnects with Last-Event-ID
static void
s_reconnection (tool_call_t *call)
{
    tool_call_detach (call);
    if (tool_call_wait (call, 100))
        tool_call_text (call, "Reconnection test completed successfully. If you received this, "
                              "the client properly reconnected after stream closure.", false, NULL);
}

//  Asks the client; answers "<prefix> <what came back>", or the error
static void
s_ask (tool_call_t *call, const char *method, json_t *params, const char *prefix)
{
    int code;
    char *message = NULL;
    json_t *result = tool_call_ask (call, method, params, &code, &message);
    json_decref (params);
    if (!result) {
        char text [512];
        snprintf (text, sizeof (text), "%s failed: %s", method, message? message: "no answer");
        free (message);
        tool_call_text (call, text, true, NULL);
        return;
    }
    char *answer = json_dumps (result, JSON_COMPACT);
    char *text = NULL;
    if (answer && asprintf (&text, "%s %s", prefix, answer) < 0)
        text = NULL;
    if (text)
        tool_call_text (call, text, false, NULL);
    else
        tool_call_fail (call, JSONRPC_INTERNAL_ERROR, "out of memory");
    free (text);
    free (answer);
    json_decref (result);
}

static void
s_sampling (tool_call_t *call)
{
    const char *prompt;
    if (tool_arg_string (call, "prompt", &prompt))
        s_ask (call, "sampling/createMessage", json_pack ("{s:[{s:s,s:o}],s:i}",
            "messages", "role", "user", "content", content_text (prompt), "maxTokens", 100),
            "LLM response:");
}

static void
s_elicitation (tool_call_t *call)
{
    const char *message;
    if (!tool_arg_string (call, "message", &message))
        return;
    json_t *schema = json_loads (
        "{\"type\":\"object\",\"properties\":{"
        "\"username\":{\"type\":\"string\",\"description\":\"User's response\"},"
        "\"email\":{\"type\":\"string\",\"description\":\"User's email address\"}},"
        "\"required\":[\"username\",\"email\"]}", 0, NULL);
    s_ask (call, "elicitation/create", json_pack ("{s:s,s:o}", "message", message, "requestedSchema", schema),
           "User response:");
}

static void
s_elicit_form (tool_call_t *call, const char *message, const char *schema_text)
{
    json_t *schema = json_loads (schema_text, 0, NULL);
    s_ask (call, "elicitation/create", json_pack ("{s:s,s:o}", "message", message, "requestedSchema", schema),
           "Elicitation completed:");
}

//  elicitation-defaults.ts (SEP-1034)
static void
s_elicitation_defaults (tool_call_t *call)
{
    s_elicit_form (call, "Please review and update the form fields with defaults",
        "{\"type\":\"object\",\"properties\":{"
        "\"name\":{\"type\":\"string\",\"description\":\"User name\",\"default\":\"John Doe\"},"
        "\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
        "\"score\":{\"type\":\"number\",\"description\":\"User score\",\"default\":95.5},"
        "\"status\":{\"type\":\"string\",\"description\":\"User status\","
        "\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
        "\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\",\"default\":true}},"
        "\"required\":[]}");
}

//  elicitation-enums.ts (SEP-1330): the five enum shapes
static void
s_elicitation_enums (tool_call_t *call)
{
    s_elicit_form (call, "Please select options from the enum fields",
        "{\"type\":\"object\",\"properties\":{"
        "\"untitledSingle\":{\"type\":\"string\",\"description\":\"Select one option\","
        "\"enum\":[\"option1\",\"option2\",\"option3\"]},"
        "\"titledSingle\":{\"type\":\"string\",\"description\":\"Select one option with titles\","
        "\"oneOf\":[{\"const\":\"value1\",\"title\":\"First Option\"},"
        "{\"const\":\"value2\",\"title\":\"Second Option\"},{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
        "\"legacyEnum\":{\"type\":\"string\",\"description\":\"Select one option (legacy)\","
        "\"enum\":[\"opt1\",\"opt2\",\"opt3\"],\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
        "\"untitledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options\","
        "\"minItems\":1,\"maxItems\":3,\"items\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
        "\"titledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options with titles\","
        "\"minItems\":1,\"maxItems\":3,\"items\":{\"anyOf\":[{\"const\":\"value1\",\"title\":\"First Choice\"},"
        "{\"const\":\"value2\",\"title\":\"Second Choice\"},{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},"
        "\"required\":[]}");
}

static void
s_json_schema (tool_call_t *call)
{
    char *arguments = json_dumps (call->arguments, JSON_COMPACT);
    char text [1024];
    snprintf (text, sizeof (text), "JSON Schema 2020-12 tool called with: %s", arguments? arguments: "{}");
    free (arguments);
    tool_call_text (call, text, false, NULL);
}

static const tool_def_t s_tools [] = {
    //  tools.ts
    { .name = "test_simple_text", .description = "Tests simple text content response",
      .input_schema = NO_ARGUMENTS, .is_inline = true, .call = s_simple_text },
    { .name = "test_image_content", .description = "Tests image content response",
      .input_schema = NO_ARGUMENTS, .is_inline = true, .call = s_image },
    { .name = "test_audio_content", .description = "Tests audio content response",
      .input_schema = NO_ARGUMENTS, .is_inline = true, .call = s_audio },
    { .name = "test_embedded_resource", .description = "Tests embedded resource content response",
      .input_schema = NO_ARGUMENTS, .is_inline = true, .call = s_embedded },
    { .name = "test_multiple_content_types",
      .description = "Tests response with multiple content types (text, image, resource)",
      .input_schema = NO_ARGUMENTS, .is_inline = true, .call = s_mixed },
    { .name = "test_tool_with_logging", .description = "Tests tool that emits log messages during execution",
      .input_schema = NO_ARGUMENTS, .call = s_logging },
    { .name = "test_tool_with_progress", .description = "Tests tool that reports progress notifications",
      .input_schema = NO_ARGUMENTS, .call = s_progress },
    { .name = "test_error_handling", .description = "Tests error response handling",
      .input_schema = NO_ARGUMENTS, .is_inline = true, .call = s_error },
    { .name = "test_sampling", .description = "Tests server-initiated sampling (LLM completion request)",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\","
                      "\"description\":\"The prompt to send to the LLM\"}},\"required\":[\"prompt\"]}",
      .call = s_sampling },
    { .name = "test_elicitation", .description = "Tests server-initiated elicitation (user input request)",
      .input_schema = "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
                      "\"description\":\"The message to show the user\"}},\"required\":[\"message\"]}",
      .call = s_elicitation },
    //  elicitation-defaults.ts, elicitation-enums.ts
    { .name = "test_elicitation_sep1034_defaults", .description = "Tests elicitation with default values per SEP-1034",
      .input_schema = NO_ARGUMENTS, .call = s_elicitation_defaults },
    { .name = "test_elicitation_sep1330_enums",
      .description = "Tests elicitation with enum schema improvements per SEP-1330",
      .input_schema = NO_ARGUMENTS, .call = s_elicitation_enums },
    //  sse-polling.ts
    { .name = "test_reconnection",
      .description = "Tests SSE stream disconnection and client reconnection (SEP-1699): the stream "
                     "closes mid-call and the result comes after the client reconnects.",
      .input_schema = NO_ARGUMENTS, .call = s_reconnection },
    //  json-schema-2020-12.ts (SEP-1613): every keyword kept as written
    { .name = "json_schema_2020_12_tool", .description = "Tool with JSON Schema 2020-12 features",
      .input_schema = "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
                      "\"$defs\":{\"address\":{\"type\":\"object\",\"properties\":{"
                      "\"street\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}},"
                      "\"properties\":{\"name\":{\"type\":\"string\"},\"address\":{\"$ref\":\"#/$defs/address\"}},"
                      "\"additionalProperties\":false}",
      .is_inline = true, .call = s_json_schema },
};

//  resources.ts
static const resource_def_t s_resources [] = {
    { .uri = "test://static-text", .name = "static-text", .title = "Static Text Resource",
      .description = "A static text resource for testing", .mime_type = "text/plain",
      .text = "This is the content of the static text resource." },
    { .uri = "test://static-binary", .name = "static-binary", .title = "Static Binary Resource",
      .description = "A static binary resource (image) for testing", .mime_type = "image/png",
      .blob = TEST_PNG },
    { .uri = "test://watched-resource", .name = "watched-resource", .title = "Watched Resource",
      .description = "A resource to subscribe to", .mime_type = "text/plain",
      .text = "Watched resource content" },
};

static void
s_template_read (tool_call_t *call)
{
    const char *id = json_string_value (json_object_get (call->arguments, "id"));
    json_t *data = json_pack ("{s:s,s:b,s:s+}", "id", id, "templateTest", 1, "data", "Data for ID: ", id);
    char *text = json_dumps (data, JSON_COMPACT);
    json_decref (data);
    tool_call_contents (call, json_pack ("[o]", content_resource_text (call->uri, "application/json", text)));
    free (text);
}

//  Offers the candidates that start with what was typed
static void
s_complete_from (tool_call_t *call, const char *const *candidates)
{
    json_t *values = json_array ();
    for (; *candidates; candidates++)
        if (strncmp (*candidates, call->value, strlen (call->value)) == 0)
            json_array_append_new (values, json_string (*candidates));
    tool_call_completions (call, values);
}

static void
s_complete_id (tool_call_t *call)
{
    static const char *const ids [] = { "123", "124", "456", NULL };
    s_complete_from (call, ids);
}

static const template_def_t s_templates [] = {
    { .uri_template = "test://template/{id}/data", .name = "template", .title = "Resource Template",
      .description = "A resource template with parameter substitution", .mime_type = "application/json",
      .read = s_template_read, .complete = s_complete_id, .is_inline = true },
};

//  prompts.ts
static void
s_prompt_simple (tool_call_t *call)
{
    tool_call_messages (call, NULL, json_pack ("[o]",
        prompt_message ("user", content_text ("This is a simple prompt for testing."))));
}

static void
s_prompt_arguments (tool_call_t *call)
{
    char text [1024];
    snprintf (text, sizeof (text), "Prompt with arguments: arg1='%s', arg2='%s'",
              json_string_value (json_object_get (call->arguments, "arg1")),
              json_string_value (json_object_get (call->arguments, "arg2")));
    tool_call_messages (call, NULL, json_pack ("[o]", prompt_message ("user", content_text (text))));
}

static void
s_prompt_resource (tool_call_t *call)
{
    const char *uri = json_string_value (json_object_get (call->arguments, "resourceUri"));
    tool_call_messages (call, NULL, json_pack ("[oo]",
        prompt_message ("user", content_embedded (content_resource_text (uri, "text/plain",
                                                  "Embedded resource content for testing."))),
        prompt_message ("user", content_text ("Please process the embedded resource above."))));
}

static void
s_prompt_image (tool_call_t *call)
{
    tool_call_messages (call, NULL, json_pack ("[oo]",
        prompt_message ("user", content_image (TEST_PNG, "image/png")),
        prompt_message ("user", content_text ("Please analyze the image above."))));
}

//  lifecycle.ts's completion-complete: its example values
static void
s_complete_argument (tool_call_t *call)
{
    static const char *const words [] = { "paris", "park", "party", "test", "testing", NULL };
    s_complete_from (call, words);
}

static const prompt_argument_t s_two_arguments [] = {
    { "arg1", "First test argument", true }, { "arg2", "Second test argument", true }, { .name = NULL }
};

static const prompt_argument_t s_resource_argument [] = {
    { "resourceUri", "URI of the resource to embed", true }, { .name = NULL }
};

static const prompt_def_t s_prompts [] = {
    { .name = "test_simple_prompt", .title = "Simple Test Prompt",
      .description = "A simple prompt without arguments", .get = s_prompt_simple, .is_inline = true },
    { .name = "test_prompt_with_arguments", .title = "Prompt With Arguments",
      .description = "A prompt with required arguments", .arguments = s_two_arguments,
      .get = s_prompt_arguments, .complete = s_complete_argument, .is_inline = true },
    { .name = "test_prompt_with_embedded_resource", .title = "Prompt With Embedded Resource",
      .description = "A prompt that includes an embedded resource", .arguments = s_resource_argument,
      .get = s_prompt_resource, .is_inline = true },
    { .name = "test_prompt_with_image", .title = "Prompt With Image",
      .description = "A prompt that includes image content", .get = s_prompt_image, .is_inline = true },
};

#define COUNT(rows) (sizeof (rows) / sizeof ((rows) [0]))

int
fixtures_register (catalog_t *catalog)
{
    for (size_t index = 0; index < COUNT (s_tools); index++)
        if (catalog_add_tool (catalog, &s_tools [index]))
            return -1;
    for (size_t index = 0; index < COUNT (s_resources); index++)
        if (catalog_add_resource (catalog, &s_resources [index]))
            return -1;
    for (size_t index = 0; index < COUNT (s_templates); index++)
        if (catalog_add_template (catalog, &s_templates [index]))
            return -1;
    for (size_t index = 0; index < COUNT (s_prompts); index++)
        if (catalog_add_prompt (catalog, &s_prompts [index]))
            return -1;
    return 0;
}
