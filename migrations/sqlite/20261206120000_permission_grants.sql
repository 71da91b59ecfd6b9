-- What permission sync granted in Unique, so that it only ever removes its own accesses and
-- groups, and re-reads a file's access only when what it wants for the file changed.
-- Keep in step with ../postgres/20261206120000_permission_grants.sql.

-- One access this connector granted (a row is written before the grant is sent, and removed
-- after the removal succeeded: a crash in between leaves a row for an access that may not
-- exist, which removal tolerates, never an access of ours without a row).
CREATE TABLE permission_grants (
    tenant         TEXT NOT NULL,
    target_kind    TEXT NOT NULL, -- scope | file
    target_key     TEXT NOT NULL, -- the scope id, or the file's content key
    target_id      TEXT NOT NULL, -- the scope id, or the file's content id
    owner_scope_id TEXT NOT NULL, -- the scope the access is changed through
    entity_kind    TEXT NOT NULL, -- user | group
    entity_id      TEXT NOT NULL, -- the Unique user or group id
    access         TEXT NOT NULL, -- READ | WRITE | MANAGE
    PRIMARY KEY (tenant, target_kind, target_key, entity_kind, entity_id, access)
);

-- Per file: the desired access last applied in full. A file whose desired access has this
-- fingerprint is not read back; a crash mid-apply leaves it unwritten, so the next cycle
-- re-reads the file and converges.
CREATE TABLE permission_fingerprints (
    tenant      TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (tenant, item_key)
);

-- The Unique groups this connector created (or adopted by external id) for a tenant; only
-- these are ever deleted.
CREATE TABLE permission_groups (
    tenant      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    PRIMARY KEY (tenant, external_id)
);
