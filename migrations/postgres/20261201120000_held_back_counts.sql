-- What a run skipped without failing and kept in Unique although discovery did not submit it.
-- Keep in step with ../sqlite/20261201120000_held_back_counts.sql.
--
-- skipped_unknown_type: search results of a content type the connector does not know (Atlassian
--   adds types); never ingested, and a copy an earlier version left in Unique is not deleted.
-- attachments_held_back: pages whose attachment listing answered 404 or 403 (deleted or
--   restricted since the search); their stored attachments are not deleted this run.
ALTER TABLE runs ADD COLUMN skipped_unknown_type BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN attachments_held_back BIGINT NOT NULL DEFAULT 0;
