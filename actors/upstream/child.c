/*  child — a stdio MCP server process. See child.h. */
#include "actors/upstream/child.h"

#include <czmq.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

#define STDERR_LINE 1024

typedef struct {
    char *data;
    size_t size, used, start;   //  capacity, bytes in, bytes already taken
} buffer_t;

struct _child_t {
    pid_t pid;
    int in, out, err;           //  our ends of its stdin, stdout, stderr
    buffer_t output;            //  waiting for its stdin
    buffer_t input;             //  read from its stdout
    buffer_t errors;            //  read from its stderr
    size_t scan;                //  bytes after input.start with no newline
};

static int
s_reserve (buffer_t *buffer, size_t more)
{
    if (buffer->start && buffer->start == buffer->used)
        buffer->start = buffer->used = 0;
    if (buffer->used + more <= buffer->size)
        return 0;
    if (buffer->start) {
        memmove (buffer->data, buffer->data + buffer->start, buffer->used - buffer->start);
        buffer->used -= buffer->start;
        buffer->start = 0;
        if (buffer->used + more <= buffer->size)
            return 0;
    }
    size_t size = buffer->size? buffer->size: 4096;
    while (size < buffer->used + more)
        size *= 2;
    char *data = (char *) realloc (buffer->data, size);
    if (!data)
        return -1;
    buffer->data = data;
    buffer->size = size;
    return 0;
}

//  The environment for the child: ours with env's NAME=VALUE pairs over it
static char **
s_environment (const char *env)
{
    size_t count = 0;
    while (environ [count])
        count++;
    size_t extra = *env? 1: 0;
    for (const char *at = env; *at; at++)
        extra += *at == ',';
    char **list = (char **) calloc (count + extra + 1, sizeof (char *));
    if (!list)
        return NULL;
    size_t used = 0;
    char *copy = strdup (env);
    char *saved = NULL;
    for (char *pair = copy? strtok_r (copy, ",", &saved): NULL; pair; pair = strtok_r (NULL, ",", &saved))
        if (strchr (pair, '=') && used < extra)
            list [used++] = strdup (pair);
    for (size_t index = 0; index < count; index++) {
        size_t name = strcspn (environ [index], "=");
        bool shadowed = false;
        for (size_t at = 0; at < used && list [at]; at++)
            shadowed |= strncmp (list [at], environ [index], name + 1) == 0;
        if (!shadowed)
            list [used++] = strdup (environ [index]);
    }
    free (copy);
    return list;
}

static void
s_environment_free (char **list)
{
    for (size_t index = 0; list && list [index]; index++)
        free (list [index]);
    free (list);
}

child_t *
child_new (const char *command, const char *cwd, const char *env, const char **error_p)
{
    int in [2] = { -1, -1 }, out [2] = { -1, -1 }, err [2] = { -1, -1 };
    child_t *self = (child_t *) calloc (1, sizeof (child_t));
    char *line = NULL;
    char **environment = s_environment (env);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    *error_p = "cannot make pipes";
    if (!self || !environment || asprintf (&line, "exec %s", command) < 0
    ||  pipe2 (in, O_CLOEXEC) || pipe2 (out, O_CLOEXEC) || pipe2 (err, O_CLOEXEC))
        goto failed;
    posix_spawn_file_actions_adddup2 (&actions, in [0], 0);
    posix_spawn_file_actions_adddup2 (&actions, out [1], 1);
    posix_spawn_file_actions_adddup2 (&actions, err [1], 2);
    if (*cwd)
        posix_spawn_file_actions_addchdir_np (&actions, cwd);
    char *argv [] = { "sh", "-c", line, NULL };
    *error_p = "cannot start the command";
    if (posix_spawn (&self->pid, "/bin/sh", &actions, NULL, argv, environment))
        goto failed;
    close (in [0]), close (out [1]), close (err [1]);
    self->in = in [1], self->out = out [0], self->err = err [0];
    fcntl (self->in, F_SETFL, O_NONBLOCK);
    fcntl (self->out, F_SETFL, O_NONBLOCK);
    fcntl (self->err, F_SETFL, O_NONBLOCK);
    posix_spawn_file_actions_destroy (&actions);
    s_environment_free (environment);
    free (line);
    *error_p = NULL;
    return self;
failed:
    for (int index = 0; index < 2; index++) {
        if (in [index] >= 0) close (in [index]);
        if (out [index] >= 0) close (out [index]);
        if (err [index] >= 0) close (err [index]);
    }
    posix_spawn_file_actions_destroy (&actions);
    s_environment_free (environment);
    free (line);
    free (self);
    return NULL;
}

void
child_destroy (child_t **self_p)
{
    child_t *self = *self_p;
    if (!self)
        return;
    if (self->pid > 0) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, NULL, 0);
    }
    close (self->in);
    close (self->out);
    if (self->err >= 0)
        close (self->err);
    free (self->output.data);
    free (self->input.data);
    free (self->errors.data);
    free (self);
    *self_p = NULL;
}

int
child_stdout (child_t *self)
{
    return self->out;
}

int
child_stderr (child_t *self)
{
    return self->err;
}

int
child_stdin_waiting (child_t *self)
{
    return self->output.used > self->output.start? self->in: -1;
}

void
child_describe_end (child_t *self, char *text, size_t size)
{
    int status;
    //  Its output closes as it exits: give it a moment to be reaped
    pid_t reaped = 0;
    for (int tries = 0; tries < 20 && reaped == 0; tries++) {
        reaped = waitpid (self->pid, &status, WNOHANG);
        if (reaped == 0)
            usleep (1000);
    }
    if (reaped == self->pid && WIFEXITED (status))
        snprintf (text, size, "it exited with status %d", WEXITSTATUS (status));
    else
    if (reaped == self->pid && WIFSIGNALED (status))
        snprintf (text, size, "it was killed by signal %d", WTERMSIG (status));
    else
        snprintf (text, size, "it closed its output");
    if (reaped == self->pid)
        self->pid = -1;         //  reaped: nothing to kill
}

pid_t
child_pid (child_t *self)
{
    return self->pid;
}

void
child_kill (child_t *self, int signal)
{
    kill (self->pid, signal);
}

int
child_flush (child_t *self)
{
    buffer_t *output = &self->output;
    while (output->used > output->start) {
        ssize_t written = write (self->in, output->data + output->start, output->used - output->start);
        if (written < 0)
            return errno == EAGAIN || errno == EINTR? 0: -1;
        output->start += (size_t) written;
    }
    return 0;
}

int
child_send (child_t *self, const char *text, size_t size, size_t limit)
{
    buffer_t *output = &self->output;
    if (output->used - output->start + size + 1 > limit || s_reserve (output, size + 1))
        return -1;
    memcpy (output->data + output->used, text, size);
    output->data [output->used + size] = '\n';
    output->used += size + 1;
    return child_flush (self);
}

int
child_read (child_t *self, size_t limit)
{
    buffer_t *input = &self->input;
    while (true) {
        if (input->used - input->start > limit || s_reserve (input, 65536))
            return -2;
        ssize_t got = read (self->out, input->data + input->used, input->size - input->used);
        if (got == 0)
            return -1;
        if (got < 0)
            return errno == EAGAIN || errno == EINTR? 0: -1;
        input->used += (size_t) got;
    }
}

char *
child_line (child_t *self, size_t *size_p)
{
    buffer_t *input = &self->input;
    //  scan counts bytes after start known to hold no newline: it stays
    //  right when the buffer moves its bytes down
    size_t from = input->start + self->scan;
    char *newline = from < input->used?
                    (char *) memchr (input->data + from, '\n', input->used - from): NULL;
    if (!newline) {
        self->scan = input->used - input->start;
        return NULL;
    }
    char *line = input->data + input->start;
    *size_p = (size_t) (newline - line);
    input->start = (size_t) (newline - input->data) + 1;
    self->scan = 0;
    return line;
}

int
child_read_stderr (child_t *self, void (*line) (void *arg, const char *text), void *arg)
{
    buffer_t *errors = &self->errors;
    char chunk [4096];
    ssize_t got = read (self->err, chunk, sizeof (chunk));
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        close (self->err);
        self->err = -1;
        return -1;
    }
    for (ssize_t at = 0; at < got; at++) {
        if (chunk [at] == '\n' || errors->used - errors->start == STDERR_LINE) {
            if (s_reserve (errors, 1) == 0) {
                errors->data [errors->used] = 0;
                line (arg, errors->data + errors->start);
            }
            errors->start = errors->used = 0;
            if (chunk [at] == '\n')
                continue;
        }
        if (s_reserve (errors, 1) == 0)
            errors->data [errors->used++] = chunk [at];
    }
    return 0;
}
