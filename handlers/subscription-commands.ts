// `/checkstack subscribe` and `/checkstack unsubscribe`: release announcements in the current channel.
import type { SubscriptionStore } from '../src/db/release-store.js';
import type { SubcommandHandler } from './checkstack-command.js';

export function subscribeCommand(subscriptions: SubscriptionStore): SubcommandHandler<'subscribe'> {
  return async ({ channelId, userId, reply }) => {
    const changed = await subscriptions.set(channelId, true, userId);
    await reply({
      text: changed
        ? `This channel will get an announcement for each new Checkstack release, with its breaking changes. \`/checkstack unsubscribe\` stops them.`
        : 'This channel is already subscribed to Checkstack release announcements.',
    });
    return { detail: { channelChanged: changed } };
  };
}

export function unsubscribeCommand(subscriptions: SubscriptionStore): SubcommandHandler<'unsubscribe'> {
  return async ({ channelId, userId, reply }) => {
    const changed = await subscriptions.set(channelId, false, userId);
    await reply({
      text: changed
        ? 'This channel will no longer get Checkstack release announcements. `/checkstack subscribe` brings them back.'
        : 'This channel was not subscribed to Checkstack release announcements.',
    });
    return { detail: { channelChanged: changed } };
  };
}
