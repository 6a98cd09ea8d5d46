-- Up Migration
-- The backup the upgrade job took in its Backup step, before anything stopped: which dump holds the data as the
-- version being left wrote it (file, sha256, bytes, version, startedAt, finishedAt). A restore during a rollback
-- starts from it. The database URL is never stored: it stays in the environment variable the config names.
ALTER TABLE upgrades ADD COLUMN pre_upgrade_backup jsonb;

-- Down Migration
ALTER TABLE upgrades DROP COLUMN pre_upgrade_backup;
