/*  seed_refresh — the baseline for the cleanup refresh benchmark: the
    seed's design, one UPDATE per session fanned out over N connections
    (one thread each, autocommit), against the same table mcpz uses.

    Usage: seed_refresh URL IDS_FILE [CONNECTIONS]
    IDS_FILE holds one session id per line. Prints rows, seconds, rows/s.
*/
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *url;
    char **ids;
    size_t first, count;
    long failed;
} share_t;

static void *
s_worker (void *arg)
{
    share_t *share = (share_t *) arg;
    PGconn *conn = PQconnectdb (share->url);
    if (PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr, "seed_refresh: %s", PQerrorMessage (conn));
        share->failed = (long) share->count;
        PQfinish (conn);
        return NULL;
    }
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    char stamp [32];
    snprintf (stamp, sizeof (stamp), "%lld", (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000);
    for (size_t index = share->first; index < share->first + share->count; index++) {
        const char *values [] = { stamp, share->ids [index] };
        PGresult *result = PQexecParams (conn,
            "UPDATE sessions SET last_accessed = $1::bigint WHERE id = $2", 2, NULL, values,
            NULL, NULL, 0);
        if (PQresultStatus (result) != PGRES_COMMAND_OK)
            share->failed++;
        PQclear (result);
    }
    PQfinish (conn);
    return NULL;
}

int
main (int argc, char *argv [])
{
    if (argc < 3) {
        fprintf (stderr, "usage: seed_refresh URL IDS_FILE [CONNECTIONS]\n");
        return 2;
    }
    int connections = argc > 3? atoi (argv [3]): 5;
    FILE *file = fopen (argv [2], "r");
    if (!file || connections < 1) {
        fprintf (stderr, "seed_refresh: cannot read %s\n", argv [2]);
        return 2;
    }
    size_t size = 1024, count = 0;
    char **ids = malloc (size * sizeof (char *));
    char line [128];
    while (fgets (line, sizeof (line), file)) {
        line [strcspn (line, "\n")] = 0;
        if (!*line)
            continue;
        if (count == size)
            ids = realloc (ids, (size *= 2) * sizeof (char *));
        ids [count++] = strdup (line);
    }
    fclose (file);
    pthread_t threads [connections];
    share_t shares [connections];
    struct timespec start, end;
    clock_gettime (CLOCK_MONOTONIC, &start);
    for (int index = 0; index < connections; index++) {
        size_t first = count * (size_t) index / (size_t) connections;
        size_t last = count * (size_t) (index + 1) / (size_t) connections;
        shares [index] = (share_t) { argv [1], ids, first, last - first, 0 };
        pthread_create (&threads [index], NULL, s_worker, &shares [index]);
    }
    long failed = 0;
    for (int index = 0; index < connections; index++) {
        pthread_join (threads [index], NULL);
        failed += shares [index].failed;
    }
    clock_gettime (CLOCK_MONOTONIC, &end);
    double seconds = (double) (end.tv_sec - start.tv_sec) + (double) (end.tv_nsec - start.tv_nsec) / 1e9;
    printf ("rows %zu failed %ld seconds %.3f rows_per_s %.0f\n",
            count, failed, seconds, (double) count / seconds);
    for (size_t index = 0; index < count; index++)
        free (ids [index]);
    free (ids);
    return failed? 1: 0;
}
