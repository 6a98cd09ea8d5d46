// The one place Slack text is kept within Slack's limits. Text from outside (Checkstack, Docker, Kubernetes,
// GitHub, a user) is escaped and clipped here, on grapheme boundaries, with "…" or a link to the rest; and every
// message leaves through `fitMessage`, which holds each Block Kit limit whatever a presenter built.
import { clipGraphemes, graphemePrefix } from '../domain/graphemes.js';
import { escapeMrkdwn } from '../util/escape-mrkdwn.js';
import { oneLine } from '../util/one-line.js';

/** Slack's documented limits (docs.slack.dev, Block Kit reference), in UTF-16 code units. */
export const SLACK_LIMITS = {
  messageBlocks: 50,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  contextElements: 10,
  contextText: 3000,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  actionId: 255,
  blockId: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** Slack refuses blocks whose text adds up to more (`msg_blocks_too_long`; Slack names 12,000 and refuses a little below). */
  blocksText: 11_000,
  /** A message's `text` beside blocks is only the notification fallback. */
  fallbackText: 3000,
  /** A text-only message: Slack advises at most 4,000 characters and cuts at 40,000. */
  plainMessage: 4000,
} as const;

export interface MoreLink {
  url: string;
  label: string;
}

export { escapeMrkdwn };

/** Plain text (a header, a button, a confirm dialog, a code-span value) cut to `max` on a grapheme boundary. */
export function clipPlain(text: string, max: number): string {
  return clipGraphemes(text, max);
}

/**
 * Mrkdwn cut to `max` characters: on a grapheme boundary, never inside an entity (`&amp;`) or a link or mention
 * (`<…>`), with an open code span or block closed again, and "…" or a link to the rest at the end.
 */
export function clipMrkdwn(text: string, max: number, more?: MoreLink): string {
  if (text.length <= max) return text;
  const tail = more && isLinkable(more.url) ? ` … <${more.url}|${escapeMrkdwn(oneLine(more.label)).replace(/[|]/g, '/')}>` : '…';
  // Room for closing a code block ("\n```") and a code span ("`").
  const budget = max - tail.length - 5;
  if (budget <= 0) return clipGraphemes(text, max);
  let cut = graphemePrefix(text, budget);
  cut = cut.replace(/&[#a-zA-Z0-9]*$/, '');
  const open = cut.lastIndexOf('<');
  if (open > cut.lastIndexOf('>')) cut = cut.slice(0, open);
  cut = cut.trimEnd();
  const fences = cut.split('```').length - 1;
  if (fences % 2 === 1) return `${cut}\n\`\`\`${tail}`;
  const spans = cut.replace(/```/g, '').split('`').length - 1;
  return spans % 2 === 1 ? `${cut}\`${tail}` : `${cut}${tail}`;
}

/** Text from outside, escaped for mrkdwn and clipped: the form every foreign string takes in a message. */
export function outside(text: string, max: number, options: { oneLine?: boolean; more?: MoreLink } = {}): string {
  const flat = options.oneLine === false ? text : oneLine(text);
  // Clipped before escaping as well, so a 100,000-character input costs no more than a short one.
  return clipMrkdwn(escapeMrkdwn(clipGraphemes(flat, max * 2)), max, options.more);
}

function isLinkable(url: string): boolean {
  return /^https?:\/\/[^\s<>|]+$/.test(url) && url.length <= 1000;
}

// ---------------------------------------------------------------------------------------------------------------
// The last line of defence: a message that leaves the bot fits Slack's limits, whatever a presenter built.

export interface OutgoingMessage {
  text: string;
  blocks?: unknown[];
}

type Json = Record<string, unknown>;

/**
 * Returns `message` within Slack's limits, and what had to change (empty when nothing did: presenters budget their
 * text, so a change here means a presenter needs a smaller budget, and the caller logs it).
 */
export function fitMessage<M extends OutgoingMessage>(message: M): { message: M; clipped: string[] } {
  const clipped: string[] = [];
  const hasBlocks = Array.isArray(message.blocks) && message.blocks.length > 0;
  const textMax = hasBlocks ? SLACK_LIMITS.fallbackText : SLACK_LIMITS.plainMessage;
  let text = message.text;
  if (text.length > textMax) {
    text = clipMrkdwn(text, textMax);
    clipped.push(`text (${message.text.length} characters)`);
  }
  if (message.blocks === undefined) return { message: { ...message, text }, clipped };
  let blocks = message.blocks.map((block, i) => fitBlock(block, `blocks/${i}`, clipped));
  if (blocks.length > SLACK_LIMITS.messageBlocks) {
    clipped.push(`blocks (${blocks.length})`);
    blocks = [...blocks.slice(0, SLACK_LIMITS.messageBlocks - 1), blocks[blocks.length - 1]];
  }
  if (blocksText(blocks) > SLACK_LIMITS.blocksText) {
    clipped.push(`blocks text (${blocksText(blocks)} characters)`);
    // Shrunk on a copy: the caller's blocks stay as they were.
    blocks = structuredClone(blocks);
    while (blocksText(blocks) > SLACK_LIMITS.blocksText && halveLongestText(blocks));
  }
  return { message: { ...message, text, blocks }, clipped };
}

function fitBlock(block: unknown, at: string, clipped: string[]): unknown {
  if (!isRecord(block)) return block;
  const out: Json = { ...block };
  fitId(out, 'block_id', SLACK_LIMITS.blockId, at, clipped);
  switch (out.type) {
    case 'section':
      if (out.text !== undefined) out.text = fitText(out.text, SLACK_LIMITS.sectionText, `${at}/text`, clipped);
      if (Array.isArray(out.fields)) {
        if (out.fields.length > SLACK_LIMITS.sectionFields) clipped.push(`${at}/fields (${out.fields.length})`);
        out.fields = out.fields.slice(0, SLACK_LIMITS.sectionFields).map((f, i) => fitText(f, SLACK_LIMITS.sectionFieldText, `${at}/fields/${i}`, clipped));
      }
      if (out.accessory !== undefined) out.accessory = fitElement(out.accessory, `${at}/accessory`, clipped);
      return out;
    case 'header':
      out.text = fitText(out.text, SLACK_LIMITS.headerText, `${at}/text`, clipped);
      return out;
    case 'context':
      if (Array.isArray(out.elements)) {
        if (out.elements.length > SLACK_LIMITS.contextElements) clipped.push(`${at}/elements (${out.elements.length})`);
        out.elements = out.elements.slice(0, SLACK_LIMITS.contextElements).map((e, i) => (isRecord(e) && e.type === 'image' ? e : fitText(e, SLACK_LIMITS.contextText, `${at}/elements/${i}`, clipped)));
      }
      return out;
    case 'actions':
      if (Array.isArray(out.elements)) {
        if (out.elements.length > SLACK_LIMITS.actionsElements) clipped.push(`${at}/elements (${out.elements.length})`);
        out.elements = out.elements.slice(0, SLACK_LIMITS.actionsElements).map((e, i) => fitElement(e, `${at}/elements/${i}`, clipped));
      }
      return out;
    default:
      return out;
  }
}

function fitElement(element: unknown, at: string, clipped: string[]): unknown {
  if (!isRecord(element) || element.type !== 'button') return element;
  const out: Json = { ...element, text: fitText(element.text, SLACK_LIMITS.buttonText, `${at}/text`, clipped) };
  fitId(out, 'action_id', SLACK_LIMITS.actionId, at, clipped);
  fitId(out, 'value', SLACK_LIMITS.buttonValue, at, clipped);
  if (typeof out.url === 'string' && out.url.length > SLACK_LIMITS.buttonUrl) {
    clipped.push(`${at}/url (${out.url.length} characters)`);
    delete out.url;
  }
  if (isRecord(out.confirm)) {
    const c = out.confirm;
    out.confirm = {
      ...c,
      title: fitText(c.title, SLACK_LIMITS.confirmTitle, `${at}/confirm/title`, clipped),
      text: fitText(c.text, SLACK_LIMITS.confirmText, `${at}/confirm/text`, clipped),
      confirm: fitText(c.confirm, SLACK_LIMITS.confirmButton, `${at}/confirm/confirm`, clipped),
      deny: fitText(c.deny, SLACK_LIMITS.confirmButton, `${at}/confirm/deny`, clipped),
    };
  }
  return out;
}

function fitText(value: unknown, max: number, at: string, clipped: string[]): unknown {
  if (!isRecord(value) || typeof value.text !== 'string') return value;
  if (value.text.length === 0) {
    clipped.push(`${at} (empty)`);
    return { ...value, text: '…' };
  }
  if (value.text.length <= max) return value;
  clipped.push(`${at} (${value.text.length} characters)`);
  return { ...value, text: value.type === 'mrkdwn' ? clipMrkdwn(value.text, max) : clipPlain(value.text, max) };
}

function fitId(object: Json, key: string, max: number, at: string, clipped: string[]): void {
  const value = object[key];
  if (typeof value === 'string' && value.length > max) {
    clipped.push(`${at}/${key} (${value.length} characters)`);
    object[key] = graphemePrefix(value, max);
  }
}

function blocksText(value: unknown): number {
  if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + blocksText(item), 0);
  if (!isRecord(value)) return 0;
  let sum = 0;
  for (const [key, item] of Object.entries(value)) sum += key === 'text' && typeof item === 'string' ? item.length : blocksText(item);
  return sum;
}

/** Halves the longest text object in the blocks; false when none is long enough to be worth it. */
function halveLongestText(blocks: unknown[]): boolean {
  let longest: Json | null = null;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (!isRecord(value)) return;
    if ((value.type === 'mrkdwn' || value.type === 'plain_text') && typeof value.text === 'string') {
      if (value.text.length > 100 && (!longest || value.text.length > (longest.text as string).length)) longest = value;
      return;
    }
    Object.values(value).forEach(visit);
  };
  visit(blocks);
  const target = longest as Json | null;
  if (!target) return false;
  const text = target.text as string;
  const half = Math.floor(text.length / 2);
  target.text = target.type === 'mrkdwn' ? clipMrkdwn(text, half) : clipPlain(text, half);
  return true;
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
