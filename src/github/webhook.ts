// Verifies and parses GitHub `release` webhook deliveries (`POST /github/webhook`).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { GithubRelease } from '../domain/release-types.js';
import { AppError } from '../errors.js';
import { githubReleaseSchema } from './release-source.js';

export const RELEASE_ACTIONS = ['published', 'edited', 'prereleased', 'released', 'deleted', 'created', 'unpublished'] as const;
export type ReleaseAction = (typeof RELEASE_ACTIONS)[number];

export interface ReleaseWebhook {
  action: ReleaseAction;
  release: GithubRelease;
  /** `owner/name` */
  repository: string;
}

export type WebhookHeaders = Record<string, string | string[] | undefined>;

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** True only when `header` is the `X-Hub-Signature-256` of `rawBody` under `secret`. */
export function verifyGithubSignature(secret: string, rawBody: Buffer, header: string | undefined): boolean {
  if (!secret || typeof header !== 'string') return false;
  const match = SIGNATURE.exec(header.trim());
  if (!match) return false;
  const given = Buffer.from(match[1] as string, 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  // The regex fixes the length, but timingSafeEqual throws on a mismatch: never let it.
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}

const releaseEventSchema = z.object({
  action: z.enum(RELEASE_ACTIONS),
  release: githubReleaseSchema,
  repository: z.object({ full_name: z.string().min(1) }),
});

function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/**
 * The release event in a delivery, or null when the delivery is another event (`ping`, `push`, …) or an
 * action the bot does not know. A `release` event whose body does not match throws `invalid_input` (the caller answers 400).
 */
export function parseReleaseWebhook(headers: WebhookHeaders, body: unknown): ReleaseWebhook | null {
  if (headerValue(headers, 'x-github-event') !== 'release') return null;
  const action = (body as { action?: unknown } | null)?.action;
  if (typeof action === 'string' && !(RELEASE_ACTIONS as readonly string[]).includes(action)) return null;
  const parsed = releaseEventSchema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
    throw new AppError('invalid_input', `The GitHub release webhook body is not a release event: ${issues.join('; ')}.`, { issues });
  }
  const event = parsed.data;
  return { action: event.action, release: event.release, repository: event.repository.full_name };
}
