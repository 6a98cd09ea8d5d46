// Who may approve: the configured users plus the members of the configured user group, asked of Slack
// and cached briefly so a burst of clicks costs one API call.
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../logger.js';

const CACHE_MS = 60_000;

export interface ApproverResolver {
  approvers(): Promise<ReadonlySet<string>>;
}

export function createApproverResolver(options: {
  slack: WebClient;
  users: readonly string[];
  usergroup: string | null;
  logger: Logger;
  now?: () => number;
}): ApproverResolver {
  const { slack, users, usergroup, logger, now = Date.now } = options;
  let groupMembers: string[] = [];
  let fetchedAt = -Infinity;
  let inFlight: Promise<void> | null = null;

  async function refresh(): Promise<void> {
    try {
      const answer = await slack.usergroups.users.list({ usergroup: usergroup! });
      groupMembers = answer.users ?? [];
      fetchedAt = now();
    } catch (err) {
      // Keep the last known members: a Slack hiccup must not lock every approver out (nor let anyone in).
      logger.warn({ err, usergroup }, 'could not list the approver user group; using the last known members');
    }
  }

  return {
    async approvers() {
      if (usergroup && now() - fetchedAt > CACHE_MS) {
        inFlight ??= refresh().finally(() => {
          inFlight = null;
        });
        await inFlight;
      }
      return new Set([...users, ...groupMembers]);
    },
  };
}
