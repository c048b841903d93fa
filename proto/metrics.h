/*  metrics — Prometheus text exposition (format 0.0.4) and the latency
    histograms the actors keep.

    Pure code. Actors count on their own, send their figures as JSON, and
    whoever answers "metrics" merges them and writes the text here.
*/
#ifndef MCPZ_METRICS_H
#define MCPZ_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

//  Upper bounds in seconds: 50 µs to 60 s, as request and store latencies
//  on this machine span (a ping ~50 µs, a slow tool minutes).
#define HISTOGRAM_BOUNDS 19

extern const double histogram_bounds [HISTOGRAM_BOUNDS];

typedef struct {
    uint64_t counts [HISTOGRAM_BOUNDS + 1];     //  per bucket, last is +Inf
    uint64_t count;
    double sum;                                 //  seconds
} histogram_t;

void
    histogram_observe (histogram_t *self, double seconds);

void
    histogram_merge (histogram_t *self, const histogram_t *other);

//  {"counts":[...],"sum":s}; new reference.
json_t *
    histogram_to_json (const histogram_t *self);

//  Adds figures sent by histogram_to_json; ignores what is malformed.
void
    histogram_add_json (histogram_t *self, json_t *json);

typedef struct _metrics_t metrics_t;

metrics_t *
    metrics_new (void);

void
    metrics_destroy (metrics_t **self_p);

//  Starts a family: # HELP and # TYPE lines. Its samples must follow.
void
    metrics_family (metrics_t *self, const char *name, const char *type,
                    const char *help);

//  One sample. labels is the inside of {...} (label="value",...) or NULL.
void
    metrics_sample (metrics_t *self, const char *name, const char *labels,
                    double value);

//  The _bucket, _sum and _count samples of a histogram family.
void
    metrics_histogram (metrics_t *self, const char *name, const char *labels,
                       const histogram_t *histogram);

//  The text so far; owned by self.
const char *
    metrics_text (metrics_t *self);

void
    metrics_test (bool verbose);

#endif
