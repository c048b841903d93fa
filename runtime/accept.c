/*  accept — accept(2) and accept4(2) for the whole process, so that no
    accept ever finds no descriptor left.

    libzmq 4.3.4 aborts when an ipc listener's accept fails with EMFILE
    (its errno_assert does not list it) and spins when a tcp listener's
    does (the listener stays readable). These definitions come before
    libc's for every library in the process (libzmq, libmicrohttpd): on
    EMFILE or ENFILE one descriptor kept spare is let go, the waiting
    connection is taken and closed at once (its client hears the refusal),
    the spare is taken back, and the caller is told EAGAIN, which every
    caller reads as "nothing more now". The connection caps (actors/peers.c,
    the HTTP edge's limit) keep this for bursts past them.

    The spare is one descriptor for the process, handed between threads by
    an atomic exchange: a thread that finds it taken answers EAGAIN and
    leaves the connection for the next accept.
*/
#include "runtime/accept.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int s_spare = -1;

void
accept_reserve (void)
{
    int spare = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    int none = -1;
    if (spare >= 0 && !__atomic_compare_exchange_n (&s_spare, &none, spare, false,
                                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        close (spare);          //  one is there already
}

static int
s_refuse_one (int listener)
{
    int spare = __atomic_exchange_n (&s_spare, -1, __ATOMIC_ACQ_REL);
    if (spare >= 0) {
        close (spare);
        int client = (int) syscall (SYS_accept4, listener, NULL, NULL, SOCK_CLOEXEC);
        if (client >= 0)
            close (client);
        accept_reserve ();
    }
    errno = EAGAIN;
    return -1;
}

int
accept4 (int listener, struct sockaddr *address, socklen_t *size, int flags)
{
    int client = (int) syscall (SYS_accept4, listener, address, size, flags);
    if (client == -1 && (errno == EMFILE || errno == ENFILE))
        return s_refuse_one (listener);
    return client;
}

int
accept (int listener, struct sockaddr *address, socklen_t *size)
{
    return accept4 (listener, address, size, 0);
}
