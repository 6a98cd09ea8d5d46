-- Up Migration
-- Upgrade and rollback requests: an explicit state machine whose every transition is a conditional UPDATE.
CREATE TABLE upgrades (
  id            uuid PRIMARY KEY,
  kind          text NOT NULL CHECK (kind IN ('upgrade', 'rollback')),
  -- For a rollback: the upgrade it undoes.
  rollback_of   uuid REFERENCES upgrades (id),
  target        text NOT NULL,
  from_version  text NOT NULL,
  to_version    text NOT NULL,
  requester     text NOT NULL,
  channel_id    text NOT NULL,
  team_domain   text,
  message_ts    text,
  status        text NOT NULL CHECK (status IN ('confirming', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired', 'rolling_back', 'rolled_back')),
  status_detail text,
  -- The step a running job is in, or where it stopped.
  step          text,
  plan          jsonb NOT NULL,
  items         jsonb NOT NULL,
  automatic     jsonb NOT NULL,
  -- What the pre-flight saw: the job re-checks it. The key itself is never stored, only its SHA-256.
  instance_id   text,
  image_tag     text,
  api_version   text,
  key_fingerprint text,
  -- Recorded by the job for a later rollback and the post-flight.
  previous_image text,
  plugins_before jsonb,
  -- Where the pinned tag was recorded (commit, pull request or local file), so a failure can revert it.
  pin_record    jsonb,
  -- The thread message of the running step, updated in place.
  log_watch_until timestamptz,
  ready_at      timestamptz,
  outcome       text CHECK (outcome IN ('succeeded', 'succeeded_with_warnings', 'failed')),
  started_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  queued_at     timestamptz,
  started_at    timestamptz,
  finished_at   timestamptz
);
-- One request at a time per target: the database settles a race between two requesters.
CREATE UNIQUE INDEX upgrades_one_active_per_target ON upgrades (target) WHERE status IN ('confirming', 'queued', 'running');
CREATE INDEX upgrades_target_created_idx ON upgrades (target, created_at DESC);
CREATE INDEX upgrades_message_idx ON upgrades (channel_id, message_ts);

-- Who confirmed which checklist item: one row per item, the first click wins.
CREATE TABLE confirmations (
  upgrade_id uuid NOT NULL REFERENCES upgrades (id),
  item_id    text NOT NULL,
  user_id    text NOT NULL,
  at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (upgrade_id, item_id)
);

-- The steps of an upgrade job: a restarted worker resumes after the last finished one.
CREATE TABLE upgrade_steps (
  upgrade_id  uuid NOT NULL REFERENCES upgrades (id),
  step        text NOT NULL,
  attempt     int NOT NULL DEFAULT 1,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  outcome     text CHECK (outcome IN ('ok', 'failed', 'skipped')),
  detail      text,
  -- The step's reply in the thread: a resumed job brings it up to date if the bot died before it could.
  message_ts  text,
  PRIMARY KEY (upgrade_id, step)
);

-- Down Migration
DROP TABLE upgrade_steps;
DROP TABLE confirmations;
DROP TABLE upgrades;
