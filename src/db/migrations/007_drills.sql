-- Up Migration
-- Restore drills, one row per drill the bot ran (on demand or on `drill.every`): which dump, the result, the first
-- mismatched tables and, for a drill that did not get as far as counting, why. `/checkstack status` shows the newest.
-- No secret: the database URL stays in the environment variable the config names.
CREATE TABLE drills (
  id          bigserial PRIMARY KEY,
  target      text NOT NULL,
  dump_file   text,
  passed      boolean NOT NULL,
  tables      integer NOT NULL DEFAULT 0,
  mismatches  jsonb NOT NULL DEFAULT '[]'::jsonb,
  error       text,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL
);
CREATE INDEX drills_target_finished ON drills (target, finished_at DESC);

-- Down Migration
DROP TABLE drills;
