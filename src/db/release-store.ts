// Releases, the bot's small state facts, subscriptions and announcement claims in Postgres.
// Every change is a conditional statement, so two replicas racing resolve in the database.
import { createHash, randomUUID } from 'node:crypto';
import type { GithubRelease, ReleaseSummary } from '../domain/release-types.js';
import type { Pool } from './pool.js';

export interface StoredRelease {
  tag: string;
  githubId: number;
  version: string;
  name: string | null;
  body: string;
  htmlUrl: string;
  draft: boolean;
  prerelease: boolean;
  publishedAt: Date | null;
  contentSha: string;
  summary: ReleaseSummary;
  baseline: boolean;
  deletedAt: Date | null;
}

/** A release as a list shows it. */
export type ListedRelease = Pick<StoredRelease, 'tag' | 'version' | 'htmlUrl' | 'prerelease' | 'publishedAt' | 'summary'>;
export type ReleaseVersion = Pick<StoredRelease, 'tag' | 'version' | 'htmlUrl'>;

/** Semantic version order by the numeric core; ties (pre-releases of one version) by text. */
const NEWEST_FIRST = `string_to_array(regexp_replace(version, '[-+].*$', ''), '.')::int[] DESC, version DESC`;

export function releaseContentSha(release: Pick<GithubRelease, 'name' | 'body' | 'draft' | 'prerelease'>): string {
  return createHash('sha256')
    .update(JSON.stringify([release.name ?? '', release.body ?? '', release.draft, release.prerelease]))
    .digest('hex');
}

const RELEASE_COLUMNS = `tag, github_id, version, name, body, html_url, draft, prerelease, published_at, content_sha, summary, baseline, deleted_at`;

const LISTED_COLUMNS = `tag, version, html_url, prerelease, published_at, summary`;

function toListedRelease(row: Record<string, unknown>): ListedRelease {
  return {
    tag: row.tag as string,
    version: row.version as string,
    htmlUrl: row.html_url as string,
    prerelease: row.prerelease as boolean,
    publishedAt: (row.published_at as Date | null) ?? null,
    summary: row.summary as ReleaseSummary,
  };
}

function toRelease(row: Record<string, unknown>): StoredRelease {
  return {
    ...toListedRelease(row),
    githubId: Number(row.github_id),
    name: (row.name as string | null) ?? null,
    body: row.body as string,
    draft: row.draft as boolean,
    contentSha: row.content_sha as string,
    baseline: row.baseline as boolean,
    deletedAt: (row.deleted_at as Date | null) ?? null,
  };
}

export type UpsertOutcome = 'inserted' | 'changed' | 'unchanged';

export function createReleaseStore(pool: Pool) {
  return {
    async all(): Promise<StoredRelease[]> {
      const { rows } = await pool.query(`SELECT ${RELEASE_COLUMNS} FROM releases`);
      return rows.map(toRelease);
    },

    async byTag(tag: string): Promise<StoredRelease | null> {
      const { rows } = await pool.query(`SELECT ${RELEASE_COLUMNS} FROM releases WHERE tag = $1`, [tag]);
      return rows[0] ? toRelease(rows[0]) : null;
    },

    async count(): Promise<number> {
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM releases`);
      return Number(rows[0]?.n ?? 0);
    },

    /** Inserts a new release, or updates one whose content changed (or that came back after a deletion). */
    async upsert(release: GithubRelease, version: string, summary: ReleaseSummary, baseline: boolean): Promise<UpsertOutcome> {
      const sha = releaseContentSha(release);
      const { rows } = await pool.query<{ inserted: boolean }>(
        `INSERT INTO releases (tag, github_id, version, name, body, html_url, draft, prerelease, published_at, content_sha, summary, baseline)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (tag) DO UPDATE SET
           github_id = EXCLUDED.github_id, name = EXCLUDED.name, body = EXCLUDED.body, html_url = EXCLUDED.html_url,
           draft = EXCLUDED.draft, prerelease = EXCLUDED.prerelease, published_at = EXCLUDED.published_at,
           content_sha = EXCLUDED.content_sha, summary = EXCLUDED.summary, deleted_at = NULL, updated_at = now()
         WHERE releases.content_sha <> EXCLUDED.content_sha OR releases.deleted_at IS NOT NULL
         RETURNING (xmax = 0) AS inserted`,
        [release.tag_name, release.id, version, release.name, release.body ?? '', release.html_url, release.draft, release.prerelease, release.published_at, sha, JSON.stringify(summary), baseline],
      );
      if (!rows[0]) return 'unchanged';
      return rows[0].inserted ? 'inserted' : 'changed';
    },

    /** Marks a release deleted; true only for the caller that made the change. */
    async markDeleted(tag: string): Promise<boolean> {
      const { rowCount } = await pool.query(`UPDATE releases SET deleted_at = now(), updated_at = now() WHERE tag = $1 AND deleted_at IS NULL`, [tag]);
      return (rowCount ?? 0) > 0;
    },

    /** The newest published releases for a listing: no bodies, which are large and which a listing never shows. */
    async recent(limit: number, includePrereleases: boolean): Promise<ListedRelease[]> {
      const { rows } = await pool.query(
        `SELECT ${LISTED_COLUMNS} FROM releases
         WHERE NOT draft AND deleted_at IS NULL AND ($2 OR NOT prerelease)
         ORDER BY ${NEWEST_FIRST}
         LIMIT $1`,
        [limit, includePrereleases],
      );
      return rows.map(toListedRelease);
    },
    /** The newest published stable versions and their pages, for telling how far behind a target is. */
    async stableVersions(limit: number): Promise<ReleaseVersion[]> {
      const { rows } = await pool.query<{ tag: string; version: string; html_url: string }>(
        `SELECT tag, version, html_url FROM releases
         WHERE NOT draft AND deleted_at IS NULL AND NOT prerelease
         ORDER BY ${NEWEST_FIRST}
         LIMIT $1`,
        [limit],
      );
      return rows.map((row) => ({ tag: row.tag, version: row.version, htmlUrl: row.html_url }));
    },
  };
}

export function createBotState(pool: Pool) {
  return {
    async get(key: string): Promise<string | null> {
      const { rows } = await pool.query<{ value: string }>(`SELECT value FROM bot_state WHERE key = $1`, [key]);
      return rows[0]?.value ?? null;
    },
    async set(key: string, value: string): Promise<void> {
      await pool.query(
        `INSERT INTO bot_state (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now() WHERE bot_state.value <> EXCLUDED.value`,
        [key, value],
      );
    },
    /** Sets the key only if absent; true for the one caller that set it. */
    async setOnce(key: string, value: string): Promise<boolean> {
      const { rowCount } = await pool.query(`INSERT INTO bot_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, [key, value]);
      return (rowCount ?? 0) > 0;
    },
  };
}

export function createSubscriptionStore(pool: Pool) {
  return {
    /** Config channels start subscribed, unless someone unsubscribed them before. */
    async seedFromConfig(channels: readonly string[]): Promise<void> {
      if (channels.length === 0) return;
      await pool.query(
        `INSERT INTO subscriptions (channel_id, active, source)
         SELECT unnest($1::text[]), true, 'config'
         ON CONFLICT (channel_id) DO NOTHING`,
        [channels],
      );
    },
    /** Returns whether the channel's subscription changed. */
    async set(channelId: string, active: boolean, userId: string): Promise<boolean> {
      const { rowCount } = await pool.query(
        `INSERT INTO subscriptions (channel_id, active, source, changed_by) VALUES ($1, $2, 'command', $3)
         ON CONFLICT (channel_id) DO UPDATE SET active = EXCLUDED.active, changed_by = EXCLUDED.changed_by, changed_at = now()
         WHERE subscriptions.active <> EXCLUDED.active`,
        [channelId, active, userId],
      );
      return (rowCount ?? 0) > 0;
    },
    async activeChannels(): Promise<string[]> {
      const { rows } = await pool.query<{ channel_id: string }>(`SELECT channel_id FROM subscriptions WHERE active ORDER BY channel_id`);
      return rows.map((r) => r.channel_id);
    },
  };
}

export interface AnnouncementRow {
  releaseTag: string;
  channelId: string;
  messageTs: string | null;
  shownSha: string | null;
  shownDeleted: boolean;
}

export type Claim = { kind: 'claimed'; token: string } | { kind: 'posted'; row: AnnouncementRow } | { kind: 'held_elsewhere' };

export function createAnnouncementStore(pool: Pool) {
  return {
    /**
     * Claims the right to post a release in a channel. A claim whose holder never recorded a message expires
     * after `leaseSeconds`, so a crash between claiming and posting leads to a post later, never to a loss.
     */
    async claim(tag: string, channelId: string, leaseSeconds: number): Promise<Claim> {
      const token = randomUUID();
      const { rows } = await pool.query(
        `INSERT INTO announcements (release_tag, channel_id, claim_token) VALUES ($1, $2, $3)
         ON CONFLICT (release_tag, channel_id) DO UPDATE SET claim_token = EXCLUDED.claim_token, claimed_at = now()
         WHERE announcements.message_ts IS NULL AND announcements.claimed_at < now() - make_interval(secs => $4)
         RETURNING claim_token`,
        [tag, channelId, token, leaseSeconds],
      );
      if (rows[0]) return { kind: 'claimed', token };
      const existing = await pool.query(
        `SELECT release_tag, channel_id, message_ts, shown_sha, shown_deleted FROM announcements WHERE release_tag = $1 AND channel_id = $2`,
        [tag, channelId],
      );
      const row = existing.rows[0];
      if (row?.message_ts) {
        return {
          kind: 'posted',
          row: { releaseTag: row.release_tag, channelId: row.channel_id, messageTs: row.message_ts, shownSha: row.shown_sha, shownDeleted: row.shown_deleted },
        };
      }
      return { kind: 'held_elsewhere' };
    },

    /** Records the posted message; false when the claim was lost meanwhile (the message then must be rare double). */
    async recordPosted(tag: string, channelId: string, token: string, messageTs: string, shownSha: string, shownDeleted: boolean): Promise<boolean> {
      const { rowCount } = await pool.query(
        `UPDATE announcements SET message_ts = $4, shown_sha = $5, shown_deleted = $6, posted_at = now()
         WHERE release_tag = $1 AND channel_id = $2 AND claim_token = $3 AND message_ts IS NULL`,
        [tag, channelId, token, messageTs, shownSha, shownDeleted],
      );
      return (rowCount ?? 0) > 0;
    },

    async recordShown(tag: string, channelId: string, fromSha: string | null, fromDeleted: boolean, shownSha: string, shownDeleted: boolean): Promise<boolean> {
      const { rowCount } = await pool.query(
        `UPDATE announcements SET shown_sha = $5, shown_deleted = $6
         WHERE release_tag = $1 AND channel_id = $2 AND shown_sha IS NOT DISTINCT FROM $3 AND shown_deleted = $4`,
        [tag, channelId, fromSha, fromDeleted, shownSha, shownDeleted],
      );
      return (rowCount ?? 0) > 0;
    },

    async forRelease(tag: string): Promise<AnnouncementRow[]> {
      const { rows } = await pool.query(
        `SELECT release_tag, channel_id, message_ts, shown_sha, shown_deleted FROM announcements WHERE release_tag = $1 AND message_ts IS NOT NULL`,
        [tag],
      );
      return rows.map((r) => ({ releaseTag: r.release_tag, channelId: r.channel_id, messageTs: r.message_ts, shownSha: r.shown_sha, shownDeleted: r.shown_deleted }));
    },
  };
}

export type ReleaseStore = ReturnType<typeof createReleaseStore>;
export type BotState = ReturnType<typeof createBotState>;
export type SubscriptionStore = ReturnType<typeof createSubscriptionStore>;
export type AnnouncementStore = ReturnType<typeof createAnnouncementStore>;

/**
 * The release list's ETag, staged until the caller has stored what the list said: a crash between reading
 * the list and ingesting it must not leave an ETag that hides those releases behind a 304 forever.
 */
export function createStagedEtagStore(state: BotState) {
  const staged = new Map<string, string>();
  return {
    get: (key: string) => state.get(`etag:${key}`),
    async set(key: string, etag: string) {
      staged.set(key, etag);
    },
    async commit() {
      for (const [key, etag] of staged) await state.set(`etag:${key}`, etag);
      staged.clear();
    },
    discard() {
      staged.clear();
    },
  };
}

export type StagedEtagStore = ReturnType<typeof createStagedEtagStore>;
