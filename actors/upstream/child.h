/*  child — one stdio MCP server process: started with its stdin, stdout and
    stderr on pipes, fed newline-delimited JSON-RPC, read a line at a time,
    and killed. Used by the upstream actor only, on its thread.
*/
#ifndef MCPZ_UPSTREAM_CHILD_H
#define MCPZ_UPSTREAM_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct _child_t child_t;

//  Starts command under /bin/sh (as "exec COMMAND", so the process is the
//  command itself) in cwd ("" = ours) with env (NAME=VALUE,...) added.
//  NULL with *error_p set (static) when it cannot.
child_t *
    child_new (const char *command, const char *cwd, const char *env, const char **error_p);

//  Kills the process (SIGKILL), reaps it, closes its pipes.
void
    child_destroy (child_t **self_p);

//  Descriptors to poll: stdout, stderr (-1 once closed), and stdin when
//  output waits (else -1).
int child_stdout (child_t *self);
int child_stderr (child_t *self);
int child_stdin_waiting (child_t *self);

//  Queues one message and a newline for stdin and writes what it can.
//  Returns -1 when more than limit bytes would wait (the child does not
//  read).
int
    child_send (child_t *self, const char *text, size_t size, size_t limit);

//  Writes what waits for stdin; -1 when the pipe is broken.
int
    child_flush (child_t *self);

//  Reads what stdout has. Then child_line returns each complete line (a
//  pointer into the buffer, valid until the next read), NULL when none is
//  left. Returns -1 at end of file, -2 when a line grows past limit bytes.
int
    child_read (child_t *self, size_t limit);
char *
    child_line (child_t *self, size_t *size_p);

//  Reads stderr; calls line for each complete line (cut at 1 KB). Returns
//  -1 at end of file.
int
    child_read_stderr (child_t *self, void (*line) (void *arg, const char *text), void *arg);

//  Why its output ended (it exited with status N, was killed by signal N,
//  or closed its output), reaping it when it has exited (waits at most
//  20 ms for that).
void
    child_describe_end (child_t *self, char *text, size_t size);

pid_t
    child_pid (child_t *self);

//  Stops (SIGSTOP) or kills it: for tests and for a child that hangs.
void
    child_kill (child_t *self, int signal);

#endif
