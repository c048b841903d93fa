/*  fixtures — the tools, resources, prompts and completions the official
    MCP conformance suite (@modelcontextprotocol/conformance 0.1.16) expects
    of a server, as its scenario files under src/scenarios/server/ describe
    them: loaded by --conformance-fixtures.
*/
#ifndef MCPZ_FIXTURES_H
#define MCPZ_FIXTURES_H

#include "tools/catalog.h"

int
    fixtures_register (catalog_t *catalog);

#endif
