-- mcpz session store, PostgreSQL engine (schema version 3).
-- mcpzd creates this on start (under an advisory lock, so nodes starting
-- together do not race); it is here for operators to read.
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
) WITH (fillfactor = 70);
-- No index on last_accessed, and room left on each page: a refresh then
-- rewrites rows in place (HOT updates, no index entries), which measured
-- ~5x faster; expiry scans the table once per cycle instead.
-- Version 2: leases. A session's lease is (its row's node and epoch, that
-- node's lease_until here). Nodes renew their lease every third of it;
-- past lease_until (the store's clock) any node may claim their sessions,
-- bumping the epoch, and the old owner's writes, fenced by node and epoch,
-- change nothing.
CREATE TABLE IF NOT EXISTS nodes (
    id          text PRIMARY KEY,       -- --node-id
    endpoint    text NOT NULL,          -- node-to-node link (--node-advertise), '' = none
    incarnation text NOT NULL,          -- random per process: one live process per id
    started_at  bigint NOT NULL,
    lease_until bigint NOT NULL         -- ms since the Unix epoch, the store's clock
);
UPDATE mcpz_schema SET version = 2 WHERE version < 2;
-- Version 3: a session is bound to the principal that opened it.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS principal text NOT NULL DEFAULT '';
UPDATE mcpz_schema SET version = 3 WHERE version < 3;
