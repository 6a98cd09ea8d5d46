-- Up Migration
-- Every slash command and button click: who, what, when, and how it ended.
CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  user_id     text NOT NULL,
  channel_id  text,
  kind        text NOT NULL CHECK (kind IN ('command', 'action', 'webhook', 'job')),
  action      text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
  outcome     text NOT NULL CHECK (outcome IN ('ok', 'refused', 'error')),
  error_code  text,
  reference_id text,
  upgrade_id  text
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, at DESC);

-- Down Migration
DROP TABLE audit_log;
