/*  log — see log.h. */
#include "runtime/log.h"
#include "proto/jsonw.h"

#include <inttypes.h>
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

void
log_limited (log_limit_t *limit, log_level_t level, const char *actor, const char *format, ...)
{
    if (!log_enabled (level))
        return;
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    int64_t now_ms = (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (limit->last_ms && now_ms - limit->last_ms < 1000) {
        limit->held++;
        return;
    }
    char message [1800];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof (message), format, args);
    va_end (args);
    if (limit->held)
        log_say (level, actor, "%s (and %" PRIu64 " more like it in the last %.1f s)", message,
                 limit->held, (double) (now_ms - limit->last_ms) / 1000.0);
    else
        log_say (level, actor, "%s", message);
    limit->last_ms = now_ms;
    limit->held = 0;
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
    size_t size = jsonw_utf8_clean (message, (size_t) length < sizeof (message)? (size_t) length: sizeof (message) - 1);

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
