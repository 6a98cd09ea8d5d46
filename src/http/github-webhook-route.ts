// POST /github/webhook: GitHub `release` events, verified with X-Hub-Signature-256, queued for the same ingest the poller uses.
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../logger.js';
import { isAppError } from '../errors.js';
import { parseReleaseWebhook, verifyGithubSignature } from '../github/webhook.js';
import type { Queues } from '../queue.js';
import { sendJson, type RouteHandler } from './server.js';

/** GitHub caps webhook payloads at 25 MB; a release event with a 125,000-character body is far below this. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface GithubWebhookDeps {
  secret: string;
  repository: string;
  queues: Pick<Queues, 'releases'>;
  logger: Logger;
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function githubWebhookRoute({ secret, repository, queues, logger }: GithubWebhookDeps): RouteHandler {
  return async (req, res) => {
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLarge) return sendJson(res, 413, { error: 'payload too large' });
      throw err;
    }
    const delivery = String(req.headers['x-github-delivery'] ?? '');
    if (!verifyGithubSignature(secret, raw, req.headers['x-hub-signature-256'] as string | undefined)) {
      logger.warn({ delivery, remote: req.socket.remoteAddress }, 'github webhook refused: bad signature');
      return sendJson(res, 401, { error: 'invalid signature' });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return sendJson(res, 400, { error: 'body is not JSON' });
    }
    let event;
    try {
      event = parseReleaseWebhook(req.headers, body);
    } catch (err) {
      if (isAppError(err)) return sendJson(res, 400, { error: err.message });
      throw err;
    }
    if (!event) return sendJson(res, 202, { ignored: String(req.headers['x-github-event'] ?? 'unknown event') });
    if (event.repository.toLowerCase() !== repository.toLowerCase()) {
      return sendJson(res, 202, { ignored: `releases of ${event.repository}` });
    }
    // GitHub redelivers with the same delivery id; the job id makes that a no-op.
    const deliveryId = delivery || `${event.action}:${event.release.id}:${Date.now()}`;
    await queues.releases.add('webhook', { action: event.action, deliveryId, release: event.release }, { jobId: `webhook-${deliveryId.replace(/:/g, '-')}` });
    logger.info({ delivery, action: event.action, tag: event.release.tag_name }, 'github release webhook queued');
    return sendJson(res, 202, { queued: event.release.tag_name });
  };
}
