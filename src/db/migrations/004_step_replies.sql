-- Up Migration
-- The replies a step posts beside its own message (post-flight results, by check name). A step that runs again
-- after a crash updates them in place instead of posting each result a second time.
ALTER TABLE upgrade_steps ADD COLUMN replies jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Down Migration
ALTER TABLE upgrade_steps DROP COLUMN replies;
