/*  content — the blocks MCP results are made of, built in one place so no
    provider writes their JSON by hand: content blocks of tool results and
    prompt messages (text, image, audio, resource link, embedded resource),
    and the contents of resources/read.

    Each returns a new JSON object (the caller owns it), or NULL when out of
    memory or given a NULL required field.
*/
#ifndef MCPZ_CONTENT_H
#define MCPZ_CONTENT_H

#include <jansson.h>
#include <stdbool.h>

json_t *
    content_text (const char *text);

//  data is base64
json_t *
    content_image (const char *data, const char *mime_type);

json_t *
    content_audio (const char *data, const char *mime_type);

//  A link the client may read or subscribe to; description and mime_type
//  may be NULL.
json_t *
    content_resource_link (const char *uri, const char *name,
                           const char *description, const char *mime_type);

//  An embedded resource: one of the resource contents below, taken.
json_t *
    content_embedded (json_t *resource);

//  Resource contents, for resources/read and embedded resources.
json_t *
    content_resource_text (const char *uri, const char *mime_type, const char *text);

//  blob is base64
json_t *
    content_resource_blob (const char *uri, const char *mime_type, const char *blob);

//  A prompt message: role "user" or "assistant", one content block (taken).
json_t *
    prompt_message (const char *role, json_t *content);

void
    content_test (bool verbose);

#endif
