-- Up Migration
-- Automatic patch upgrades. The decision is the domain's (decideAutoUpgrade); these rows are what it must remember
-- across restarts and replicas: the one upgrade scheduled per target, what people cancelled, and paused targets.
CREATE TABLE auto_upgrade_schedules (
  target           text PRIMARY KEY,
  -- auto@<target>@<version>@<eligibleAt>: the BullMQ job id of its notice job.
  key              text NOT NULL,
  from_version     text NOT NULL,
  version          text NOT NULL,
  notice_at        timestamptz NOT NULL,
  start_at         timestamptz NOT NULL,
  -- Set before the notice is posted, so a bot that dies while posting does not post it again.
  notice_posted_at timestamptz,
  channel_id       text,
  notice_ts        text,
  created_at       timestamptz NOT NULL DEFAULT now()
);

-- A person pressed Cancel on a notice: that version (and every older one) is never applied automatically.
CREATE TABLE auto_upgrade_declines (
  target      text NOT NULL,
  version     text NOT NULL,
  declined_by text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (target, version)
);

-- A failed automatic upgrade pauses the target's automatic upgrades: the pause is read from the upgrades table itself
-- (the newest automatic upgrade that failed), so no crash can lose it. It lasts until a manual upgrade is requested
-- or someone resumes: a row here lifts the pause of that failed upgrade.
CREATE TABLE auto_upgrade_resumes (
  upgrade_id uuid PRIMARY KEY REFERENCES upgrades (id),
  target     text NOT NULL,
  resumed_by text NOT NULL,
  at         timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE auto_upgrade_resumes;
DROP TABLE auto_upgrade_declines;
DROP TABLE auto_upgrade_schedules;
