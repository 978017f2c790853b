-- Version 1 of the SQLite schema. Times are RFC 3339 text in UTC with microseconds, fixed width
-- (text order is time order); JSON is text. See src/storage/sql/mod.rs.

CREATE TABLE threads (
    thread_id TEXT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    metadata TEXT NOT NULL,
    status TEXT NOT NULL,
    state_values TEXT NOT NULL,
    interrupts TEXT NOT NULL,
    config TEXT NOT NULL,
    error TEXT NOT NULL
);
CREATE INDEX threads_created_at ON threads (created_at, thread_id);
CREATE INDEX threads_updated_at ON threads (updated_at, thread_id);
CREATE INDEX threads_status ON threads (status, created_at);

CREATE TABLE checkpoints (
    thread_id TEXT NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    checkpoint_id TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    state_values TEXT NOT NULL,
    metadata TEXT NOT NULL,
    next TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
CREATE INDEX checkpoints_id ON checkpoints (thread_id, checkpoint_id);

CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    thread_id TEXT NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
    assistant_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    metadata TEXT NOT NULL,
    kwargs TEXT NOT NULL,
    multitask_strategy TEXT NOT NULL,
    run_after TEXT,
    lease_owner TEXT,
    lease_until TEXT
);
CREATE INDEX runs_thread ON runs (thread_id, seq);
CREATE INDEX runs_queue ON runs (status, run_after, seq);

CREATE TABLE assistants (
    assistant_id TEXT PRIMARY KEY NOT NULL,
    graph_id TEXT NOT NULL,
    config TEXT NOT NULL,
    context TEXT NOT NULL,
    metadata TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    version_created_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX assistants_created_at ON assistants (created_at, assistant_id);
CREATE INDEX assistants_updated_at ON assistants (updated_at, assistant_id);
CREATE INDEX assistants_graph_id ON assistants (graph_id, assistant_id);
CREATE INDEX assistants_name ON assistants (name, assistant_id);

CREATE TABLE assistant_versions (
    assistant_id TEXT NOT NULL REFERENCES assistants (assistant_id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    graph_id TEXT NOT NULL,
    config TEXT NOT NULL,
    context TEXT NOT NULL,
    metadata TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (assistant_id, version)
);

CREATE TABLE crons (
    cron_id TEXT PRIMARY KEY NOT NULL,
    assistant_id TEXT NOT NULL,
    thread_id TEXT,
    schedule TEXT NOT NULL,
    end_time TEXT NOT NULL,
    payload TEXT NOT NULL,
    user_id TEXT,
    metadata TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    timezone TEXT,
    on_run_completed TEXT NOT NULL,
    next_run_date TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX crons_created_at ON crons (created_at, cron_id);
CREATE INDEX crons_updated_at ON crons (updated_at, cron_id);
CREATE INDEX crons_next_run_date ON crons (enabled, next_run_date);

CREATE TABLE store_items (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    namespace TEXT NOT NULL,
    depth INTEGER NOT NULL,
    cuts TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (ns, key)
);
CREATE INDEX store_items_updated_at ON store_items (updated_at);
