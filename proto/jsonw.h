/*  jsonw — a small JSON text writer for the answers on the hot path.

    jansson builds a tree and prints it through vfprintf; for the few
    shapes mcpz sends per request (a result around spliced text, a text
    block) writing bytes straight into one buffer measured a large share
    of a host's time saved (profile in bench/REPORT.md). Input strings are
    UTF-8 already validated by the parser, so only quotes, backslashes and
    control characters need escaping.
*/
#ifndef MCPZ_JSONW_H
#define MCPZ_JSONW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *data;                 //  NUL-terminated text so far, owned
    size_t size;
    size_t capacity;
    bool failed;                //  an allocation failed: the text is unusable
} jsonw_t;

//  Starts an empty writer with room for about size bytes.
void
    jsonw_init (jsonw_t *self, size_t size);

//  Appends bytes as they are.
void
    jsonw_raw (jsonw_t *self, const char *text, size_t size);

//  Appends a C string as they are.
void
    jsonw_text (jsonw_t *self, const char *text);

//  Appends a JSON string literal (quotes and escapes added).
void
    jsonw_string (jsonw_t *self, const char *text, size_t size);

//  Appends a JSON-RPC id: an integer, a string, or null for NULL.
void
    jsonw_id (jsonw_t *self, json_t *id);

//  The longest prefix of text (size bytes of UTF-8) no longer than max
//  bytes that does not split a character.
size_t
    jsonw_utf8_prefix (const char *text, size_t size, size_t max);

//  Makes text (size bytes, with room for a NUL after them) well-formed
//  UTF-8 in place: a byte that starts no character becomes '?', and a
//  character cut short at the end goes. Returns the new size.
size_t
    jsonw_utf8_clean (char *text, size_t size);

//  Hands the text to the caller (who frees it) and its size; NULL when an
//  allocation failed. The writer is empty afterwards.
char *
    jsonw_finish (jsonw_t *self, size_t *size_p);

void
    jsonw_test (bool verbose);

#endif
