/*  figures — the figures actors send the control actor for one request,
    and what is made of them. */
#ifndef MCPZ_CONTROL_FIGURES_H
#define MCPZ_CONTROL_FIGURES_H

#include <jansson.h>
#include <stdbool.h>

//  Replies gathered for one operator request; each NULL until it came
typedef struct {
    json_t *hosts;              //  array: session hosts, in arrival order
    json_t *db;                 //  array: DB workers
    json_t *tools;              //  the tool pool
    json_t *cleanup;            //  cleanup's figures or report
    json_t *supervisor;         //  the supervisor's
    json_t *upstreams;          //  array: each upstream's
} figures_t;

//  Sums one integer field over an array of figures.
json_int_t
    figures_sum (json_t *array, const char *field);

//  Every actor's figures as one Prometheus text; partial says some did
//  not report in time. Caller frees; NULL out of memory.
char *
    figures_metrics (const figures_t *figures, bool partial);

#endif
