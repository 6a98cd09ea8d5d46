// The parent message of an upgrade: its plan, the bot's own checks, the checklist with its buttons, and its state.
import type { AutomaticCheck, ChecklistItem, ChecklistState, UpgradeStatus } from '../domain/checklist.js';
import type { PlannedBreakingChange, UpgradePlan } from '../domain/upgrade-plan.js';
import { clipMrkdwn, clipPlain, escapeMrkdwn } from './clip.js';
import { oneLine } from '../util/one-line.js';
import { ACTION_IDS, BLOCK_IDS } from './action-ids.js';

export interface PlainTextObject {
  type: 'plain_text';
  text: string;
  emoji?: boolean;
}
export interface MrkdwnObject {
  type: 'mrkdwn';
  text: string;
}
export interface ButtonElement {
  type: 'button';
  action_id: string;
  text: PlainTextObject;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: { title: PlainTextObject; text: PlainTextObject; confirm: PlainTextObject; deny: PlainTextObject; style?: 'danger' };
}
export interface HeaderBlock {
  type: 'header';
  block_id: string;
  text: PlainTextObject;
}
export interface SectionBlock {
  type: 'section';
  block_id: string;
  text: MrkdwnObject;
  accessory?: ButtonElement;
}
export interface ContextBlock {
  type: 'context';
  block_id: string;
  elements: MrkdwnObject[];
}
export interface ActionsBlock {
  type: 'actions';
  block_id: string;
  elements: ButtonElement[];
}
export interface DividerBlock {
  type: 'divider';
  block_id: string;
}
export type MessageBlock = HeaderBlock | SectionBlock | ContextBlock | ActionsBlock | DividerBlock;

export interface SlackMessage {
  /** The notification and screen-reader fallback. */
  text: string;
  blocks: MessageBlock[];
}

export interface ItemConfirmation {
  userId: string;
  at: Date;
}

export interface ChecklistMessageItem extends ChecklistItem {
  confirmation?: ItemConfirmation | null;
}

export interface ChecklistMessageView {
  upgradeId: string;
  target: string;
  requester: string;
  plan: UpgradePlan;
  items: ChecklistMessageItem[];
  automatic: AutomaticCheck[];
  status: UpgradeStatus;
  /** Plain text for the state line: why it failed, expired or was cancelled. */
  statusDetail?: string;
  /** The step a running, failed or rolling-back upgrade reached. */
  step?: string;
  /** Permalink of the thread with the progress. */
  threadLink?: string;
  /** Every item is confirmed as the approval rules require. */
  canStart: boolean;
  /** A rollback request shows what a rollback can and cannot undo, and names itself so. */
  kind?: 'upgrade' | 'rollback';
  rollbackNotice?: string;
  /** A failed upgrade that can be rolled back: the message offers the Roll back button. */
  offerRollback?: boolean;
  /** `--at`: when the upgrade starts once Start is pressed (confirming), or when it will start (scheduled). */
  scheduledAt?: Date;
  /** The promotion gate does not hold: its override, which two different approvers confirm. */
  promotionOverride?: PromotionOverrideView;
}

export interface PromotionOverrideView {
  /** The target the version has not (yet) been proven on. */
  from: string;
  version: string;
  /** Approvers who confirmed the override, in order. */
  by: string[];
  /** How many more different approvers are needed; 0 once it holds. */
  missing: number;
}

/** Joins the items of a plan with the confirmations recorded for them, for the view. */
export function withConfirmations(items: ChecklistItem[], state: ChecklistState): ChecklistMessageItem[] {
  return items.map((item) => {
    const confirmation = state.confirmations.find((c) => c.itemId === item.id);
    return confirmation ? { ...item, confirmation: { userId: confirmation.userId, at: confirmation.at } } : { ...item };
  });
}

/** Slack's limits, with room to spare where the exact count is Slack's business. */
export const BLOCK_KIT_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  headerText: 150,
  buttonText: 75,
  actionId: 255,
  buttonValue: 2000,
  message: 12_000,
} as const;

/** How many hex characters of the key's fingerprint a message shows. */
export const FINGERPRINT_SHOWN = 12;

export { ACTION_IDS };

interface Budget {
  releases: number;
  breaking: number;
  titleChars: number;
  detailChars: number;
}

const BUDGETS: Budget[] = [
  { releases: 30, breaking: 10, titleChars: 200, detailChars: 600 },
  { releases: 20, breaking: 6, titleChars: 140, detailChars: 400 },
  { releases: 10, breaking: 3, titleChars: 100, detailChars: 200 },
  { releases: 5, breaking: 1, titleChars: 80, detailChars: 120 },
];

/** Builds the parent message; pure. */
export function checklistMessage(view: ChecklistMessageView): SlackMessage {
  let message = build(view, BUDGETS[0] as Budget);
  for (const budget of BUDGETS.slice(1)) {
    if (messageSize(message) < BLOCK_KIT_LIMITS.message) break;
    message = build(view, budget);
  }
  // Last resort for pathological input: halve the longest section until the message fits.
  for (let round = 0; round < 100 && messageSize(message) >= BLOCK_KIT_LIMITS.message; round += 1) {
    message = shrinkLargestSection(message);
  }
  return message;
}

/** What counts against the message limit: the serialized blocks and the fallback text. */
export function messageSize(message: SlackMessage): number {
  return JSON.stringify(message.blocks).length + message.text.length;
}

function noun(view: ChecklistMessageView): string {
  return view.kind === 'rollback' ? 'Roll back' : 'Upgrade';
}

function build(view: ChecklistMessageView, budget: Budget): SlackMessage {
  const { plan } = view;
  const blocks: MessageBlock[] = [];
  const target = esc(clip(view.target, 63));

  blocks.push({
    type: 'header',
    block_id: BLOCK_IDS.checklist.header,
    text: plain(`${noun(view)} ${clip(view.target, 63)}: ${plan.from} → ${plan.to}`, BLOCK_KIT_LIMITS.headerText),
  });

  const meta = [`Requested by ${mention(view.requester)}`, `upgrade \`${esc(clip(view.upgradeId, 64))}\``];
  if (view.threadLink && isHttpUrl(view.threadLink)) meta.push(`<${view.threadLink}|progress in the thread>`);
  blocks.push({ type: 'context', block_id: BLOCK_IDS.checklist.meta, elements: [mrkdwn(meta.join(' · '))] });

  blocks.push(section(BLOCK_IDS.checklist.status, statusLine(view, budget)));

  if (view.rollbackNotice) blocks.push(section(BLOCK_IDS.checklist.rollbackNotice, clip(view.rollbackNotice, BLOCK_KIT_LIMITS.sectionText)));
  else blocks.push(section(BLOCK_IDS.checklist.plan, planText(view, budget)));

  const warnings = versionWarnings(plan);
  if (warnings !== '') blocks.push(section(BLOCK_IDS.checklist.versionWarning, warnings));

  if (plan.minorsCrossed > 0) {
    blocks.push(
      section(
        'minors',
        `📚 *Crosses ${plan.minorsCrossed} minor version${plan.minorsCrossed === 1 ? '' : 's'}*: each minor may break: read every one.`,
      ),
    );
  }

  const flags = flagWarnings(plan);
  if (flags !== '') blocks.push(section(BLOCK_IDS.checklist.flags, flags));

  blocks.push(section(BLOCK_IDS.checklist.breaking, breakingText(plan.breaking, budget)));
  blocks.push({ type: 'divider', block_id: BLOCK_IDS.checklist.divider });

  if (view.automatic.length > 0) blocks.push(section(BLOCK_IDS.checklist.automatic, automaticText(view.automatic, budget)));

  const confirming = view.status === 'confirming';
  blocks.push({
    type: 'context',
    block_id: BLOCK_IDS.checklist.intro,
    elements: [
      mrkdwn(
        confirming
          ? `*Checklist for ${target}*: an approver confirms each item.`
          : `*Checklist for ${target}*`,
      ),
    ],
  });

  const seen = new Set<string>();
  for (const item of view.items) {
    if (seen.has(item.id)) continue;
    seen.add(item.id);
    blocks.push(itemBlock(view, item, confirming, budget));
  }

  if (view.promotionOverride) blocks.push(promotionOverrideBlock(view, view.promotionOverride, confirming));

  const buttons: ButtonElement[] = [];
  if (confirming && view.canStart) {
    buttons.push({
      type: 'button',
      action_id: ACTION_IDS.start,
      text: plain(view.kind === 'rollback' ? 'Start rollback' : view.scheduledAt ? 'Schedule upgrade' : 'Start upgrade', BLOCK_KIT_LIMITS.buttonText),
      value: buttonValue(view.upgradeId),
      style: 'primary',
    });
  }
  if (confirming || view.status === 'queued' || view.status === 'scheduled') {
    buttons.push({
      type: 'button',
      action_id: ACTION_IDS.cancel,
      text: plain('Cancel', BLOCK_KIT_LIMITS.buttonText),
      value: buttonValue(view.upgradeId),
      style: 'danger',
      confirm: {
        title: plain(`Cancel this ${view.kind === 'rollback' ? 'rollback' : 'upgrade'}?`, 100),
        text: plain(`The ${view.kind === 'rollback' ? 'rollback' : 'upgrade'} of ${clip(view.target, 63)} to ${plan.to} will not run.`, 300),
        confirm: plain(view.kind === 'rollback' ? 'Cancel rollback' : 'Cancel upgrade', 30),
        deny: plain('Keep it', 30),
        style: 'danger',
      },
    });
  }
  if (view.status === 'failed' && view.offerRollback && view.kind !== 'rollback') {
    buttons.push({ type: 'button', action_id: ACTION_IDS.rollback, text: plain('Roll back', BLOCK_KIT_LIMITS.buttonText), value: buttonValue(view.upgradeId), style: 'danger' });
  }
  if (buttons.length > 0) blocks.push({ type: 'actions', block_id: BLOCK_IDS.checklist.actions, elements: buttons });

  const text = `${noun(view)} ${target} from ${plan.from} to ${plan.to}: ${STATUS_WORD[view.status]}`;
  // By construction far below 50; the cut keeps the promise should items ever multiply.
  const capped =
    blocks.length > BLOCK_KIT_LIMITS.blocks
      ? [...blocks.slice(0, BLOCK_KIT_LIMITS.blocks - 1), ...blocks.slice(-1)]
      : blocks;
  return { text, blocks: capped };
}

const STATUS_WORD: Record<UpgradeStatus, string> = {
  confirming: 'waiting for confirmations',
  scheduled: 'scheduled',
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  expired: 'expired',
  rolling_back: 'rolling back',
  rolled_back: 'rolled back',
};

function statusLine(view: ChecklistMessageView, budget: Budget): string {
  const { plan } = view;
  const detail = view.statusDetail ? `: ${esc(clip(scrubSecrets(view.statusDetail), budget.detailChars))}` : '';
  const step = view.step ? ` (step \`${esc(clip(view.step, 60))}\`)` : '';
  const thread = view.threadLink && isHttpUrl(view.threadLink) ? ` Progress is in <${view.threadLink}|the thread>.` : '';
  switch (view.status) {
    case 'confirming': {
      const confirmed = view.items.filter((item) => item.confirmation).length;
      const when = view.scheduledAt ? ` *Schedule upgrade* sets it to start at ${slackDate(view.scheduledAt)}.` : '';
      return view.canStart
        ? `✅ *Every item is confirmed*: an approver can start the upgrade.${when}`
        : `📝 *Waiting for confirmations*: ${confirmed} of ${view.items.length} items confirmed. When all are, an approver can start the upgrade.${when}`;
    }
    case 'scheduled':
      return `🗓️ *Scheduled*: starts at ${view.scheduledAt ? slackDate(view.scheduledAt) : 'its time'}; approvals, version and promotion are checked again then${detail}.`;
    case 'queued':
      return `⏳ *Queued*: the upgrade starts when the worker picks it up${detail}.${thread}`;
    case 'running':
      return `🔄 *Running*${step}${detail}.${thread}`;
    case 'succeeded':
      return `✅ *Succeeded*: ${esc(clip(view.target, 63))} runs ${plan.to}${detail}.${thread}`;
    case 'failed':
      return `❌ *Failed*${step}${detail}. To go back, ${view.offerRollback && view.kind !== 'rollback' ? 'press *Roll back* or ' : ''}type \`/checkstack rollback ${esc(clip(view.target, 63))}\`.${thread}`;
    case 'cancelled':
      return `🚫 *Cancelled*${detail}.`;
    case 'expired':
      return `⌛ *Expired*${detail}. Type \`/checkstack upgrade ${plan.to} ${esc(clip(view.target, 63))}\` for a new request.`;
    case 'rolling_back':
      return `↩️ *Rolling back*${step}${detail}.${thread}`;
    case 'rolled_back':
      return `↩️ *Rolled back* to ${plan.from}${detail}.${thread}`;
  }
}

function planText(view: ChecklistMessageView, budget: Budget): string {
  const { plan } = view;
  const api = plan.current.apiVersion === null ? '_no answer_' : `\`${esc(clip(plan.current.apiVersion, 40))}\``;
  const tag = plan.current.imageTag === null ? '_not found_' : `\`${esc(clip(plan.current.imageTag, 40))}\``;
  const lines = [`*Current version*: \`/api/about\` says ${api}, the image tag is ${tag}.`];
  const shown = plan.releasesInRange.slice(0, budget.releases).map((release) => {
    const label = `v${release.version}`;
    const link = isHttpUrl(release.url) ? `<${release.url}|${label}>` : label;
    const breaking = release.breakingCount > 0 ? `, ${release.breakingCount} breaking` : '';
    return `${link} (${release.bump}${breaking})`;
  });
  const more = plan.releasesInRange.length - shown.length;
  lines.push(
    `*Releases in this upgrade* (${plan.releasesInRange.length}, oldest first): ${shown.join(' · ')}${more > 0 ? ` · +${more} more` : ''}`,
  );
  return lines.join('\n');
}

function versionWarnings(plan: UpgradePlan): string {
  const lines: string[] = [];
  if (plan.versionMismatch) {
    lines.push(
      `⚠️ *Versions disagree*: \`/api/about\` says \`${esc(clip(plan.current.apiVersion ?? '', 40))}\` but the image tag is \`${esc(clip(plan.current.imageTag ?? '', 40))}\`. The plan starts from ${plan.from}; an extra confirmation is required.`,
    );
  }
  if (plan.unreachable) {
    lines.push(
      `⚠️ *Target unreachable*: it did not answer, so the plan starts from the image tag (${plan.from}); an extra confirmation is required.`,
    );
  }
  return lines.join('\n');
}

function flagWarnings(plan: UpgradePlan): string {
  const lines: string[] = [];
  if (plan.flags.destructive) {
    lines.push('⚠️ *Destructive migration* in this range: the rollback is a database restore, not a tag change.');
  }
  if (plan.flags.encryption) {
    lines.push('⚠️ *Encryption change* in this range: follow the release procedure; do not rotate the key before the re-encryption finishes.');
  }
  if (plan.flags.migrations) {
    lines.push('⚠️ *Database migrations* run at boot; there are no down-migrations.');
  }
  if (plan.flags.truncated) {
    lines.push('⚠️ *Release notes truncated* on GitHub for at least one release: read the full changelog.');
  }
  return lines.join('\n');
}

function breakingText(breaking: PlannedBreakingChange[], budget: Budget): string {
  if (breaking.length === 0) return '*Breaking changes*: none marked in the release notes (still read them).';
  const lines = [`*Breaking changes* (${breaking.length}, operator-facing first):`];
  const ordered = [
    ...breaking.filter((change) => change.audience === 'operator'),
    ...breaking.filter((change) => change.audience !== 'operator'),
  ];
  for (const change of ordered.slice(0, budget.breaking)) {
    const who = change.audience === 'operator' ? '🛠️ operator' : '🧩 plugin authors';
    const packages =
      change.packages.length === 0
        ? ''
        : ` (${change.packages.slice(0, 3).map((pkg) => `\`${esc(clip(pkg, 60))}\``).join(', ')}${change.packages.length > 3 ? `, +${change.packages.length - 3}` : ''})`;
    const versions = change.versions.map((version) => `v${version}`).join(', ');
    lines.push(`• ${who}: ${esc(clip(oneLine(change.title, { loneSurrogates: 'replace' }), budget.titleChars))}${packages}, in ${versions}`);
  }
  const more = breaking.length - Math.min(breaking.length, budget.breaking);
  if (more > 0) lines.push(`+${more} more: see the release notes.`);
  return lines.join('\n');
}

const CHECK_ICON: Record<AutomaticCheck['result'], string> = { ok: '✅', warning: '⚠️', failed: '❌' };

function automaticText(checks: AutomaticCheck[], budget: Budget): string {
  const lines = ['*Checks done by the bot*'];
  for (const check of checks) {
    const detail = check.detail ? `: ${esc(clip(scrubSecrets(check.detail), budget.detailChars))}` : '';
    const fingerprint = check.fingerprint ? ` (SHA-256 fingerprint \`${shortFingerprint(check.fingerprint)}\`)` : '';
    lines.push(`${CHECK_ICON[check.result]} ${esc(clip(check.title, 150))}${fingerprint}${detail}`);
  }
  return lines.join('\n');
}

function itemBlock(
  view: ChecklistMessageView,
  item: ChecklistMessageItem,
  confirming: boolean,
  budget: Budget,
): SectionBlock {
  const links = (item.links ?? [])
    .filter((link) => isHttpUrl(link.url))
    .slice(0, budget.releases)
    .map((link) => `<${link.url}|${esc(clip(link.label, 40))}>`);
  const hiddenLinks = (item.links ?? []).length - links.length;
  const lines = [`*${esc(clip(item.title, 200))}*`, esc(clip(item.why, 600))];
  if (links.length > 0) lines.push(`${links.join(' · ')}${hiddenLinks > 0 ? ` · +${hiddenLinks} more` : ''}`);
  if (item.confirmation) {
    lines.push(`✅ confirmed by ${mention(item.confirmation.userId)} at ${slackDate(item.confirmation.at)}`);
    return section(BLOCK_IDS.checklist.item(item.id), lines.join('\n'));
  }
  if (!confirming) {
    lines.push('◻️ not confirmed');
    return section(BLOCK_IDS.checklist.item(item.id), lines.join('\n'));
  }
  return {
    ...section(BLOCK_IDS.checklist.item(item.id), lines.join('\n')),
    accessory: {
      type: 'button',
      action_id: ACTION_IDS.confirm(item.id),
      text: plain('Confirm', BLOCK_KIT_LIMITS.buttonText),
      value: buttonValue(view.upgradeId, item.id),
    },
  };
}

function promotionOverrideBlock(view: ChecklistMessageView, override: PromotionOverrideView, confirming: boolean): SectionBlock {
  const from = esc(clip(override.from, 63));
  const lines = [
    `*Override: ship \`${esc(clip(override.version, 40))}\` without a green run on \`${from}\`*`,
    'Two different approvers must confirm it; it is recorded in the audit log.',
  ];
  if (override.by.length > 0) lines.push(`✅ confirmed by ${override.by.map(mention).join(', ')}${override.missing > 0 ? ` (${override.missing} more needed)` : ''}`);
  if (!confirming || override.missing === 0) return section('promotion_override', lines.join('\n'));
  return {
    ...section('promotion_override', lines.join('\n')),
    accessory: {
      type: 'button',
      action_id: ACTION_IDS.promotionOverride,
      text: plain(`Override (${override.by.length}/${override.by.length + override.missing})`, BLOCK_KIT_LIMITS.buttonText),
      value: buttonValue(view.upgradeId),
      style: 'danger',
    },
  };
}

// ---- small pieces ----

function section(blockId: string, text: string): SectionBlock {
  return { type: 'section', block_id: blockId, text: mrkdwn(text) };
}

function mrkdwn(text: string): MrkdwnObject {
  return { type: 'mrkdwn', text: clipMrkdwn(text, BLOCK_KIT_LIMITS.sectionText) };
}

function plain(text: string, max: number): PlainTextObject {
  return { type: 'plain_text', text: clip(oneLine(text, { loneSurrogates: 'replace' }), max), emoji: true };
}

function buttonValue(upgradeId: string, itemId?: string): string {
  return clip(itemId === undefined ? upgradeId : `${upgradeId}:${itemId}`, BLOCK_KIT_LIMITS.buttonValue);
}

/** Text from release notes and users may hold `<!channel>` or `&`: Slack wants these three escaped. */
export const esc = escapeMrkdwn;


/** Cuts to `max` characters on a grapheme boundary, marking the cut with `…` (before escaping: no entity is cut). */
function clip(text: string, max: number): string {
  return clipPlain(text, max);
}

function mention(userId: string): string {
  return /^[UW][A-Z0-9]{2,20}$/.test(userId) ? `<@${userId}>` : `\`${esc(clip(oneLine(userId, { loneSurrogates: 'replace' }), 30))}\``;
}

function isHttpUrl(url: string): boolean {
  return /^https?:\/\/[^\s<>|]+$/.test(url) && url.length <= 1000;
}

/** The first hex characters of a fingerprint: enough to compare, never the whole. */
export function shortFingerprint(fingerprint: string): string {
  const hex = fingerprint.replace(/^sha256:/i, '').replace(/[^0-9a-f]/gi, '').toLowerCase();
  return `${hex.slice(0, FINGERPRINT_SHOWN)}…`;
}

/** Long hex runs (a key, a full fingerprint) are cut to their first characters wherever they appear. */
function scrubSecrets(text: string): string {
  return text.replace(/[0-9a-f]{20,}/gi, (hex) => `${hex.slice(0, FINGERPRINT_SHOWN)}…`);
}

function slackDate(at: Date): string {
  const seconds = Math.floor(at.getTime() / 1000);
  const fallback = `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${seconds}^{date_short_pretty} {time}|${fallback}>`;
}

function shrinkLargestSection(message: SlackMessage): SlackMessage {
  let largest = -1;
  let size = 0;
  message.blocks.forEach((block, index) => {
    if (block.type === 'section' && block.text.text.length > size) {
      largest = index;
      size = block.text.text.length;
    }
  });
  if (largest < 0 || size <= 100) return message;
  const blocks = message.blocks.map((block, index) =>
    index === largest && block.type === 'section'
      ? { ...block, text: { type: 'mrkdwn' as const, text: clipMrkdwn(block.text.text, Math.floor(size / 2)) } }
      : block,
  );
  return { ...message, blocks };
}
