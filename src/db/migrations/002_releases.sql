-- Up Migration
-- Checkstack releases as GitHub lists them, with the parsed summary the bot posts.
CREATE TABLE releases (
  tag           text PRIMARY KEY,
  github_id     bigint NOT NULL,
  version       text NOT NULL,
  name          text,
  body          text NOT NULL DEFAULT '',
  html_url      text NOT NULL,
  draft         boolean NOT NULL,
  prerelease    boolean NOT NULL,
  published_at  timestamptz,
  -- Hash of what an announcement shows (name, body, draft, prerelease): a change means "edited".
  content_sha   text NOT NULL,
  summary       jsonb NOT NULL,
  -- Known before the bot's first poll: recorded, never announced.
  baseline      boolean NOT NULL DEFAULT false,
  deleted_at    timestamptz,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Small key/value facts the bot keeps: the list ETag, whether the first poll happened, GitHub back-off.
CREATE TABLE bot_state (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Channels that get release announcements. A row is never deleted, so an unsubscribe survives a restart
-- even for a channel that the config file lists.
CREATE TABLE subscriptions (
  channel_id  text PRIMARY KEY,
  active      boolean NOT NULL,
  source      text NOT NULL CHECK (source IN ('config', 'command')),
  changed_by  text,
  changed_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per (release, channel): the claim that makes each announcement happen exactly once.
CREATE TABLE announcements (
  release_tag  text NOT NULL REFERENCES releases (tag),
  channel_id   text NOT NULL,
  claim_token  uuid NOT NULL,
  claimed_at   timestamptz NOT NULL DEFAULT now(),
  message_ts   text,
  -- The release content (and deletion) the message currently shows.
  shown_sha    text,
  shown_deleted boolean NOT NULL DEFAULT false,
  posted_at    timestamptz,
  PRIMARY KEY (release_tag, channel_id)
);

-- Down Migration
DROP TABLE announcements;
DROP TABLE subscriptions;
DROP TABLE bot_state;
DROP TABLE releases;
