// The shapes of a GitHub release as the bot keeps it and of its parsed summary (the contract's `summarize --json`).

export type Bump = 'major' | 'minor' | 'patch' | 'prerelease' | 'first';
export type Audience = 'operator' | 'plugin-author';

export interface BreakingChange {
  /** The changeset hash (`- 3dd1914: ...`) when the entry has one, otherwise a stable hash of its text. */
  id: string;
  /** One line, no markdown. */
  title: string;
  /** Every package the change was listed under, sorted, without duplicates. */
  packages: string[];
  audience: Audience;
}

export interface ReleaseSummary {
  version: string;
  previous: string | null;
  bump: Bump;
  breaking: BreakingChange[];
  migrations: boolean;
  encryption: boolean;
  destructive: boolean;
  truncated: boolean;
  url: string;
}

/** A release as GitHub's REST API returns it (only the fields the bot reads). */
export interface GithubRelease {
  id: number;
  tag_name: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  published_at: string | null;
  html_url: string;
}
