-- mcpz session store, PostgreSQL engine (schema version 1).
-- mcpzd creates this on start (under an advisory lock, so nodes starting
-- together do not race); it is here for operators to read.
-- Times are milliseconds since the Unix epoch, set by the node.
CREATE TABLE IF NOT EXISTS mcpz_schema (
    version integer NOT NULL
);
INSERT INTO mcpz_schema (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM mcpz_schema);
CREATE TABLE IF NOT EXISTS sessions (
    id               text PRIMARY KEY,      -- 32 lowercase hex, from a CSPRNG
    node             text NOT NULL,         -- node that last served it
    created_at       bigint NOT NULL,
    last_accessed    bigint NOT NULL,       -- moved forward by cleanup refreshes
    protocol_version text NOT NULL,         -- negotiated MCP version
    client_info      text NOT NULL,         -- JSON object from initialize
    capabilities     text NOT NULL,         -- JSON object from initialize
    state            text NOT NULL,         -- 'open'
    epoch            integer NOT NULL DEFAULT 0  -- loads so far; high bits of event ids
) WITH (fillfactor = 70);
-- No index on last_accessed, and room left on each page: a refresh then
-- rewrites rows in place (HOT updates, no index entries), which measured
-- ~5x faster; expiry scans the table once per cycle instead.
