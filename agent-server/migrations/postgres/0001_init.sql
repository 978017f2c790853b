-- Version 1 of the PostgreSQL schema. Times are RFC 3339 text in UTC with microseconds, fixed
-- width (text order is time order); text columns compare by code point (COLLATE "C"), as Rust
-- and SQLite do; JSON is jsonb with a GIN index on each metadata. See src/storage/sql/mod.rs.

CREATE TABLE threads (
    thread_id TEXT COLLATE "C" PRIMARY KEY,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    metadata JSONB NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    state_values JSONB NOT NULL,
    interrupts JSONB NOT NULL,
    config JSONB NOT NULL,
    error JSONB NOT NULL
);
CREATE INDEX threads_metadata ON threads USING GIN (metadata jsonb_path_ops);
CREATE INDEX threads_created_at ON threads (created_at, thread_id);
CREATE INDEX threads_updated_at ON threads (updated_at, thread_id);
CREATE INDEX threads_status ON threads (status, created_at);

CREATE TABLE checkpoints (
    thread_id TEXT COLLATE "C" NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    checkpoint_id TEXT COLLATE "C" NOT NULL,
    parent_checkpoint_id TEXT COLLATE "C",
    state_values JSONB NOT NULL,
    metadata JSONB NOT NULL,
    next JSONB NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
CREATE INDEX checkpoints_id ON checkpoints (thread_id, checkpoint_id);

CREATE TABLE runs (
    seq BIGSERIAL PRIMARY KEY,
    run_id TEXT COLLATE "C" NOT NULL UNIQUE,
    thread_id TEXT COLLATE "C" NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
    assistant_id TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    metadata JSONB NOT NULL,
    kwargs JSONB NOT NULL,
    multitask_strategy TEXT COLLATE "C" NOT NULL,
    run_after TEXT COLLATE "C",
    lease_owner TEXT COLLATE "C",
    lease_until TEXT COLLATE "C"
);
CREATE INDEX runs_thread ON runs (thread_id, seq);
CREATE INDEX runs_queue ON runs (status, run_after, seq);

CREATE TABLE assistants (
    assistant_id TEXT COLLATE "C" PRIMARY KEY,
    graph_id TEXT COLLATE "C" NOT NULL,
    config JSONB NOT NULL,
    context JSONB NOT NULL,
    metadata JSONB NOT NULL,
    version BIGINT NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C",
    version_created_at TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX assistants_metadata ON assistants USING GIN (metadata jsonb_path_ops);
CREATE INDEX assistants_created_at ON assistants (created_at, assistant_id);
CREATE INDEX assistants_updated_at ON assistants (updated_at, assistant_id);
CREATE INDEX assistants_graph_id ON assistants (graph_id, assistant_id);
CREATE INDEX assistants_name ON assistants (name, assistant_id);

CREATE TABLE assistant_versions (
    assistant_id TEXT COLLATE "C" NOT NULL REFERENCES assistants (assistant_id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    graph_id TEXT COLLATE "C" NOT NULL,
    config JSONB NOT NULL,
    context JSONB NOT NULL,
    metadata JSONB NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C",
    created_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (assistant_id, version)
);

CREATE TABLE crons (
    cron_id TEXT COLLATE "C" PRIMARY KEY,
    assistant_id TEXT COLLATE "C" NOT NULL,
    thread_id TEXT COLLATE "C",
    schedule TEXT COLLATE "C" NOT NULL,
    end_time JSONB NOT NULL,
    payload JSONB NOT NULL,
    user_id TEXT COLLATE "C",
    metadata JSONB NOT NULL,
    enabled BOOLEAN NOT NULL,
    timezone TEXT COLLATE "C",
    on_run_completed JSONB NOT NULL,
    next_run_date TEXT COLLATE "C",
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX crons_metadata ON crons USING GIN (metadata jsonb_path_ops);
CREATE INDEX crons_created_at ON crons (created_at, cron_id);
CREATE INDEX crons_updated_at ON crons (updated_at, cron_id);
CREATE INDEX crons_next_run_date ON crons (enabled, next_run_date);

CREATE TABLE store_items (
    ns TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    namespace JSONB NOT NULL,
    depth BIGINT NOT NULL,
    cuts JSONB NOT NULL,
    value JSONB NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (ns, key)
);
CREATE INDEX store_items_updated_at ON store_items (updated_at);
CREATE INDEX store_items_value ON store_items USING GIN (value jsonb_path_ops);
