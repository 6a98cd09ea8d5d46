// Every word about adopting a target that runs a floating tag (`latest`): the status line that names the exact
// version, the **Pin** button, the refusals (upgrade before pinning, a digest that matches no tag, a registry that
// cannot be asked, a click that is no longer true) and the answer to the Pin click. Facts in, text out.
import type { KnownBlock } from '@slack/types';
import type { PinRecord } from '../db/upgrade-store.js';
import { isAppError, type AppError } from '../errors.js';
import { ACTION_IDS, targetVersionValue } from './action-ids.js';
import { outside } from './clip.js';

/** How the bot found the version behind a floating tag. */
export type VersionSource = 'about' | 'digest';

/** What the bot knows about a target that runs a floating tag; see `identifyRunning` in src/upgrades/adoption.ts. */
export type FloatingFacts =
  | { kind: 'identified'; tag: string; version: string; source: VersionSource }
  | { kind: 'unmatched'; tag: string; image: string; checkedTags: number }
  | { kind: 'no_digest'; tag: string }
  | { kind: 'registry_unavailable'; tag: string; detail: string };

/** The offer an AppError `target_not_pinned` carries in its details, so its refusal gets the Pin button. */
export interface PinOffer {
  target: string;
  version: string;
}

/** Slack's limit on a section's text. */
const SECTION_TEXT = 3000;

function code(text: string): string {
  return `\`${outside(text, 60).replace(/`/g, "'")}\``;
}

function sourceText(source: VersionSource): string {
  return source === 'digest' ? 'digest matched' : 'from /api/about';
}

/** `runs \`latest\` = \`0.140.0\` (digest matched)`, or why the version behind the tag is not known. */
export function floatingRunsText(facts: FloatingFacts): string {
  switch (facts.kind) {
    case 'identified':
      return `runs ${code(facts.tag)} = ${code(facts.version)} (${sourceText(facts.source)})`;
    case 'unmatched':
      return `runs ${code(facts.tag)}, whose image digest matches none of the ${facts.checkedTags} version tag(s) of ${code(facts.image)} the bot checked: it will not guess which version that is`;
    case 'no_digest':
      return `runs ${code(facts.tag)}, and neither /api/about nor the platform gave a digest to tell which version that is`;
    case 'registry_unavailable':
      return `runs ${code(facts.tag)}; the registry could not tell which version that is (${outside(facts.detail, 300)})`;
  }
}

/** The status reply's last line for a floating tag: what to do next. */
export function floatingStatusHint(target: string, facts: FloatingFacts): string {
  if (facts.kind === 'identified') {
    return `_${code(facts.tag)} will mean another version after the next release: pin ${code(facts.version)} so an upgrade and its rollback have exact tags (approvers: the button below)._`;
  }
  return `_Pin ${outside(target, 63)} by hand: put the exact version in place of ${code(facts.tag)} in its compose file or manifest, and recreate it._`;
}

export function pinButtonText(version: string): string {
  return `Pin to ${outside(version, 40)}`;
}

/** The **Pin to <version>** button, in an actions block of its own. */
export function pinButtonBlock(target: string, version: string): KnownBlock {
  return {
    type: 'actions',
    elements: [{ type: 'button', action_id: ACTION_IDS.pinVersion, text: { type: 'plain_text', text: pinButtonText(version) }, value: targetVersionValue(target, version) }],
  };
}

/** A reply that offers the Pin button under its text. */
export function withPinButton(text: string, offer: PinOffer | null): { text: string; blocks?: KnownBlock[] } {
  if (!offer) return { text };
  // A status reply may be longer than one section holds (3,000 characters): one section per run of whole lines.
  const sections: string[] = [];
  for (const line of text.split('\n')) {
    const last = sections.length - 1;
    if (last >= 0 && sections[last]!.length + 1 + line.length <= SECTION_TEXT) sections[last] += `\n${line}`;
    else sections.push(line);
  }
  return {
    text,
    blocks: [...sections.map((section): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text: section } })), pinButtonBlock(offer.target, offer.version)],
  };
}

/** The Pin offer of a `target_not_pinned` refusal, or null for any other error. */
export function pinOfferOf(err: unknown): PinOffer | null {
  if (!isAppError(err) || err.code !== 'target_not_pinned') return null;
  const offer = (err as AppError).details.pinOffer as Partial<PinOffer> | undefined;
  return typeof offer?.target === 'string' && typeof offer.version === 'string' ? { target: offer.target, version: offer.version } : null;
}

/** `/checkstack upgrade` on a floating tag whose version is known but not pinned. */
export function notPinnedRefusal(target: string, facts: Extract<FloatingFacts, { kind: 'identified' }>): string {
  return (
    `${code(target)} ${floatingRunsText(facts)}, and its pin record does not say so yet. Pin it first: ` +
    `a rollback needs an exact tag to go back to, and ${code(facts.tag)} will mean another version after the next release. ` +
    `An approver presses *${pinButtonText(facts.version)}* (it writes the tag into the pin record and recreates nothing), then type the upgrade again.`
  );
}

/** The version behind the floating tag is not known: the bot refuses to plan or to pin. */
export function unknownVersionRefusal(target: string, facts: Exclude<FloatingFacts, { kind: 'identified' }>): string {
  return `${code(target)} ${floatingRunsText(facts)}. Nothing was planned or pinned. ${floatingStatusHint(target, facts).replace(/^_|_$/g, '')}`;
}

export function pinNotApprover(): string {
  return 'Only approvers can pin a target\'s version. Ask one of them.';
}

export function noPinRecordRefusal(target: string, tag: string, image: string, version: string): string {
  return (
    `${code(target)} has no pin record (\`pin.file\` or \`pin.github\` in its config) to write ${code(version)} into; nothing was changed. ` +
    `Add one, or recreate it from ${code(`${image}:${version}`)} in place of ${code(tag)} yourself.`
  );
}

/** The target no longer runs what the button said (a new `latest` was pulled, or someone recreated it). */
export function pinDriftedRefusal(target: string, clicked: string, now: string): string {
  return `${code(target)} no longer runs ${code(clicked)}: it ${now}. Nothing was pinned; type \`/checkstack status ${outside(target, 63)}\` again.`;
}

export function pinWhileActiveRefusal(target: string, active: { kind: string; toVersion: string }): string {
  return `${code(target)} has an active ${active.kind} (to ${code(active.toVersion)}): pin it once that has ended. Nothing was written.`;
}

export function pinNotFloatingRefusal(target: string, tag: string): string {
  return `${code(target)} runs the exact tag ${code(tag)} now: there is nothing to pin.`;
}

/** The answer to a Pin click: what was written where. */
export function pinnedReply(outcome: { target: string; tag: string; version: string; record: PinRecord }): string {
  const { record } = outcome;
  const where =
    record.kind === 'file'
      ? `in ${code(record.path)}`
      : record.kind === 'commit'
        ? `in ${code(`${record.repo}/${record.path}`)} on ${code(record.branch)}, commit ${code(record.commitSha.slice(0, 12))}`
        : `in pull request <${record.url}|#${record.number}> on ${code(record.repo)}: the pin holds once it is merged`;
  return (
    `📌 Pinned ${code(outcome.target)} to ${code(outcome.version)} (was ${code(outcome.tag)}) ${where}. ` +
    'The container was not touched: it already runs that image. `/checkstack upgrade <version>` now works as usual.'
  );
}

export function pinValueUnreadable(): string {
  return 'That button does not name a target and a version; nothing was pinned. Type `/checkstack status` for a fresh one.';
}
