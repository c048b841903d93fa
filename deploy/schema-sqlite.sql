-- mcpz session store, SQLite engine (schema version 3).
-- mcpzd creates this on start, and moves a version 1 or 2 file to version 3
-- by running it again (after adding sessions.principal, which SQLite
-- cannot add only when missing); it is here for operators to read.
-- Times are milliseconds since the Unix epoch, set by the node.
CREATE TABLE IF NOT EXISTS mcpz_schema (
    version integer NOT NULL
);
INSERT INTO mcpz_schema (version) SELECT 3 WHERE NOT EXISTS (SELECT 1 FROM mcpz_schema);
CREATE TABLE IF NOT EXISTS sessions (
    id               text PRIMARY KEY,      -- 32 lowercase hex, from a CSPRNG
    node             text NOT NULL,         -- owner: the node that serves it
    created_at       bigint NOT NULL,
    last_accessed    bigint NOT NULL,       -- moved forward by cleanup refreshes
    protocol_version text NOT NULL,         -- negotiated MCP version
    client_info      text NOT NULL,         -- JSON object from initialize
    capabilities     text NOT NULL,         -- JSON object from initialize
    state            text NOT NULL,         -- 'open'
    epoch            integer NOT NULL DEFAULT 0, -- claims so far: the fencing token of
                                                 -- the owner's writes; high bits of event ids
    principal        text NOT NULL DEFAULT ''    -- who opened it (version 3): only they
                                                 -- may name it; '' = anyone unauthenticated
) WITHOUT ROWID;
-- No index on last_accessed: refreshes rewrite it for every live session
-- each cycle, while expiry reads it once per cycle (a scan is cheaper).
-- Version 2: leases (see schema-postgresql.sql). Times are the node's
-- clock: every node on one SQLite file runs on one machine.
CREATE TABLE IF NOT EXISTS nodes (
    id          text PRIMARY KEY,
    endpoint    text NOT NULL,
    incarnation text NOT NULL,
    started_at  bigint NOT NULL,
    lease_until bigint NOT NULL
) WITHOUT ROWID;
-- Version 3: a session is bound to the principal that opened it.
UPDATE mcpz_schema SET version = 3 WHERE version < 3;
