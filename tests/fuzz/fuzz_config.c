/*  fuzz_config — libFuzzer target for settings: the input up to its first
    0xff is a settings file (ZPL, read through --config), the rest flags
    split at NUL bytes; then the same flags as MCPZ_ environment variables.

    Build: cmake -DMCPZ_FUZZ=ON with clang (tests/tests.cmake); run:
    build/fuzz_config -max_total_time=60 -max_len=2048 tests/fuzz/config
*/
#include "runtime/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARGS_MAX 32

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const uint8_t *split = memchr (data, 0xff, size);
    size_t file_size = split? (size_t) (split - data): size;
    int fd = memfd_create ("mcpz-fuzz-config", 0);
    if (fd < 0)
        return 0;
    if (write (fd, data, file_size) != (ssize_t) file_size) {
        close (fd);
        return 0;
    }
    char path [64];
    snprintf (path, sizeof (path), "/proc/self/fd/%d", fd);
    size_t rest = split? size - file_size - 1: 0;
    char *flags = (char *) calloc (1, rest + 1);
    if (!flags) {
        close (fd);
        return 0;
    }
    if (rest)
        memcpy (flags, split + 1, rest);
    char *argv [ARGS_MAX + 4] = { "mcpzd", "--config", path };
    char *envp [ARGS_MAX + 1] = { NULL };
    int argc = 3, envc = 0;
    for (char *at = flags; at < flags + rest && argc < ARGS_MAX; at += strlen (at) + 1) {
        argv [argc++] = at;
        if (strncmp (at, "MCPZ_", 5) == 0 && envc < ARGS_MAX)
            envp [envc++] = at;
    }
    argv [argc] = NULL;
    static config_t config;
    char error [512];
    //  --help prints the usage: a return value like any other here
    int saved = dup (1), null = open ("/dev/null", 1);
    dup2 (null, 1);
    config_load (&config, argc, argv, envp, error, sizeof (error));
    dup2 (saved, 1);
    close (saved);
    close (null);
    free (flags);
    close (fd);
    return 0;
}
