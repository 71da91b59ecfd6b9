-- The state ledger (SQLite). Keep in step with ../postgres/20261123000001_ledger.sql: the same
-- tables, columns and meanings; only the column types differ. Never edit an applied migration
-- (sqlx refuses to start when a checksum changes); add a new one.
--
-- Timestamps are TEXT in the fixed-width form strftime('%Y-%m-%dT%H:%M:%fZ', 'now') produces, so
-- that comparing them as strings compares them as instants. They are always written by the
-- database, never bound from Rust.

-- One row per sync run of one tenant.
CREATE TABLE runs (
    id                          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused after pruning
    tenant                      TEXT    NOT NULL,
    trigger_kind                TEXT    NOT NULL, -- schedule | startup | manual | cli
    holder                      TEXT    NOT NULL, -- the Ledger instance that started the run
    status                      TEXT    NOT NULL, -- running | success | partial | failed | aborted | cancelled | interrupted
    started_at                  TEXT    NOT NULL,
    finished_at                 TEXT,
    abort_reason                TEXT,
    error                       TEXT,
    discovered_pages            INTEGER NOT NULL DEFAULT 0,
    discovered_attachments      INTEGER NOT NULL DEFAULT 0,
    diff_new                    INTEGER NOT NULL DEFAULT 0,
    diff_updated                INTEGER NOT NULL DEFAULT 0,
    diff_moved                  INTEGER NOT NULL DEFAULT 0,
    diff_deleted                INTEGER NOT NULL DEFAULT 0,
    ingested_pages_ok           INTEGER NOT NULL DEFAULT 0,
    ingested_pages_failed       INTEGER NOT NULL DEFAULT 0,
    ingested_pages_skipped      INTEGER NOT NULL DEFAULT 0,
    ingested_attachments_ok     INTEGER NOT NULL DEFAULT 0,
    ingested_attachments_failed INTEGER NOT NULL DEFAULT 0,
    ingested_attachments_skipped INTEGER NOT NULL DEFAULT 0,
    deleted_ok                  INTEGER NOT NULL DEFAULT 0,
    deleted_failed              INTEGER NOT NULL DEFAULT 0,
    spaces_cleaned              INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_tenant ON runs (tenant, id);
CREATE INDEX runs_running ON runs (tenant) WHERE status = 'running';

-- Every item that failed in a run; goes when its run is pruned.
CREATE TABLE run_failures (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    item_key  TEXT    NOT NULL,
    phase     TEXT    NOT NULL, -- discover | diff | ingest | delete | space_cleanup
    error     TEXT    NOT NULL,
    attempts  INTEGER NOT NULL, -- consecutive failed attempts of this key, this one included
    failed_at TEXT    NOT NULL
);
CREATE INDEX run_failures_by_run ON run_failures (run_id);

-- Items failing right now: one row per tenant and key until the item succeeds.
CREATE TABLE item_failures (
    tenant          TEXT    NOT NULL,
    item_key        TEXT    NOT NULL,
    phase           TEXT    NOT NULL,
    error           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    first_run_id    INTEGER NOT NULL,
    last_run_id     INTEGER NOT NULL,
    first_failed_at TEXT    NOT NULL,
    last_failed_at  TEXT    NOT NULL,
    PRIMARY KEY (tenant, item_key)
);

-- One row per tenant ever leased. Released leases keep their row (expired) so that `generation`
-- keeps growing: it is the fencing token.
CREATE TABLE leases (
    tenant      TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    acquired_at TEXT    NOT NULL,
    renewed_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL
);
