-- mcpz session store, SQLite engine (schema version 1).
-- mcpzd creates this on start; it is here for operators to read.
-- Times are milliseconds since the Unix epoch, set by the node.
CREATE TABLE mcpz_schema (
    version integer NOT NULL
);
INSERT INTO mcpz_schema (version) VALUES (1);
CREATE TABLE sessions (
    id               text PRIMARY KEY,      -- 32 lowercase hex, from a CSPRNG
    node             text NOT NULL,         -- node that last served it
    created_at       bigint NOT NULL,
    last_accessed    bigint NOT NULL,       -- moved forward by cleanup refreshes
    protocol_version text NOT NULL,         -- negotiated MCP version
    client_info      text NOT NULL,         -- JSON object from initialize
    capabilities     text NOT NULL,         -- JSON object from initialize
    state            text NOT NULL,         -- 'open'
    epoch            integer NOT NULL DEFAULT 0  -- loads so far; high bits of event ids
) WITHOUT ROWID;
-- No index on last_accessed: refreshes rewrite it for every live session
-- each cycle, while expiry reads it once per cycle (a scan is cheaper).
