/*  metrics — see metrics.h. */
#include "proto/metrics.h"
#include "proto/prelude.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const double histogram_bounds [HISTOGRAM_BOUNDS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};

void
histogram_observe (histogram_t *self, double seconds)
{
    int bucket = 0;
    while (bucket < HISTOGRAM_BOUNDS && seconds > histogram_bounds [bucket])
        bucket++;
    self->counts [bucket]++;
    self->count++;
    self->sum += seconds;
}

void
histogram_merge (histogram_t *self, const histogram_t *other)
{
    for (int bucket = 0; bucket <= HISTOGRAM_BOUNDS; bucket++)
        self->counts [bucket] += other->counts [bucket];
    self->count += other->count;
    self->sum += other->sum;
}

json_t *
histogram_to_json (const histogram_t *self)
{
    json_t *counts = json_array ();
    for (int bucket = 0; bucket <= HISTOGRAM_BOUNDS; bucket++)
        json_array_append_new (counts, json_integer ((json_int_t) self->counts [bucket]));
    return json_pack ("{s:o,s:f}", "counts", counts, "sum", self->sum);
}

void
histogram_add_json (histogram_t *self, json_t *json)
{
    json_t *counts = json_object_get (json, "counts");
    if (json_array_size (counts) != HISTOGRAM_BOUNDS + 1)
        return;
    for (int bucket = 0; bucket <= HISTOGRAM_BOUNDS; bucket++) {
        uint64_t count = (uint64_t) json_integer_value (json_array_get (counts, (size_t) bucket));
        self->counts [bucket] += count;
        self->count += count;
    }
    self->sum += json_number_value (json_object_get (json, "sum"));
}

//  --------------------------------------------------------------------------

struct _metrics_t {
    char *text;                 //  exposition so far
    size_t size, capacity;
};

metrics_t *
metrics_new (void)
{
    return (metrics_t *) calloc (1, sizeof (metrics_t));
}

void
metrics_destroy (metrics_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->text);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_append (metrics_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    size_t size;
    char *line = proto_vformat (&size, format, args);
    va_end (args);
    if (!line)
        return;
    if (self->size + size + 1 > self->capacity) {
        size_t capacity = (self->capacity + size + 1) * 2;
        char *text = (char *) realloc (self->text, capacity);
        if (!text) {
            free (line);
            return;
        }
        self->text = text;
        self->capacity = capacity;
    }
    memcpy (self->text + self->size, line, size + 1);
    self->size += size;
    free (line);
}

void
metrics_family (metrics_t *self, const char *name, const char *type, const char *help)
{
    s_append (self, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  Prometheus spells infinities and whole numbers its own way
static void
s_value (char *text, size_t size, double value)
{
    if (isinf (value))
        snprintf (text, size, "%s", value > 0? "+Inf": "-Inf");
    else
    if (value == floor (value) && fabs (value) < 1e15)
        snprintf (text, size, "%.0f", value);
    else
        snprintf (text, size, "%.9g", value);
}

void
metrics_sample (metrics_t *self, const char *name, const char *labels, double value)
{
    char text [40];
    s_value (text, sizeof (text), value);
    if (labels && *labels)
        s_append (self, "%s{%s} %s\n", name, labels, text);
    else
        s_append (self, "%s %s\n", name, text);
}

void
metrics_histogram (metrics_t *self, const char *name, const char *labels,
                   const histogram_t *histogram)
{
    uint64_t cumulative = 0;
    const char *comma = labels && *labels? ",": "";
    for (int bucket = 0; bucket <= HISTOGRAM_BOUNDS; bucket++) {
        cumulative += histogram->counts [bucket];
        char bound [40];
        s_value (bound, sizeof (bound), bucket < HISTOGRAM_BOUNDS?
                 histogram_bounds [bucket]: INFINITY);
        s_append (self, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name,
                  labels? labels: "", comma, bound, cumulative);
    }
    char sample [160];
    snprintf (sample, sizeof (sample), "%s_sum", name);
    metrics_sample (self, sample, labels, histogram->sum);
    snprintf (sample, sizeof (sample), "%s_count", name);
    metrics_sample (self, sample, labels, (double) histogram->count);
}

const char *
metrics_text (metrics_t *self)
{
    return self->text? self->text: "";
}

//  --------------------------------------------------------------------------

void
metrics_test (bool verbose)
{
    printf (" * metrics: ");
    histogram_t latency = { 0 };
    histogram_observe (&latency, 0.00004);      //  first bucket
    histogram_observe (&latency, 0.003);        //  le 0.005
    histogram_observe (&latency, 120);          //  +Inf
    assert (latency.count == 3 && latency.counts [0] == 1);
    assert (latency.counts [6] == 1 && latency.counts [HISTOGRAM_BOUNDS] == 1);
    json_t *json = histogram_to_json (&latency);
    histogram_t copy = { 0 };
    histogram_add_json (&copy, json);
    histogram_add_json (&copy, json);
    assert (copy.count == 6 && copy.counts [6] == 2);
    json_decref (json);
    histogram_merge (&copy, &latency);
    assert (copy.count == 9);

    metrics_t *metrics = metrics_new ();
    metrics_family (metrics, "mcpz_sessions_open", "gauge", "Sessions open now.");
    metrics_sample (metrics, "mcpz_sessions_open", NULL, 42);
    metrics_family (metrics, "mcpz_requests_total", "counter", "Requests by method and outcome.");
    metrics_sample (metrics, "mcpz_requests_total", "method=\"ping\",outcome=\"ok\"", 7);
    metrics_family (metrics, "mcpz_request_seconds", "histogram", "Request latency.");
    metrics_histogram (metrics, "mcpz_request_seconds", "method=\"ping\"", &latency);
    const char *text = metrics_text (metrics);
    assert (strstr (text, "# HELP mcpz_sessions_open Sessions open now.\n"
                          "# TYPE mcpz_sessions_open gauge\nmcpz_sessions_open 42\n"));
    assert (strstr (text, "mcpz_requests_total{method=\"ping\",outcome=\"ok\"} 7\n"));
    assert (strstr (text, "mcpz_request_seconds_bucket{method=\"ping\",le=\"5e-05\"} 1\n"));
    assert (strstr (text, "mcpz_request_seconds_bucket{method=\"ping\",le=\"0.005\"} 2\n"));
    assert (strstr (text, "mcpz_request_seconds_bucket{method=\"ping\",le=\"+Inf\"} 3\n"));
    assert (strstr (text, "mcpz_request_seconds_count{method=\"ping\"} 3\n"));
    assert (strstr (text, "mcpz_request_seconds_sum{method=\"ping\"} 120.00304"));
    metrics_destroy (&metrics);
    assert (!metrics);
    printf ("OK\n");
}
