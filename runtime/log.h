/*  log — one line per event on stderr, as text or JSON.

    Level and format are set once before threads start. Each line is built
    in a local buffer and written with one write(2), so lines from different
    threads never interleave and no lock is needed.
*/
#ifndef MCPZ_LOG_H
#define MCPZ_LOG_H

#include "runtime/config.h"

#include <stdint.h>

//  Call once, before any thread starts.
void
    log_setup (log_level_t level, bool json);

bool
    log_enabled (log_level_t level);

//  actor names the source ("supervisor", "host 1"). The message should not
//  carry secrets: no tool arguments at info level.
void
    log_say (log_level_t level, const char *actor, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  One source of repeated trouble (a store that is down answers every
//  request with the same failure): at most one line a second passes, the
//  lines held back are counted and said with the next that passes. Owned
//  by whoever logs, zeroed to start.
typedef struct {
    int64_t last_ms;            //  monotonic ms of the last line that passed
    uint64_t held;              //  lines held back since
} log_limit_t;

void
    log_limited (log_limit_t *limit, log_level_t level, const char *actor, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

#define log_error(actor, ...) log_say (LEVEL_ERROR, actor, __VA_ARGS__)
#define log_warn(actor, ...)  log_say (LEVEL_WARN, actor, __VA_ARGS__)
#define log_info(actor, ...)  log_say (LEVEL_INFO, actor, __VA_ARGS__)
#define log_debug(actor, ...) \
    do { if (log_enabled (LEVEL_DEBUG)) log_say (LEVEL_DEBUG, actor, __VA_ARGS__); } while (0)

#endif
