/*  content — MCP content blocks. See content.h. */
#include "tools/content.h"

#include <assert.h>
#include <czmq.h>

json_t *
content_text (const char *text)
{
    return text? json_pack ("{s:s,s:s}", "type", "text", "text", text): NULL;
}

static json_t *
s_media (const char *type, const char *data, const char *mime_type)
{
    if (!data || !mime_type)
        return NULL;
    return json_pack ("{s:s,s:s,s:s}", "type", type, "data", data, "mimeType", mime_type);
}

json_t *
content_image (const char *data, const char *mime_type)
{
    return s_media ("image", data, mime_type);
}

json_t *
content_audio (const char *data, const char *mime_type)
{
    return s_media ("audio", data, mime_type);
}

json_t *
content_resource_link (const char *uri, const char *name,
                       const char *description, const char *mime_type)
{
    if (!uri || !name)
        return NULL;
    json_t *link = json_pack ("{s:s,s:s,s:s}", "type", "resource_link", "uri", uri, "name", name);
    if (link && description)
        json_object_set_new (link, "description", json_string (description));
    if (link && mime_type)
        json_object_set_new (link, "mimeType", json_string (mime_type));
    return link;
}

json_t *
content_embedded (json_t *resource)
{
    return resource? json_pack ("{s:s,s:o}", "type", "resource", "resource", resource): NULL;
}

static json_t *
s_contents (const char *uri, const char *mime_type, const char *field, const char *value)
{
    if (!uri || !value)
        return NULL;
    json_t *contents = json_pack ("{s:s}", "uri", uri);
    if (contents && mime_type)
        json_object_set_new (contents, "mimeType", json_string (mime_type));
    if (contents)
        json_object_set_new (contents, field, json_string (value));
    return contents;
}

json_t *
content_resource_text (const char *uri, const char *mime_type, const char *text)
{
    return s_contents (uri, mime_type, "text", text);
}

json_t *
content_resource_blob (const char *uri, const char *mime_type, const char *blob)
{
    return s_contents (uri, mime_type, "blob", blob);
}

json_t *
prompt_message (const char *role, json_t *content)
{
    return content? json_pack ("{s:s,s:o}", "role", role, "content", content): NULL;
}

void
content_test (bool verbose)
{
    printf (" * content: ");
    json_t *block = content_image ("AAAA", "image/png");
    char *text = json_dumps (block, JSON_COMPACT | JSON_SORT_KEYS);
    assert (streq (text, "{\"data\":\"AAAA\",\"mimeType\":\"image/png\",\"type\":\"image\"}"));
    free (text);
    json_decref (block);
    assert (content_audio (NULL, "audio/wav") == NULL);
    block = content_embedded (content_resource_text ("test://a", NULL, "hi"));
    text = json_dumps (block, JSON_COMPACT | JSON_SORT_KEYS);
    assert (streq (text, "{\"resource\":{\"text\":\"hi\",\"uri\":\"test://a\"},\"type\":\"resource\"}"));
    free (text);
    json_decref (block);
    block = content_resource_link ("file:///x", "x", NULL, "text/plain");
    assert (streq (json_string_value (json_object_get (block, "type")), "resource_link"));
    assert (!json_object_get (block, "description"));
    json_decref (block);
    block = prompt_message ("user", content_text ("hello"));
    assert (streq (json_string_value (json_object_get (json_object_get (block, "content"), "text")), "hello"));
    json_decref (block);
    assert (prompt_message ("user", NULL) == NULL);
    printf ("OK\n");
}
