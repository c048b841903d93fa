/*  demo — the built-in demo tools of spec/control.md: echo, add, sleep,
    progress, fail. */
#ifndef MCPZ_DEMO_H
#define MCPZ_DEMO_H

#include "tools/catalog.h"

int
    demo_register (catalog_t *table);

#endif
