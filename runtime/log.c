/*  log — see log.h. */
#include "runtime/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  Set once by log_setup before threads start, read-only afterwards.
static log_level_t s_level = LEVEL_INFO;
static bool s_json = false;

static const char *const s_names [] = { "error", "warn", "info", "debug" };

void
log_setup (log_level_t level, bool json)
{
    s_level = level;
    s_json = json;
}

bool
log_enabled (log_level_t level)
{
    return level <= s_level;
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

//  Makes text (size bytes) well-formed UTF-8 in place: a byte that starts
//  no character becomes '?', and a character cut at the end (vsnprintf
//  cuts by bytes) goes. Returns the new size.
static size_t
s_clean_utf8 (char *text, size_t size)
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

void
log_say (log_level_t level, const char *actor, const char *format, ...)
{
    if (!log_enabled (level))
        return;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    char stamp [40];
    size_t at = strftime (stamp, sizeof (stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (stamp + at, sizeof (stamp) - at, ".%03ldZ", now.tv_nsec / 1000000);

    char message [2048];
    va_list args;
    va_start (args, format);
    int length = vsnprintf (message, sizeof (message), format, args);
    va_end (args);
    if (length < 0)
        return;
    size_t size = s_clean_utf8 (message, (size_t) length < sizeof (message)? (size_t) length: sizeof (message) - 1);

    if (s_json) {
        //  Written whole: a JSON line cut at a buffer's end is no JSON
        json_t *event = json_pack ("{s:s,s:s,s:s,s:s%}", "ts", stamp, "level", s_names [level],
                                   "actor", actor, "msg", message, size);
        char *text = event? json_dumps (event, JSON_COMPACT): NULL;
        json_decref (event);
        size_t text_size = text? strlen (text): 0;
        char *out = text? (char *) realloc (text, text_size + 2): NULL;
        if (out)
            out [text_size] = '\n';
        if (out && write (STDERR_FILENO, out, text_size + 1) < 0) {
            //  nowhere left to report it
        }
        free (out? out: text);
        return;
    }
    char line [4096];
    int written = snprintf (line, sizeof (line), "%s %s %s: %s\n", stamp, s_names [level], actor, message);
    if (written > (int) sizeof (line) - 1) {
        written = (int) sizeof (line) - 1;
        line [written - 1] = '\n';     //  cut, but still one line
    }
    if (written > 0 && write (STDERR_FILENO, line, (size_t) written) < 0)
        return;                 //  nowhere left to report it
}
