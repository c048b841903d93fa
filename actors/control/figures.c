/*  figures — what the actors report to the control actor, merged: the
    Prometheus text of "metrics". Pure code: JSON figures in, text out; no
    sockets, no state.
*/
#include "actors/control/figures.h"
#include "proto/metrics.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_int_t
figures_sum (json_t *array, const char *field)
{
    json_int_t sum = 0;
    size_t index;
    json_t *item;
    json_array_foreach (array, index, item)
        sum += json_integer_value (json_object_get (item, field));
    return sum;
}

static void
s_counter (metrics_t *metrics, const char *name, const char *help, double value)
{
    metrics_family (metrics, name, "counter", help);
    metrics_sample (metrics, name, NULL, value);
}

static void
s_gauge (metrics_t *metrics, const char *name, const char *help, double value)
{
    metrics_family (metrics, name, "gauge", help);
    metrics_sample (metrics, name, NULL, value);
}

//  Sums one field over the hosts' figures.
#define HOSTS(field) ((double) figures_sum (figures->hosts, field))

static void
s_hosts (const figures_t *figures, metrics_t *metrics)
{
    s_gauge (metrics, "mcpz_sessions_open", "Sessions held in memory now.", HOSTS ("sessions"));
    s_counter (metrics, "mcpz_sessions_opened_total", "Sessions opened (initialize answered).", HOSTS ("opened"));
    s_counter (metrics, "mcpz_sessions_closed_total", "Sessions closed by CLOSE or kill.", HOSTS ("closed"));
    s_counter (metrics, "mcpz_sessions_expired_total", "Sessions expired idle past the TTL.", HOSTS ("expired"));
    s_counter (metrics, "mcpz_sessions_resumed_total", "Sessions loaded from the store.", HOSTS ("loads"));
    s_counter (metrics, "mcpz_sessions_dropped_total", "Sessions dropped because the store no longer had them.", HOSTS ("dropped"));
    s_gauge (metrics, "mcpz_requests_inflight", "Tool calls in flight on tool workers.", HOSTS ("inflight"));
    s_counter (metrics, "mcpz_timeouts_total", "Requests answered -32001 at their deadline.", HOSTS ("timeouts"));
    s_counter (metrics, "mcpz_cancellations_total", "Requests cancelled by the client.", HOSTS ("cancelled"));
    s_counter (metrics, "mcpz_late_results_total", "Tool results that came after their request ended; dropped.", HOSTS ("late"));
    s_counter (metrics, "mcpz_replay_evictions_total", "Events evicted from replay rings.", HOSTS ("evicted"));
    s_gauge (metrics, "mcpz_replay_bytes", "Bytes the replay rings of every session hold.",
             HOSTS ("replay_bytes"));
    s_counter (metrics, "mcpz_replay_budget_evictions_total",
               "Replay events evicted, oldest first, to keep the rings within --replay-budget.",
               HOSTS ("budget_evicted"));
    s_counter (metrics, "mcpz_client_session_cap_refusals_total",
               "Sessions refused because their client held --max-client-sessions.", HOSTS ("client_caps"));
}

//  Requests by method and outcome, summed over the hosts
static void
s_requests (const figures_t *figures, metrics_t *metrics)
{
    metrics_family (metrics, "mcpz_requests_total", "counter", "Requests by method and outcome.");
    json_t *merged = json_object ();
    size_t index;
    json_t *host;
    json_array_foreach (figures->hosts, index, host) {
        const char *method;
        json_t *outcomes;
        json_object_foreach (json_object_get (host, "methods"), method, outcomes) {
            json_t *into = json_object_get (merged, method);
            if (!into)
                json_object_set_new (merged, method, into = json_object ());
            const char *outcome;
            json_t *value;
            json_object_foreach (outcomes, outcome, value)
                json_object_set_new (into, outcome, json_integer (
                    json_integer_value (json_object_get (into, outcome)) + json_integer_value (value)));
        }
    }
    const char *method;
    json_t *outcomes;
    json_object_foreach (merged, method, outcomes) {
        const char *outcome;
        json_t *value;
        json_object_foreach (outcomes, outcome, value) {
            char labels [128];
            snprintf (labels, sizeof (labels), "method=\"%s\",outcome=\"%s\"", method, outcome);
            metrics_sample (metrics, "mcpz_requests_total", labels, (double) json_integer_value (value));
        }
    }
    json_decref (merged);
}

//  Latency by method, the hosts' histograms merged
static void
s_latency (const figures_t *figures, metrics_t *metrics)
{
    metrics_family (metrics, "mcpz_request_duration_seconds", "histogram",
                    "Time from a request's arrival at its host to its answer, by method.");
    json_t *methods = json_object ();
    size_t index;
    json_t *host;
    const char *method;
    json_array_foreach (figures->hosts, index, host) {
        json_t *histogram;
        json_object_foreach (json_object_get (host, "latency"), method, histogram) {
            histogram_t *into = (histogram_t *) json_integer_value (json_object_get (methods, method));
            if (!into) {
                into = (histogram_t *) calloc (1, sizeof (histogram_t));
                json_object_set_new (methods, method, json_integer ((json_int_t) (intptr_t) into));
            }
            histogram_add_json (into, histogram);
        }
    }
    json_t *pointer;
    json_object_foreach (methods, method, pointer) {
        histogram_t *histogram = (histogram_t *) (intptr_t) json_integer_value (pointer);
        char labels [64];
        snprintf (labels, sizeof (labels), "method=\"%s\"", method);
        metrics_histogram (metrics, "mcpz_request_duration_seconds", labels, histogram);
        free (histogram);
    }
    json_decref (methods);
}

static void
s_host_queues (const figures_t *figures, metrics_t *metrics)
{
    metrics_family (metrics, "mcpz_host_queue", "gauge", "Work waiting in each session host, by kind.");
    size_t index;
    json_t *host;
    json_array_foreach (figures->hosts, index, host) {
        char labels [64];
        const char *kinds [] = { "inflight", "loading", "store_ops" };
        for (int kind = 0; kind < 3; kind++) {
            snprintf (labels, sizeof (labels), "host=\"%lld\",kind=\"%s\"",
                      (long long) json_integer_value (json_object_get (host, "host")), kinds [kind]);
            metrics_sample (metrics, "mcpz_host_queue", labels,
                            (double) json_integer_value (json_object_get (host, kinds [kind])));
        }
    }
}

//  ERR answers by status: the hosts' and the supervisor's
static void
s_refusals (const figures_t *figures, metrics_t *metrics)
{
    json_t *supervisor = figures->supervisor;
    metrics_family (metrics, "mcpz_refusals_total", "counter", "ERR answers by status.");
    const char *statuses [] = { "400", "404", "413", "429", "503" };
    json_t *refusals = json_object ();
    size_t index;
    json_t *host;
    json_array_foreach (figures->hosts, index, host)
        for (int at = 0; at < 5; at++)
            json_object_set_new (refusals, statuses [at], json_integer (
                json_integer_value (json_object_get (refusals, statuses [at]))
              + json_integer_value (json_object_get (json_object_get (host, "refusals"), statuses [at]))));
    for (int at = 0; at < 5; at++) {
        char labels [32];
        snprintf (labels, sizeof (labels), "status=\"%s\"", statuses [at]);
        metrics_sample (metrics, "mcpz_refusals_total", labels, (double) (
            json_integer_value (json_object_get (refusals, statuses [at]))
          + json_integer_value (json_object_get (json_object_get (supervisor, "refusals"), statuses [at]))));
    }
    json_decref (refusals);
}

typedef struct {
    const char *type, *name, *field, *help;
} row_t;

//  One sample per row, from the object's integer fields
static void
s_rows (metrics_t *metrics, json_t *object, const row_t *rows, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        metrics_family (metrics, rows [index].name, rows [index].type, rows [index].help);
        metrics_sample (metrics, rows [index].name, NULL,
                        (double) json_integer_value (json_object_get (object, rows [index].field)));
    }
}

//  The HTTP edge's, when it runs (in the supervisor's figures)
static void
s_http (const figures_t *figures, metrics_t *metrics)
{
    json_t *http = json_object_get (figures->supervisor, "http");
    if (!http)
        return;
    static const row_t rows [] = {
        { "gauge", "mcpz_http_connections", "connections", "HTTP connections open now." },
        { "counter", "mcpz_http_connections_total", "connections_total", "HTTP connections accepted." },
        { "counter", "mcpz_http_requests_total", "requests_total", "HTTP requests read." },
        { "gauge", "mcpz_http_streams", "streams", "GET streams open now." },
        { "counter", "mcpz_http_streams_dropped_total", "streams_dropped",
          "SSE streams dropped because their reader fell behind." },
        { "gauge", "mcpz_http_held_bytes", "held_bytes",
          "Bytes HTTP uploads and SSE streams hold now (at most --http-buffer-bytes)." }
    };
    s_rows (metrics, http, rows, sizeof (rows) / sizeof (rows [0]));
    metrics_family (metrics, "mcpz_http_responses_total", "counter", "HTTP responses by status class.");
    const char *key;
    json_t *value;
    json_object_foreach (json_object_get (http, "responses"), key, value) {
        char labels [32];
        snprintf (labels, sizeof (labels), "code=\"%s\"", key);
        metrics_sample (metrics, "mcpz_http_responses_total", labels, (double) json_integer_value (value));
    }
}

//  The ZeroMQ front's connections (in the supervisor's figures)
static void
s_connections (const figures_t *figures, metrics_t *metrics)
{
    json_t *connections = json_object_get (figures->supervisor, "connections");
    if (!connections)
        return;
    static const row_t rows [] = {
        { "gauge", "mcpz_connections", "open", "ZeroMQ client connections open now." },
        { "gauge", "mcpz_connections_max", "max", "ZeroMQ client connections allowed at once." },
        { "counter", "mcpz_connections_refused_total", "refused",
          "ZeroMQ client connections shut at once: the connection cap was reached." },
        { "counter", "mcpz_connections_dropped_inflight_total", "dropped_inflight",
          "Connections dropped for holding more than --peer-inflight-bytes of unfinished messages." },
        { "counter", "mcpz_connections_dropped_unread_total", "dropped_unread",
          "Connections dropped for leaving more than --peer-queue-bytes of answers unread." }
    };
    s_rows (metrics, connections, rows, sizeof (rows) / sizeof (rows [0]));
}

//  The node link's and the lease's, with a persistent store
static void
s_cluster (const figures_t *figures, metrics_t *metrics)
{
    json_t *cluster = json_object_get (figures->supervisor, "cluster");
    if (!cluster)
        return;
    static const row_t rows [] = {
        { "counter", "mcpz_cluster_forwarded_total", "forwarded", "Frames forwarded to their session's owner node." },
        { "counter", "mcpz_cluster_served_total", "served", "Frames other nodes forwarded here." },
        { "counter", "mcpz_cluster_moved_total", "moved", "Forwarded frames whose session had moved on." },
        { "counter", "mcpz_cluster_lost_total", "lost", "Forwarded frames whose node was lost before answering." },
        { "counter", "mcpz_cluster_refused_total", "refused", "Frames the node link refused (503)." },
        { "gauge", "mcpz_cluster_pending", "pending", "Forwarded frames waiting for their answer." },
        { "gauge", "mcpz_cluster_held_bytes", "held_bytes",
          "Bytes of forwarded frames held for their answers (at most --link-buffer-bytes)." },
        { "gauge", "mcpz_cluster_routes", "routes", "Sessions whose owner node is remembered." }
    };
    s_rows (metrics, cluster, rows, sizeof (rows) / sizeof (rows [0]));
    s_gauge (metrics, "mcpz_cluster_lease_held", "1 while this node holds its lease in the store.",
             json_string_value (json_object_get (cluster, "lease"))
             && strcmp (json_string_value (json_object_get (cluster, "lease")), "held") == 0);
    s_gauge (metrics, "mcpz_cluster_nodes", "Other live nodes this node links to.",
             (double) json_array_size (json_object_get (cluster, "nodes")));
}

static void
s_others (const figures_t *figures, bool partial, metrics_t *metrics)
{
    json_t *supervisor = figures->supervisor;
    s_counter (metrics, "mcpz_undeliverable_total", "Answers a client was gone for or not reading; kept for replay.",
               (double) json_integer_value (json_object_get (supervisor, "undeliverable")));
    s_gauge (metrics, "mcpz_draining", "1 while the node refuses new sessions.",
             json_is_true (json_object_get (supervisor, "draining")));
    s_gauge (metrics, "mcpz_uptime_seconds", "Seconds since start.",
             (double) json_integer_value (json_object_get (supervisor, "uptime_s")));

    json_t *tools = figures->tools;
    s_gauge (metrics, "mcpz_tool_workers_busy", "Tool workers running a call.",
             (double) json_integer_value (json_object_get (tools, "busy")));
    s_gauge (metrics, "mcpz_tool_queue", "Tool calls waiting for a free worker.",
             (double) json_integer_value (json_object_get (tools, "queued")));
    s_counter (metrics, "mcpz_tool_calls_total", "Tool calls given to workers.",
               (double) json_integer_value (json_object_get (tools, "calls")));

    metrics_family (metrics, "mcpz_store_requests_total", "counter", "Store requests served by DB workers, by result.");
    metrics_sample (metrics, "mcpz_store_requests_total", "result=\"ok\"",
                    (double) (figures_sum (figures->db, "served") - figures_sum (figures->db, "failed")));
    metrics_sample (metrics, "mcpz_store_requests_total", "result=\"error\"",
                    (double) figures_sum (figures->db, "failed"));
    s_gauge (metrics, "mcpz_store_connected", "DB workers connected to the store.",
             (double) figures_sum (figures->db, "connected"));
    histogram_t store = { 0 };
    size_t index;
    json_t *worker;
    json_array_foreach (figures->db, index, worker)
        histogram_add_json (&store, json_object_get (worker, "latency"));
    metrics_family (metrics, "mcpz_store_batch_duration_seconds", "histogram",
                    "Time a DB worker spent on one batch of store requests.");
    metrics_histogram (metrics, "mcpz_store_batch_duration_seconds", NULL, &store);

    json_t *cleanup = figures->cleanup;
    s_counter (metrics, "mcpz_cleanup_cycles_total", "Cleanup cycles run.",
               (double) json_integer_value (json_object_get (cleanup, "cycles")));
    const char *results [] = { "checked", "expired", "refreshed", "missing", "failed" };
    metrics_family (metrics, "mcpz_cleanup_sessions_total", "counter", "Sessions seen by cleanup cycles, by result.");
    for (int at = 0; at < 5; at++) {
        char labels [32];
        snprintf (labels, sizeof (labels), "result=\"%s\"", results [at]);
        metrics_sample (metrics, "mcpz_cleanup_sessions_total", labels,
                        (double) json_integer_value (json_object_get (json_object_get (cleanup, "totals"), results [at])));
    }
    s_gauge (metrics, "mcpz_cleanup_last_duration_seconds", "Duration of the last cleanup cycle.",
             (double) json_integer_value (json_object_get (json_object_get (cleanup, "last"), "duration_ms")) / 1000.0);
    s_gauge (metrics, "mcpz_metrics_partial", "1 when some actor did not report in time.",
             partial);
}

//  Per upstream, labelled by its name (letters, digits and '-': nothing
//  to escape)
static void
s_upstreams (const figures_t *figures, metrics_t *metrics)
{
    static const struct {
        const char *name, *type, *help, *field;
    } s_series [] = {
        { "mcpz_upstream_calls_total", "counter", "Requests an upstream answered or failed.", "calls" },
        { "mcpz_upstream_errors_total", "counter", "Requests an upstream failed (its errors and its instances').", "errors" },
        { "mcpz_upstream_restarts_total", "counter", "Instances of an upstream taken down and started again.", "restarts" },
        { "mcpz_upstream_busy_total", "counter", "Calls refused because an upstream's queue was full.", "busy" },
        { "mcpz_upstream_inflight", "gauge", "Requests an upstream's instances hold now.", "inflight" },
        { "mcpz_upstream_queued", "gauge", "Calls waiting for a free instance.", "queued" },
    };
    if (!json_array_size (figures->upstreams))
        return;
    for (size_t series = 0; series < sizeof (s_series) / sizeof (s_series [0]); series++) {
        metrics_family (metrics, s_series [series].name, s_series [series].type, s_series [series].help);
        size_t index;
        json_t *upstream;
        json_array_foreach (figures->upstreams, index, upstream) {
            char labels [64];
            snprintf (labels, sizeof (labels), "upstream=\"%s\"", json_string_value (json_object_get (upstream, "name")));
            metrics_sample (metrics, s_series [series].name, labels,
                            (double) json_integer_value (json_object_get (upstream, s_series [series].field)));
        }
    }
    metrics_family (metrics, "mcpz_upstream_up", "gauge", "1 while every instance of an upstream is up.");
    metrics_family (metrics, "mcpz_upstream_duration_seconds", "histogram", "Time an upstream took to answer.");
    size_t index;
    json_t *upstream;
    json_array_foreach (figures->upstreams, index, upstream) {
        char labels [64];
        snprintf (labels, sizeof (labels), "upstream=\"%s\"", json_string_value (json_object_get (upstream, "name")));
        const char *state = json_string_value (json_object_get (upstream, "state"));
        metrics_sample (metrics, "mcpz_upstream_up", labels, state && strcmp (state, "up") == 0);
        histogram_t latency = { 0 };
        histogram_add_json (&latency, json_object_get (upstream, "latency"));
        metrics_histogram (metrics, "mcpz_upstream_duration_seconds", labels, &latency);
    }
}

char *
figures_metrics (const figures_t *figures, bool partial)
{
    metrics_t *metrics = metrics_new ();
    if (!metrics)
        return NULL;
    s_hosts (figures, metrics);
    s_requests (figures, metrics);
    s_latency (figures, metrics);
    s_host_queues (figures, metrics);
    s_refusals (figures, metrics);
    s_http (figures, metrics);
    s_connections (figures, metrics);
    s_cluster (figures, metrics);
    s_others (figures, partial, metrics);
    s_upstreams (figures, metrics);
    char *text = strdup (metrics_text (metrics));
    metrics_destroy (&metrics);
    return text;
}
