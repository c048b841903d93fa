/*  demo — the built-in demo tools of spec/control.md: echo, add, sleep,
    progress, fail. */
#ifndef MCPZ_DEMO_H
#define MCPZ_DEMO_H

#include "tools/tool.h"

int
    demo_register (tool_table_t *table);

#endif
