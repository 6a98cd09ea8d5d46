// The channel announcement of a Checkstack release (Block Kit), kept inside Slack's limits however long the notes are.
import type { ActionsBlock, Button, KnownBlock } from '@slack/types';
import { policyHint } from '../domain/bump-policy.js';
import { flagNames } from '../domain/release-summary-text.js';
import type { Audience, BreakingChange, ReleaseSummary } from '../domain/release-types.js';
import type { TargetOutlook } from '../domain/release-outlook.js';
import { outlookBlock } from './auto-upgrade-words.js';
import { clipMrkdwn, clipPlain, escapeMrkdwn } from './clip.js';
import { ACTION_IDS, LINK_BUTTON_ACTIONS } from './action-ids.js';

export { escapeMrkdwn };

/**
 * The **Release notes** link button. Slack opens its URL and still sends the click (`block_actions`), which must be
 * acknowledged like any other, or Slack shows a warning icon beside the button.
 */
export const RELEASE_NOTES_ACTION = ACTION_IDS.releaseNotes;

/** Every link button the bot posts: their clicks are only acknowledged. */
export { LINK_BUTTON_ACTIONS };

export type AnnouncementState = 'published' | 'edited' | 'deleted';

export interface AnnouncementOptions {
  state: AnnouncementState;
  planUpgradeButton?: { actionId: string; value: string };
  /** Per target, what happens with this release (automatic, after the earlier stage, needs a checklist). */
  outlook?: { targets: readonly TargetOutlook[]; now: Date };
}

export interface AnnouncementRelease {
  publishedAt: string | null;
  prerelease: boolean;
}

type Block = KnownBlock;

const TEXT_LIMIT = 3000;
const HEADER_LIMIT = 150;
const SECTION_BUDGET = 2800;
/** Characters of breaking-change lines across all sections; keeps the whole message near 10,000 characters at most. */
const BREAKING_BUDGET = 6000;
const MAX_LISTED = 20;
const PACKAGES_SHOWN = 3;
const TITLE_LIMIT = 150;
const ID_LIMIT = 40;
const PACKAGE_LIMIT = 60;

const FLAG_WARNINGS: Record<string, string> = {
  migrations: ':warning: *Database migrations* run at boot and cannot be undone: a rollback means a database restore.',
  encryption: ':key: *Encryption* changes: back up `ENCRYPTION_MASTER_KEY` and read the key-rotation notes first.',
  destructive: ':rotating_light: *Destructive change* (dropped data or an irreversible migration): take a database backup first.',
  truncated: ':scissors: *Notes truncated* on GitHub: some changes are only in the packages\' `CHANGELOG.md` files.',
};

const AUDIENCE_HEADINGS: Record<Audience, string> = {
  operator: '*Breaking changes for operators*',
  'plugin-author': '*Breaking changes for plugin authors*',
};

export function announcementMessage(
  summary: ReleaseSummary,
  release: AnnouncementRelease,
  options: AnnouncementOptions,
): { text: string; blocks: Block[] } {
  const blocks: Block[] = [
    headerBlock(summary, release, options.state),
    ...stateBlocks(options.state),
    section(`*Published* ${publishedDate(release.publishedAt)}  ·  *previous* ${escapeMrkdwn(summary.previous ?? 'none')}\n${escapeMrkdwn(policyHint(summary.bump))}`),
    ...flagBlocks(summary),
    ...whatHappens(options),
    ...breakingBlocks(summary.breaking),
    actionsBlock(summary, options),
  ];
  return { text: fallbackText(summary, options.state), blocks };
}

function headerBlock(summary: ReleaseSummary, release: AnnouncementRelease, state: AnnouncementState): Block {
  const suffix = state === 'deleted' ? ' (deleted)' : release.prerelease ? ' (prerelease)' : '';
  const text = clipPlain(`Checkstack ${summary.version}${suffix}`, HEADER_LIMIT);
  return { type: 'header', text: { type: 'plain_text', text, emoji: true } };
}

function stateBlocks(state: AnnouncementState): Block[] {
  if (state === 'deleted') {
    return [section(':no_entry: *This release was deleted on GitHub.* Do not upgrade to it.')];
  }
  if (state === 'edited') {
    return [context(':pencil2: Release notes updated on GitHub; this summary shows the new notes.')];
  }
  return [];
}

function whatHappens(options: AnnouncementOptions): Block[] {
  if (!options.outlook || options.state === 'deleted') return [];
  const block = outlookBlock(options.outlook.targets, options.outlook.now);
  return block ? [block] : [];
}

function flagBlocks(summary: ReleaseSummary): Block[] {
  const warnings = flagNames(summary).map((flag) => FLAG_WARNINGS[flag]).filter((line) => line !== undefined);
  return warnings.length > 0 ? [section(warnings.join('\n'))] : [];
}

function breakingBlocks(breaking: readonly BreakingChange[]): Block[] {
  if (breaking.length === 0) return [section('No breaking changes found in the notes.')];
  let budget = { chars: BREAKING_BUDGET, entries: MAX_LISTED };
  const blocks: Block[] = [{ type: 'divider' }];
  // Operators first: their changes decide whether the upgrade can go ahead at all.
  for (const audience of ['operator', 'plugin-author'] as const) {
    const changes = breaking.filter((change) => change.audience === audience);
    if (changes.length === 0) continue;
    const listed = listWithinBudget(changes, budget);
    budget = listed.remaining;
    blocks.push(...audienceSections(audience, changes.length, listed.lines, changes.length - listed.lines.length));
  }
  return blocks;
}

interface Budget {
  chars: number;
  entries: number;
}

function listWithinBudget(changes: readonly BreakingChange[], budget: Budget): { lines: string[]; remaining: Budget } {
  const lines: string[] = [];
  let { chars, entries } = budget;
  for (const change of changes) {
    const line = breakingLine(change);
    if (entries === 0 || line.length > chars) break;
    lines.push(line);
    chars -= line.length;
    entries -= 1;
  }
  return { lines, remaining: { chars, entries } };
}

/** The heading and the listed lines, split into sections under the per-text limit, then "+N more". */
function audienceSections(audience: Audience, total: number, lines: readonly string[], hidden: number): Block[] {
  const chunks: string[] = [`${AUDIENCE_HEADINGS[audience]} (${total})`];
  for (const line of lines) {
    const last = chunks[chunks.length - 1] ?? '';
    if (last.length + 1 + line.length <= SECTION_BUDGET) chunks[chunks.length - 1] = `${last}\n${line}`;
    else chunks.push(line);
  }
  const blocks = chunks.map((chunk) => section(chunk));
  if (hidden > 0) blocks.push(context(`+${hidden} more: see the release notes`));
  return blocks;
}

function breakingLine(change: BreakingChange): string {
  const shown = change.packages.slice(0, PACKAGES_SHOWN).map((name) => clipPlain(name, PACKAGE_LIMIT)).join(', ');
  const more = change.packages.length > PACKAGES_SHOWN ? ` +${change.packages.length - PACKAGES_SHOWN} more` : '';
  const packages = change.packages.length > 0 ? ` · ${escapeMrkdwn(shown)}${more}` : '';
  // Titles are clipped before escaping so an entity is never cut in half.
  return `• ${escapeMrkdwn(clipPlain(change.title, TITLE_LIMIT))} (\`${escapeMrkdwn(clipPlain(change.id, ID_LIMIT))}\`${packages})`;
}

function actionsBlock(summary: ReleaseSummary, options: AnnouncementOptions): ActionsBlock {
  const elements: Button[] = [
    {
      type: 'button',
      action_id: RELEASE_NOTES_ACTION,
      text: { type: 'plain_text', text: 'Release notes' },
      url: summary.url,
    },
  ];
  if (options.planUpgradeButton && options.state !== 'deleted') {
    elements.push({
      type: 'button',
      action_id: options.planUpgradeButton.actionId,
      text: { type: 'plain_text', text: 'Plan upgrade' },
      value: options.planUpgradeButton.value,
      style: 'primary',
    });
  }
  return { type: 'actions', elements };
}

function fallbackText(summary: ReleaseSummary, state: AnnouncementState): string {
  if (state === 'deleted') return `Checkstack ${summary.version}: this release was deleted on GitHub`;
  const verb = state === 'edited' ? 'release notes updated' : 'released';
  const count = summary.breaking.length;
  const breaking = count === 0 ? 'no breaking changes found' : `${count} breaking change${count === 1 ? '' : 's'}`;
  return `Checkstack ${summary.version} ${verb} (${summary.bump}, ${breaking})`;
}

function publishedDate(publishedAt: string | null): string {
  return publishedAt && /^\d{4}-\d{2}-\d{2}/.test(publishedAt) ? publishedAt.slice(0, 10) : 'not published yet';
}

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: clipMrkdwn(text, TEXT_LIMIT) } };
}

function context(text: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: clipMrkdwn(text, TEXT_LIMIT) }] };
}

