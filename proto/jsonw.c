/*  jsonw — see jsonw.h. */
#include "proto/jsonw.h"
#include "proto/prelude.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

void
jsonw_init (jsonw_t *self, size_t size)
{
    self->capacity = size < 64? 64: size;
    self->data = (char *) malloc (self->capacity);
    self->size = 0;
    self->failed = self->data == NULL;
    if (self->data)
        self->data [0] = 0;
}

static bool
s_room (jsonw_t *self, size_t more)
{
    if (self->failed)
        return false;
    if (self->size + more + 1 <= self->capacity)
        return true;
    size_t capacity = (self->size + more + 1) * 2;
    char *data = (char *) realloc (self->data, capacity);
    if (!data) {
        self->failed = true;
        return false;
    }
    self->data = data;
    self->capacity = capacity;
    return true;
}

void
jsonw_raw (jsonw_t *self, const char *text, size_t size)
{
    if (!s_room (self, size))
        return;
    memcpy (self->data + self->size, text, size);
    self->size += size;
    self->data [self->size] = 0;
}

void
jsonw_text (jsonw_t *self, const char *text)
{
    jsonw_raw (self, text, strlen (text));
}

void
jsonw_string (jsonw_t *self, const char *text, size_t size)
{
    //  Worst case every byte becomes \u00XX
    if (!s_room (self, size * 6 + 2))
        return;
    static const char hex [] = "0123456789abcdef";
    char *out = self->data + self->size;
    *out++ = '"';
    for (size_t index = 0; index < size; index++) {
        unsigned char c = (unsigned char) text [index];
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char) c;
        }
        else
        if (c < 0x20) {
            *out++ = '\\';
            switch (c) {
                case '\n': *out++ = 'n'; break;
                case '\r': *out++ = 'r'; break;
                case '\t': *out++ = 't'; break;
                case '\b': *out++ = 'b'; break;
                case '\f': *out++ = 'f'; break;
                default:
                    *out++ = 'u'; *out++ = '0'; *out++ = '0';
                    *out++ = hex [c >> 4]; *out++ = hex [c & 15];
            }
        }
        else
            *out++ = (char) c;
    }
    *out++ = '"';
    self->size = (size_t) (out - self->data);
    self->data [self->size] = 0;
}

void
jsonw_id (jsonw_t *self, json_t *id)
{
    if (json_is_integer (id)) {
        char text [24];
        int size = snprintf (text, sizeof (text), "%" JSON_INTEGER_FORMAT, json_integer_value (id));
        jsonw_raw (self, text, (size_t) size);
    }
    else
    if (json_is_string (id))
        jsonw_string (self, json_string_value (id), json_string_length (id));
    else
        jsonw_raw (self, "null", 4);
}

size_t
jsonw_utf8_prefix (const char *text, size_t size, size_t max)
{
    if (size <= max)
        return size;
    //  Back off continuation bytes (10xxxxxx) to a character's first byte
    size_t cut = max;
    while (cut > 0 && ((unsigned char) text [cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

//  Length of the well-formed UTF-8 character at text (at most size bytes),
//  or 0 when the bytes there are not one
static size_t
s_character (const unsigned char *text, size_t size)
{
    unsigned char lead = text [0];
    size_t length = lead < 0x80? 1: lead >= 0xc2 && lead <= 0xdf? 2:
                    lead >= 0xe0 && lead <= 0xef? 3: lead >= 0xf0 && lead <= 0xf4? 4: 0;
    if (length == 0 || length > size)
        return 0;
    //  The second byte's range shuts out overlong forms, surrogates and
    //  code points past U+10FFFF
    unsigned char low = lead == 0xe0? 0xa0: lead == 0xf0? 0x90: 0x80;
    unsigned char high = lead == 0xed? 0x9f: lead == 0xf4? 0x8f: 0xbf;
    if (length > 1 && (text [1] < low || text [1] > high))
        return 0;
    for (size_t at = 2; at < length; at++)
        if (text [at] < 0x80 || text [at] > 0xbf)
            return 0;
    return length;
}

size_t
jsonw_utf8_clean (char *text, size_t size)
{
    size_t at = 0;
    while (at < size) {
        unsigned char lead = (unsigned char) text [at];
        size_t needs = lead >= 0xc2 && lead <= 0xdf? 2: lead >= 0xe0 && lead <= 0xef? 3:
                       lead >= 0xf0 && lead <= 0xf4? 4: 1;
        if (needs > size - at)
            break;              //  a character cut short by the end
        size_t length = s_character ((const unsigned char *) text + at, size - at);
        if (length == 0) {
            text [at++] = '?';
            continue;
        }
        at += length;
    }
    text [at] = 0;
    return at;
}

char *
jsonw_finish (jsonw_t *self, size_t *size_p)
{
    char *data = self->failed? NULL: self->data;
    if (self->failed)
        free (self->data);
    if (size_p)
        *size_p = self->size;
    self->data = NULL;
    self->size = self->capacity = 0;
    return data;
}

void
jsonw_test (bool verbose)
{
    printf (" * jsonw: ");
    jsonw_t writer;
    jsonw_init (&writer, 4);
    jsonw_text (&writer, "{\"a\":");
    const char nasty [] = "q\"\\\n\t\x01\x1f\xc3\xa9/end";
    jsonw_string (&writer, nasty, sizeof (nasty) - 1);
    jsonw_text (&writer, ",\"i\":");
    json_t *id = json_integer (-42);
    jsonw_id (&writer, id);
    json_decref (id);
    jsonw_text (&writer, ",\"s\":");
    id = json_string ("x\"y");
    jsonw_id (&writer, id);
    json_decref (id);
    jsonw_text (&writer, ",\"n\":");
    jsonw_id (&writer, NULL);
    jsonw_text (&writer, "}");
    size_t size;
    char *text = jsonw_finish (&writer, &size);
    assert (size == strlen (text));
    //  What we wrote reads back as what we meant
    json_t *root = json_loads (text, 0, NULL);
    assert (root);
    assert (streq (json_string_value (json_object_get (root, "a")), nasty));
    assert (json_integer_value (json_object_get (root, "i")) == -42);
    assert (streq (json_string_value (json_object_get (root, "s")), "x\"y"));
    assert (json_is_null (json_object_get (root, "n")));
    json_decref (root);
    free (text);
    const char *accents = "\xc3\xa9\xc3\xa9";        //  two 2-byte characters
    assert (jsonw_utf8_prefix (accents, 4, 3) == 2);
    assert (jsonw_utf8_prefix (accents, 4, 2) == 2);
    assert (jsonw_utf8_prefix (accents, 4, 1) == 0);
    assert (jsonw_utf8_prefix (accents, 4, 9) == 4);
    //  Cleaning: bad bytes become '?', a character cut at the end goes,
    //  overlong forms and surrogates are not characters
    char dirty [] = "a\xff\xc3\xa9\xc0\xaf\xed\xa0\x80z\xe2\x82";
    size_t cleaned = jsonw_utf8_clean (dirty, sizeof (dirty) - 1);
    assert (cleaned == 10 && streq (dirty, "a?\xc3\xa9?????z"));
    json_t *valid = json_stringn (dirty, cleaned);
    assert (valid);
    json_decref (valid);
    printf ("OK\n");
}
