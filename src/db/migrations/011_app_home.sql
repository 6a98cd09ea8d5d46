-- Up Migration
-- Who opened the bot's Home tab, and when: after an upgrade step the bot publishes a fresh Home view to the people
-- who looked recently, instead of to everyone in the workspace (views.publish is rate limited per workspace).
CREATE TABLE app_home_viewers (
  user_id   text PRIMARY KEY,
  opened_at timestamptz NOT NULL
);
CREATE INDEX app_home_viewers_opened_at ON app_home_viewers (opened_at DESC);

-- Down Migration
DROP TABLE app_home_viewers;
