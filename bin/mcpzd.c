/*  mcpzd — the mcpz server. Parses settings, starts the supervisor, and
    waits for it to finish or for a signal. */
#include "actors/supervisor.h"
#include "runtime/accept.h"
#include "runtime/actor.h"
#include "runtime/config.h"
#include "runtime/log.h"
#include "tools/demo.h"
#include <curl/curl.h>
#include "tools/fixtures.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

extern char **environ;

//  Signals seen; the handlers only count, the main loop acts
static volatile sig_atomic_t s_signals = 0;
static volatile sig_atomic_t s_reloads = 0;

static void
s_on_reload (int signum)
{
    s_reloads++;
}

static void
s_on_signal (int signum)
{
    //  A second signal means now: the operator will not wait for a drain
    if (++s_signals > 1)
        _exit (1);
}

static void
s_catch_signals (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);
    action.sa_handler = s_on_reload;
    sigaction (SIGHUP, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
}

int
main (int argc, char *argv [])
{
    static config_t config;     //  read-only once the actors start
    char error [512];
    int rc = config_load (&config, argc, argv, environ, error, sizeof (error));
    if (rc == 1) {
        config_usage ();
        return 0;
    }
    if (rc) {
        fprintf (stderr, "mcpzd: %s\n", error);
        return 2;
    }
    log_setup ((log_level_t) config.log_level, config.log_json);
    //  Every descriptor the hard limit allows: connections are capped below
    //  what is left (the supervisor), never left to fail an accept
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit (RLIMIT_NOFILE, &files);
    }
    accept_reserve ();
    zsys_handler_set (NULL);    //  our own handler drains instead of aborting
    s_catch_signals ();
    //  Sockets per actor: a host 7 (pipe pair, tools, cleanup, control, DB),
    //  a tool worker 2, a DB worker 3, the rest a few dozen. CZMQ aborts
    //  past its cap, so count them all.
    zsys_set_max_sockets ((size_t) (8 * config.session_threads + 3 * config.tool_threads
                                    + 4 * config.db_workers + 64));
    zsys_set_linger (0);

    //  libcurl (HTTP upstreams) sets itself up once, before any thread
    curl_global_init (CURL_GLOBAL_DEFAULT);
    catalog_t *table = catalog_new ();
    if (!table || (config.demo_tools && demo_register (table))
    ||  (config.conformance_fixtures && fixtures_register (table))
    ||  catalog_freeze (table, config.page_size)) {
        fprintf (stderr, "mcpzd: cannot load the demo tools or the conformance fixtures\n");
        catalog_destroy (&table);
        return 2;
    }

    //  Actor threads inherit a mask that blocks SIGTERM, SIGINT and SIGHUP, so
    //  the signals reach this thread only and never interrupt an actor's send;
    //  one that comes during start-up waits until the actors are up.
    sigset_t signals, previous;
    sigemptyset (&signals);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &signals, &previous);
    supervisor_args_t args = { &config, table };
    zactor_t *supervisor = actor_start (supervisor_actor, &args, error, sizeof (error));
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
    if (!supervisor) {
        fprintf (stderr, "mcpzd: %s\n", error);
        catalog_destroy (&table);
        zsys_shutdown ();
        return 2;
    }
    //  The first signal drains (the supervisor answers SHUTDOWN when done);
    //  a second one exits at once, from the handler.
    zmq_pollitem_t item = { zsock_resolve (supervisor), 0, ZMQ_POLLIN, 0 };
    bool asked = false;
    sig_atomic_t reloads = 0;
    while (true) {
        if (s_reloads != reloads) {
            reloads = s_reloads;
            log_info ("mcpzd", "SIGHUP: reading credentials again");
            zstr_send (supervisor, "RELOAD");
        }
        if (s_signals && !asked) {
            log_info ("mcpzd", "signal: draining, then stopping (a second signal stops at once)");
            zstr_send (supervisor, "SHUTDOWN");
            asked = true;
        }
        if (zmq_poll (&item, 1, 100) > 0) {
            char *command = zstr_recv (supervisor);
            bool shutdown = !command || streq (command, "SHUTDOWN");
            zstr_free (&command);
            if (shutdown)
                break;
        }
    }
    log_info ("mcpzd", "stopping (%s)", s_signals? "signal": "operator");
    zactor_destroy (&supervisor);
    catalog_destroy (&table);
    zsys_shutdown ();
    curl_global_cleanup ();
    return 0;
}
