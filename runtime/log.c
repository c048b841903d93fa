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
    vsnprintf (message, sizeof (message), format, args);
    va_end (args);

    char line [4096];
    int size;
    if (s_json) {
        json_t *event = json_pack ("{s:s,s:s,s:s,s:s}", "ts", stamp,
                                   "level", s_names [level], "actor", actor,
                                   "msg", message);
        char *text = event? json_dumps (event, JSON_COMPACT): NULL;
        size = snprintf (line, sizeof (line), "%s\n", text? text: "{}");
        free (text);
        json_decref (event);
    }
    else
        size = snprintf (line, sizeof (line), "%s %s %s: %s\n", stamp,
                         s_names [level], actor, message);
    if (size > (int) sizeof (line) - 1) {
        size = (int) sizeof (line) - 1;
        line [size - 1] = '\n';     //  cut, but still one line
    }
    if (size > 0 && write (STDERR_FILENO, line, (size_t) size) < 0)
        return;                 //  nowhere left to report it
}
