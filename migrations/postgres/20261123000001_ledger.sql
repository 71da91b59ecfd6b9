-- The state ledger (PostgreSQL). Keep in step with ../sqlite/20261123000001_ledger.sql: the same
-- tables, columns and meanings; only the column types differ. Never edit an applied migration
-- (sqlx refuses to start when a checksum changes); add a new one.
--
-- Timestamps are TIMESTAMPTZ written by the database (now()), never bound from Rust: every replica
-- then agrees on one clock, whatever its own clock says.

-- One row per sync run of one tenant.
CREATE TABLE runs (
    id                           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant                       TEXT        NOT NULL,
    trigger_kind                 TEXT        NOT NULL, -- schedule | startup | manual | cli
    holder                       TEXT        NOT NULL, -- the Ledger instance that started the run
    status                       TEXT        NOT NULL, -- running | success | partial | failed | aborted | cancelled | interrupted
    started_at                   TIMESTAMPTZ NOT NULL,
    finished_at                  TIMESTAMPTZ,
    abort_reason                 TEXT,
    error                        TEXT,
    discovered_pages             BIGINT      NOT NULL DEFAULT 0,
    discovered_attachments       BIGINT      NOT NULL DEFAULT 0,
    diff_new                     BIGINT      NOT NULL DEFAULT 0,
    diff_updated                 BIGINT      NOT NULL DEFAULT 0,
    diff_moved                   BIGINT      NOT NULL DEFAULT 0,
    diff_deleted                 BIGINT      NOT NULL DEFAULT 0,
    ingested_pages_ok            BIGINT      NOT NULL DEFAULT 0,
    ingested_pages_failed        BIGINT      NOT NULL DEFAULT 0,
    ingested_pages_skipped       BIGINT      NOT NULL DEFAULT 0,
    ingested_attachments_ok      BIGINT      NOT NULL DEFAULT 0,
    ingested_attachments_failed  BIGINT      NOT NULL DEFAULT 0,
    ingested_attachments_skipped BIGINT      NOT NULL DEFAULT 0,
    deleted_ok                   BIGINT      NOT NULL DEFAULT 0,
    deleted_failed               BIGINT      NOT NULL DEFAULT 0,
    spaces_cleaned               BIGINT      NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_tenant ON runs (tenant, id);
CREATE INDEX runs_running ON runs (tenant) WHERE status = 'running';

-- Every item that failed in a run; goes when its run is pruned.
CREATE TABLE run_failures (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id    BIGINT      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    item_key  TEXT        NOT NULL,
    phase     TEXT        NOT NULL, -- discover | diff | ingest | delete | space_cleanup
    error     TEXT        NOT NULL,
    attempts  BIGINT      NOT NULL, -- consecutive failed attempts of this key, this one included
    failed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX run_failures_by_run ON run_failures (run_id);

-- Items failing right now: one row per tenant and key until the item succeeds.
CREATE TABLE item_failures (
    tenant          TEXT        NOT NULL,
    item_key        TEXT        NOT NULL,
    phase           TEXT        NOT NULL,
    error           TEXT        NOT NULL,
    attempts        BIGINT      NOT NULL,
    first_run_id    BIGINT      NOT NULL,
    last_run_id     BIGINT      NOT NULL,
    first_failed_at TIMESTAMPTZ NOT NULL,
    last_failed_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, item_key)
);

-- One row per tenant ever leased. Released leases keep their row (expired) so that `generation`
-- keeps growing: it is the fencing token.
CREATE TABLE leases (
    tenant      TEXT        PRIMARY KEY,
    holder      TEXT        NOT NULL,
    generation  BIGINT      NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    renewed_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
