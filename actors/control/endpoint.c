/*  endpoint — binds the operator's control socket, and refuses an
    endpoint that would let anyone but its owner in: a tcp endpoint off
    loopback unless --control-remote allows it, any transport but tcp and
    ipc; the default ipc socket in a directory only its owner can enter
    (never through a symbolic link), created with mode 0600.
*/
#include "actors/control/endpoint.h"
#include "proto/control.h"
#include "proto/endpoint.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONTROL_HWM 1000        //  operator requests queued

//  The default control socket lives in a directory only its owner can
//  enter: mode 0600 on the socket alone does not stop every client.
static int
s_private_directory (const char *path, char *error, size_t error_size)
{
    char directory [1024];
    snprintf (directory, sizeof (directory), "%s", path);
    char *slash = strrchr (directory, '/');
    if (!slash)
        return 0;
    *slash = 0;
    if (mkdir (directory, 0700) && errno != EEXIST) {
        snprintf (error, error_size, "--control: cannot create %.200s: %s", directory, strerror (errno));
        return -1;
    }
    //  lstat: a symbolic link planted there would have us chmod, and bind
    //  over a file in, a directory of someone else's choosing
    struct stat info;
    if (lstat (directory, &info) || !S_ISDIR (info.st_mode) || info.st_uid != geteuid ()) {
        snprintf (error, error_size, "--control: %.200s is not a directory of ours", directory);
        return -1;
    }
    if ((info.st_mode & 077) && chmod (directory, 0700)) {
        snprintf (error, error_size, "--control: cannot make %.200s private", directory);
        return -1;
    }
    return 0;
}

zsock_t *
control_endpoint_bind (const config_t *config, ino_t *bound_p, char *error, size_t error_size)
{
    const char *endpoint = config->control;
    *bound_p = 0;
    bool ipc = strncmp (endpoint, "ipc://", 6) == 0;
    bool tcp = strncmp (endpoint, "tcp://", 6) == 0;
    if (!ipc && !tcp) {
        snprintf (error, error_size, "--control %.200s: the control endpoint must be tcp:// or ipc://", endpoint);
        return NULL;
    }
    if (tcp && !endpoint_tcp_loopback (endpoint + 6) && !config->control_remote) {
        snprintf (error, error_size, "--control %.200s: a tcp control endpoint must be HOST:PORT on loopback "
                  "(or allowed with --control-remote)", endpoint);
        return NULL;
    }
    if (ipc && config_source (config, "control") == SOURCE_DEFAULT
    &&  s_private_directory (endpoint + 6, error, error_size))
        return NULL;
    zsock_t *control = zsock_new (ZMQ_ROUTER);
    if (!control)
        return NULL;
    zsock_set_linger (control, 500);      //  let the last reply leave
    zsock_set_sndhwm (control, CONTROL_HWM);
    zsock_set_rcvhwm (control, CONTROL_HWM);
    zsock_set_maxmsgsize (control, CONTROL_FRAME_MAX);
    //  The file is created by bind: narrow the mask so it is never open.
    //  umask is per process; no other thread creates files at start-up.
    mode_t mask = umask (077);
    int rc = zsock_bind (control, "%s", endpoint);
    umask (mask);
    if (rc == -1) {
        snprintf (error, error_size, "--control %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&control);
        return NULL;
    }
    struct stat info;
    if (ipc && lstat (endpoint + 6, &info) == 0 && S_ISSOCK (info.st_mode)) {
        chmod (endpoint + 6, 0600);
        *bound_p = info.st_ino;
    }
    return control;
}

void
control_endpoint_close (zsock_t **control_p, const config_t *config, ino_t bound)
{
    zsock_destroy (control_p);
    struct stat info;
    const char *path = config->control + 6;
    if (bound && lstat (path, &info) == 0 && S_ISSOCK (info.st_mode) && info.st_ino == bound)
        unlink (path);
}

