// Slack facts for the doctor: the token (auth.test), the scopes it was granted (`x-oauth-scopes`), and the bot's
// membership in each announce channel (conversations.info). Reads only.
import type { WebClient } from '@slack/web-api';
import type { SlackFacts } from '../domain/doctor.js';
import { METHODS_CALLED, neededScopes } from '../domain/slack-scopes.js';

function slackError(err: unknown): string {
  const data = (err as { data?: { error?: unknown } } | null)?.data;
  if (data && typeof data.error === 'string') return data.error;
  return err instanceof Error ? err.message : String(err);
}

export async function probeSlack(slack: WebClient, channels: readonly string[]): Promise<SlackFacts> {
  const needed = neededScopes(METHODS_CALLED);
  let auth: SlackFacts['auth'];
  let grantedScopes: string[] | null = null;
  try {
    const answer = await slack.auth.test();
    auth = { team: String(answer.team ?? answer.team_id ?? '?'), botUserId: String(answer.user_id ?? '?') };
    grantedScopes = answer.response_metadata?.scopes ?? null;
  } catch (err) {
    return { auth: { error: slackError(err) }, grantedScopes: null, neededScopes: needed, channels: [] };
  }
  const results = await Promise.all(
    channels.map(async (id): Promise<SlackFacts['channels'][number]> => {
      try {
        const answer = await slack.conversations.info({ channel: id });
        const channel = answer.channel ?? {};
        return { id, answer: { name: String(channel.name ?? id), isPrivate: Boolean(channel.is_private), isMember: Boolean(channel.is_member) } };
      } catch (err) {
        return { id, answer: { error: slackError(err) } };
      }
    }),
  );
  return { auth, grantedScopes, neededScopes: needed, channels: results };
}
