-- Up Migration
-- Where a failed rollback returns its upgrade: the status the upgrade had when the rollback began. Before this, a
-- failed rollback left its upgrade `rolling_back` for ever, and `/checkstack rollback` refused the target from then on.
ALTER TABLE upgrades ADD COLUMN previous_status text CHECK (previous_status IN ('confirming', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired', 'rolling_back', 'rolled_back'));
-- Upgrades being rolled back now, or left so by a failed rollback: a failed upgrade's outcome says `failed`, a
-- successful one's says how it succeeded. The sweep returns those whose rollback has ended.
UPDATE upgrades SET previous_status = CASE WHEN outcome = 'failed' THEN 'failed' ELSE 'succeeded' END WHERE status = 'rolling_back';

-- Down Migration
ALTER TABLE upgrades DROP COLUMN previous_status;
