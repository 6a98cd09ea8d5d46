-- Up Migration
-- Scheduled upgrades (`/checkstack upgrade V --at <time>|window`): the checklist is confirmed now and the upgrade
-- waits in `scheduled` until its time. A scheduled upgrade holds its target like one in flight.
ALTER TABLE upgrades ADD COLUMN scheduled_at timestamptz;
-- The reminder posted in the thread 15 minutes before (its Cancel button is only valid there); posted once.
ALTER TABLE upgrades ADD COLUMN scheduled_reminder_ts text;
-- Claimed before the reminder is posted, so a bot killed between posting and recording it does not post it twice.
ALTER TABLE upgrades ADD COLUMN scheduled_reminder_claimed_at timestamptz;
ALTER TABLE upgrades DROP CONSTRAINT upgrades_status_check;
ALTER TABLE upgrades ADD CONSTRAINT upgrades_status_check
  CHECK (status IN ('confirming', 'scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired', 'rolling_back', 'rolled_back'));
ALTER TABLE upgrades DROP CONSTRAINT upgrades_previous_status_check;
ALTER TABLE upgrades ADD CONSTRAINT upgrades_previous_status_check
  CHECK (previous_status IN ('confirming', 'scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired', 'rolling_back', 'rolled_back'));
DROP INDEX upgrades_one_active_per_target;
CREATE UNIQUE INDEX upgrades_one_active_per_target ON upgrades (target) WHERE status IN ('confirming', 'scheduled', 'queued', 'running');

-- The promotion gate's override ("ship without a green run on the `from` target"): one row per approver who
-- confirmed it; two different approvers make it hold. Separate from `confirmations`, whose one row per item cannot
-- hold two people.
CREATE TABLE promotion_overrides (
  upgrade_id uuid NOT NULL REFERENCES upgrades (id),
  user_id    text NOT NULL,
  at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (upgrade_id, user_id)
);

-- Down Migration
DROP TABLE promotion_overrides;
DROP INDEX upgrades_one_active_per_target;
CREATE UNIQUE INDEX upgrades_one_active_per_target ON upgrades (target) WHERE status IN ('confirming', 'queued', 'running');
UPDATE upgrades SET status = 'cancelled' WHERE status = 'scheduled';
ALTER TABLE upgrades DROP CONSTRAINT upgrades_previous_status_check;
ALTER TABLE upgrades ADD CONSTRAINT upgrades_previous_status_check
  CHECK (previous_status IN ('confirming', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired', 'rolling_back', 'rolled_back'));
ALTER TABLE upgrades DROP CONSTRAINT upgrades_status_check;
ALTER TABLE upgrades ADD CONSTRAINT upgrades_status_check
  CHECK (status IN ('confirming', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired', 'rolling_back', 'rolled_back'));
ALTER TABLE upgrades DROP COLUMN scheduled_reminder_claimed_at;
ALTER TABLE upgrades DROP COLUMN scheduled_reminder_ts;
ALTER TABLE upgrades DROP COLUMN scheduled_at;
