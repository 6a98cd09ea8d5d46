// What a Slack request body parses to, decided before Bolt sees it. Bolt 5 reads `body.ssl_check` without a guard,
// so a body that parses to JSON `null` ends the process with an unhandled rejection; bodies that parse to a number,
// a string or an array are no event either. Parsing every body twice (here and in Bolt) cost each request more
// garbage than anything else the bot adds to Bolt, so the common case is decided from its first bytes.
import { parse as parseQueryString } from 'node:querystring';

const FORM = 'application/x-www-form-urlencoded';
/** `querystring.parse`'s default: Bolt reads no parameter after the 1000th. */
const MAX_FORM_KEYS = 1000;

const OPEN_BRACE = 0x7b;
const PERCENT = 0x25;
const PLUS = 0x2b;
const AMPERSAND = 0x26;
const EQUALS = 0x3d;
const PAYLOAD_KEY = Buffer.from('payload');
const PAYLOAD_PREFIX = Buffer.from('payload=');

function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** True when the JSON text in `raw` from `start` opens with `{`: it parses to an object or not at all. */
function jsonOpensObject(raw: Buffer, start: number): boolean {
  for (let i = start; i < raw.length; i++) {
    if (!isJsonWhitespace(raw[i]!)) return raw[i] === OPEN_BRACE;
  }
  return false;
}

/** The same for a form value, read through its `+` and `%XX` escapes; false when unsure (a malformed escape). */
function formValueOpensObject(raw: Buffer, start: number): boolean {
  for (let i = start; i < raw.length; i++) {
    let byte = raw[i]!;
    if (byte === PLUS) continue;
    if (byte === PERCENT) {
      const high = hexValue(raw[i + 1]);
      const low = hexValue(raw[i + 2]);
      if (high < 0 || low < 0) return false;
      byte = high * 16 + low;
      i += 2;
    }
    if (!isJsonWhitespace(byte)) return byte === OPEN_BRACE;
  }
  return false;
}

/** Whether `raw[start, end)` is exactly `payload`. */
function isPayloadKey(raw: Buffer, start: number, end: number): boolean {
  return end - start === PAYLOAD_KEY.length && raw.compare(PAYLOAD_KEY, 0, PAYLOAD_KEY.length, start, end) === 0;
}

/**
 * True when no parameter name of the form can decode to `payload`: Bolt then hands on the form itself, an object.
 * One pass over the bytes; a name with an escape in it, or more names than Bolt reads, is left to the full parse.
 */
function formHasNoPayload(raw: Buffer): boolean {
  let keys = 1;
  let keyStart = 0;
  let inKey = true;
  for (let i = 0; i <= raw.length; i++) {
    const byte = i < raw.length ? raw[i]! : AMPERSAND;
    if (byte === AMPERSAND) {
      if (inKey && isPayloadKey(raw, keyStart, i)) return false;
      if (++keys > MAX_FORM_KEYS) return false;
      keyStart = i + 1;
      inKey = true;
    } else if (inKey && byte === EQUALS) {
      if (isPayloadKey(raw, keyStart, i)) return false;
      inKey = false;
    } else if (inKey && (byte === PERCENT || byte === PLUS)) {
      return false;
    }
  }
  return true;
}

/**
 * True only when Bolt's parse of the body certainly gives an object, or fails (which Bolt answers with 400 itself).
 * Slack's own bodies all qualify: JSON events open with `{`, interactivity is exactly `payload=<JSON object>`, and
 * slash commands are forms without a `payload` field. Anything else is left to the full parse.
 */
function surelyObjectOrUnparseable(raw: Buffer, contentType: string | undefined): boolean {
  if (contentType !== FORM) return jsonOpensObject(raw, 0);
  if (raw.subarray(0, PAYLOAD_PREFIX.length).equals(PAYLOAD_PREFIX) && raw.indexOf(AMPERSAND) === -1) {
    return formValueOpensObject(raw, PAYLOAD_PREFIX.length);
  }
  return formHasNoPayload(raw);
}

/** Bolt 5's own parse (`parseHTTPRequestBody`); `undefined` when it throws. */
function parsedLikeBolt(raw: Buffer, contentType: string | undefined): unknown {
  try {
    const text = raw.toString();
    if (contentType === FORM) {
      const form = parseQueryString(text);
      return typeof form.payload === 'string' ? JSON.parse(form.payload) : form;
    }
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Whether Bolt would parse this body to something other than an object: JSON `null`, a number, a string or an array. */
export function parsesToNonObject(raw: Buffer, contentType: string | undefined): boolean {
  if (surelyObjectOrUnparseable(raw, contentType)) return false;
  const body = parsedLikeBolt(raw, contentType);
  return body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body));
}

/** Exposed for the tests that hold the fast path to the full parse. */
export const slackBodyInternals = { surelyObjectOrUnparseable, parsedLikeBolt };
