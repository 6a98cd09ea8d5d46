// Slack's rules for a message payload, as the real Web API and response_urls enforce them, for the fake Slack.
//
// Sources (docs.slack.dev, Block Kit reference): blocks per message 50 (100 in a modal or Home tab); section text
// 3,000, fields at most 10 of 2,000 each; header text plain_text 150; context 1–10 elements; actions 1–25
// elements; button text plain_text 75, action_id 255, value 2,000, url 3,000, accessibility_label 75, style
// primary|danger; confirm dialog title 100, text 300, confirm/deny 30; block_id 255 and unique in a message; a text
// object's text at least 1 character (3,000 at most where no block says less). Slack refuses a payload that breaks
// one with `invalid_blocks` and pointer messages (`must be less than 3001 characters [json-pointer:/blocks/0/text/text]`),
// a blocks argument that is not a JSON array with `invalid_blocks_format`, more than 100 attachments with
// `too_many_attachments`. Blocks whose text adds up to more than 12,000 characters are refused with
// `msg_blocks_too_long` (Slack documents no figure: its staff name "12,000 text characters"; real messages are refused
// a little below that, so the fake is no stricter than Slack here). Top-level `text` over 40,000 characters is not
// refused: Slack cuts it (changelog 2018-04, "truncating really long messages"), so the fake keeps the first 40,000
// and records a defect. Lengths are counted in UTF-16 code units, never fewer than the characters Slack counts.
// The fake is stricter than Slack in one place the issue asks for: an action_id repeated anywhere in a message.
//
// A Home tab view (views.publish; docs.slack.dev "Home tab views" and the method's page): `type: home`, at most 100
// blocks, `private_metadata` 3,000, `callback_id` 255, the whole view at most 250 kB (`view_too_large`). Slack refuses a
// bad view with `invalid_arguments` and the same pointer messages under `response_metadata.messages`. An action_id
// need only be unique within its block there, as Slack documents it (a Home tab repeats "Pin" per target).

export const SLACK_LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  accessibilityLabel: 75,
  actionId: 255,
  blockId: 255,
  textObject: 3000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  imageUrl: 3000,
  altText: 2000,
  blocksTextTotal: 12_000,
  messageText: 40_000,
  attachments: 100,
} as const;

/** A payload Slack refuses: the error code Slack answers, and its pointer messages. */
export interface SlackRefusal {
  error: 'invalid_blocks' | 'invalid_blocks_format' | 'msg_blocks_too_long' | 'too_many_attachments' | 'invalid_attachments' | 'invalid_arguments' | 'view_too_large';
  errors: string[];
}

/** A payload Slack accepts but changes: the caller's message is not what the channel shows. */
export interface SlackDefect {
  kind: 'text_truncated';
  detail: string;
}

export interface PayloadVerdict {
  refusal: SlackRefusal | null;
  defects: SlackDefect[];
  /** `text` as Slack keeps it (cut at 40,000 characters). */
  text: string | undefined;
}

type Json = Record<string, unknown>;

class Problems {
  readonly list: string[] = [];
  add(pointer: string, message: string): void {
    this.list.push(`${message} [json-pointer:${pointer}]`);
  }
}

/** Checks a message payload (chat.postMessage, chat.update, chat.postEphemeral, a response_url body). */
export function checkMessagePayload(args: Json): PayloadVerdict {
  const defects: SlackDefect[] = [];
  let text = args.text === undefined || args.text === null ? undefined : String(args.text);
  if (text !== undefined && text.length > SLACK_LIMITS.messageText) {
    defects.push({ kind: 'text_truncated', detail: `top-level text of ${text.length} characters cut to ${SLACK_LIMITS.messageText}` });
    text = text.slice(0, SLACK_LIMITS.messageText);
  }
  const refusal = checkAttachments(args.attachments) ?? (args.blocks === undefined ? null : checkBlocks(args.blocks, SLACK_LIMITS.messageBlocks, '/blocks'));
  return { refusal, defects, text };
}

/** Checks the blocks of a modal or Home tab view (`views.open`, `views.update`, `views.publish`). */
export function checkViewBlocks(blocks: unknown): SlackRefusal | null {
  return checkBlocks(blocks, SLACK_LIMITS.viewBlocks, '/view/blocks', 'block');
}

const VIEW_MAX_BYTES = 250 * 1024;

/** Checks a `views.publish` view: a Home tab, within Slack's limits; every refusal is `invalid_arguments` but the size. */
export function checkHomeView(view: unknown): SlackRefusal | null {
  if (!isRecord(view)) return { error: 'invalid_arguments', errors: ['must provide an object [json-pointer:/view]'] };
  if (Buffer.byteLength(JSON.stringify(view), 'utf8') > VIEW_MAX_BYTES) return { error: 'view_too_large', errors: [] };
  const problems = new Problems();
  if (view.type !== 'home') problems.add('/view/type', view.type === undefined ? 'missing required field: type' : `must be home, not ${String(view.type)}`);
  if (view.blocks === undefined) problems.add('/view/blocks', 'missing required field: blocks');
  checkOptionalString(view.private_metadata, '/view/private_metadata', 3000, problems);
  checkOptionalString(view.callback_id, '/view/callback_id', 255, problems);
  checkOptionalString(view.external_id, '/view/external_id', 255, problems);
  if (problems.list.length > 0) return { error: 'invalid_arguments', errors: problems.list };
  const blocks = checkBlocks(view.blocks, SLACK_LIMITS.viewBlocks, '/view/blocks', 'block', false);
  return blocks ? { error: 'invalid_arguments', errors: blocks.errors } : null;
}

function checkAttachments(attachments: unknown): SlackRefusal | null {
  if (attachments === undefined) return null;
  if (!Array.isArray(attachments)) return { error: 'invalid_attachments', errors: ['must be an array [json-pointer:/attachments]'] };
  if (attachments.length > SLACK_LIMITS.attachments) return { error: 'too_many_attachments', errors: [] };
  return null;
}

/**
 * `actionIdScope`: where an action_id must be unique (the whole payload for a message, stricter than Slack; its block in a
 * view). `textTotalApplies`: whether the 12,000-character sum applies (messages only).
 */
function checkBlocks(blocks: unknown, maxBlocks: number, base: string, actionIdScope: 'payload' | 'block' = 'payload', textTotalApplies = true): SlackRefusal | null {
  if (!Array.isArray(blocks)) return { error: 'invalid_blocks_format', errors: [`must be a JSON array [json-pointer:${base}]`] };
  const problems = new Problems();
  if (blocks.length > maxBlocks) problems.add(base, `must be less than ${maxBlocks + 1} items`);
  const blockIds = new Set<string>();
  let actionIds = new Set<string>();
  const ids = {
    block(pointer: string, id: unknown) {
      if (id === undefined) return;
      if (!isString(id) || id.length === 0) return problems.add(pointer, 'must be a non-empty string');
      if (id.length > SLACK_LIMITS.blockId) return problems.add(pointer, `must be less than ${SLACK_LIMITS.blockId + 1} characters`);
      if (blockIds.has(id)) problems.add(pointer, `duplicate block_id \`${id}\``);
      blockIds.add(id);
    },
    action(pointer: string, id: unknown) {
      if (id === undefined) return;
      if (!isString(id) || id.length === 0) return problems.add(pointer, 'must be a non-empty string');
      if (id.length > SLACK_LIMITS.actionId) return problems.add(pointer, `must be less than ${SLACK_LIMITS.actionId + 1} characters`);
      if (actionIds.has(id)) problems.add(pointer, `duplicate action_id \`${id}\``);
      actionIds.add(id);
    },
  };
  blocks.forEach((block, index) => {
    if (actionIdScope === 'block') actionIds = new Set<string>();
    checkBlock(block, `${base}/${index}`, problems, ids);
  });
  if (problems.list.length > 0) return { error: 'invalid_blocks', errors: problems.list };
  if (!textTotalApplies) return null;
  const total = textTotal(blocks);
  if (total > SLACK_LIMITS.blocksTextTotal) return { error: 'msg_blocks_too_long', errors: [] };
  return null;
}

interface IdRegistry {
  block(pointer: string, id: unknown): void;
  action(pointer: string, id: unknown): void;
}

function checkBlock(block: unknown, at: string, problems: Problems, ids: IdRegistry): void {
  if (!isRecord(block) || !isString(block.type)) return problems.add(`${at}/type`, 'missing required field: type');
  ids.block(`${at}/block_id`, block.block_id);
  switch (block.type) {
    case 'section': {
      if (block.text === undefined && block.fields === undefined) problems.add(at, 'must define either `text` or `fields`');
      if (block.text !== undefined) checkTextObject(block.text, `${at}/text`, SLACK_LIMITS.sectionText, problems);
      if (block.fields !== undefined) {
        if (!Array.isArray(block.fields) || block.fields.length === 0) problems.add(`${at}/fields`, 'must be a non-empty array');
        else {
          if (block.fields.length > SLACK_LIMITS.sectionFields) problems.add(`${at}/fields`, `must be less than ${SLACK_LIMITS.sectionFields + 1} items`);
          block.fields.forEach((field, i) => checkTextObject(field, `${at}/fields/${i}`, SLACK_LIMITS.sectionFieldText, problems));
        }
      }
      if (block.accessory !== undefined) checkElement(block.accessory, `${at}/accessory`, problems, ids);
      return;
    }
    case 'header':
      checkTextObject(block.text, `${at}/text`, SLACK_LIMITS.headerText, problems, 'plain_text');
      return;
    case 'context': {
      if (!Array.isArray(block.elements) || block.elements.length === 0) return problems.add(`${at}/elements`, 'must be a non-empty array');
      if (block.elements.length > SLACK_LIMITS.contextElements) problems.add(`${at}/elements`, `must be less than ${SLACK_LIMITS.contextElements + 1} items`);
      block.elements.forEach((element, i) => {
        const pointer = `${at}/elements/${i}`;
        if (isRecord(element) && element.type === 'image') checkImage(element, pointer, problems);
        else checkTextObject(element, pointer, SLACK_LIMITS.textObject, problems);
      });
      return;
    }
    case 'actions': {
      if (!Array.isArray(block.elements) || block.elements.length === 0) return problems.add(`${at}/elements`, 'must be a non-empty array');
      if (block.elements.length > SLACK_LIMITS.actionsElements) problems.add(`${at}/elements`, `must be less than ${SLACK_LIMITS.actionsElements + 1} items`);
      block.elements.forEach((element, i) => checkElement(element, `${at}/elements/${i}`, problems, ids));
      return;
    }
    case 'divider':
      return;
    case 'image':
      checkImage(block, at, problems);
      if (block.title !== undefined) checkTextObject(block.title, `${at}/title`, 2000, problems, 'plain_text');
      return;
    default:
      problems.add(`${at}/type`, `unsupported type: ${block.type}`);
  }
}

function checkElement(element: unknown, at: string, problems: Problems, ids: IdRegistry): void {
  if (!isRecord(element) || !isString(element.type)) return problems.add(`${at}/type`, 'missing required field: type');
  if (element.type === 'image') return checkImage(element, at, problems);
  if (element.type !== 'button') return problems.add(`${at}/type`, `unsupported type: ${element.type}`);
  checkTextObject(element.text, `${at}/text`, SLACK_LIMITS.buttonText, problems, 'plain_text');
  ids.action(`${at}/action_id`, element.action_id);
  checkOptionalString(element.value, `${at}/value`, SLACK_LIMITS.buttonValue, problems);
  checkOptionalString(element.url, `${at}/url`, SLACK_LIMITS.buttonUrl, problems);
  checkOptionalString(element.accessibility_label, `${at}/accessibility_label`, SLACK_LIMITS.accessibilityLabel, problems);
  if (element.style !== undefined && element.style !== 'primary' && element.style !== 'danger') problems.add(`${at}/style`, 'must be one of primary, danger');
  if (element.confirm !== undefined) checkConfirm(element.confirm, `${at}/confirm`, problems);
}

function checkConfirm(confirm: unknown, at: string, problems: Problems): void {
  if (!isRecord(confirm)) return problems.add(at, 'must be an object');
  checkTextObject(confirm.title, `${at}/title`, SLACK_LIMITS.confirmTitle, problems, 'plain_text');
  checkTextObject(confirm.text, `${at}/text`, SLACK_LIMITS.confirmText, problems);
  checkTextObject(confirm.confirm, `${at}/confirm`, SLACK_LIMITS.confirmButton, problems, 'plain_text');
  checkTextObject(confirm.deny, `${at}/deny`, SLACK_LIMITS.confirmButton, problems, 'plain_text');
  if (confirm.style !== undefined && confirm.style !== 'primary' && confirm.style !== 'danger') problems.add(`${at}/style`, 'must be one of primary, danger');
}

function checkImage(image: Json, at: string, problems: Problems): void {
  if (!isString(image.image_url) || image.image_url.length === 0) problems.add(`${at}/image_url`, 'missing required field: image_url');
  else checkOptionalString(image.image_url, `${at}/image_url`, SLACK_LIMITS.imageUrl, problems);
  if (!isString(image.alt_text) || image.alt_text.length === 0) problems.add(`${at}/alt_text`, 'missing required field: alt_text');
  else checkOptionalString(image.alt_text, `${at}/alt_text`, SLACK_LIMITS.altText, problems);
}

function checkTextObject(value: unknown, at: string, max: number, problems: Problems, only?: 'plain_text'): void {
  if (!isRecord(value)) return problems.add(at, 'must be a text object');
  if (value.type !== 'plain_text' && value.type !== 'mrkdwn') return problems.add(`${at}/type`, `unsupported type: ${String(value.type)}`);
  if (only && value.type !== only) return problems.add(`${at}/type`, `must be ${only}`);
  if (!isString(value.text) || value.text.length === 0) return problems.add(`${at}/text`, 'must be more than 0 characters');
  if (value.text.length > max) problems.add(`${at}/text`, `must be less than ${max + 1} characters`);
  if (value.emoji !== undefined && value.type !== 'plain_text') problems.add(`${at}/emoji`, 'is only allowed on plain_text');
  if (value.verbatim !== undefined && value.type !== 'mrkdwn') problems.add(`${at}/verbatim`, 'is only allowed on mrkdwn');
}

function checkOptionalString(value: unknown, at: string, max: number, problems: Problems): void {
  if (value === undefined) return;
  if (!isString(value)) return problems.add(at, 'must be a string');
  if (value.length > max) problems.add(at, `must be less than ${max + 1} characters`);
}

/** Every `text` string in the blocks, added up: what Slack's cumulative limit counts. */
function textTotal(value: unknown): number {
  if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + textTotal(item), 0);
  if (!isRecord(value)) return 0;
  let sum = 0;
  for (const [key, item] of Object.entries(value)) sum += key === 'text' && isString(item) ? item.length : textTotal(item);
  return sum;
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
