// A click on the Home tab. It has no channel, no message and no response_url: the checklist goes to the target's
// channel, the answer (or the refusal) is an ephemeral message to the clicker there, and the clicker's Home tab is
// published again so it shows the upgrade just planned.
import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import semver from 'semver';
import { z } from 'zod';
import type { Deps } from '../src/deps.js';
import { AppError } from '../src/errors.js';
import { HOME_NO_CHANNEL, homePlannedText } from '../src/slack/app-home.js';
import { acknowledge, fitReply, runInteraction, type EphemeralReply } from '../src/slack/interaction.js';
import type { HomeRefresh } from '../src/upgrades/home-refresh.js';
import type { UpgradeRequests } from '../src/upgrades/upgrade-requests.js';

const homeClickSchema = z.object({
  user: z.object({ id: z.string().min(1).max(32) }),
  team: z.object({ domain: z.string().max(64).optional() }).nullish(),
  actions: z.array(z.object({ action_id: z.string().max(255), value: z.string().max(200).optional() })).min(1),
});

/** `<target> <version>`, as the Home tab's buttons carry it. */
const targetVersion = /^([a-z0-9][a-z0-9_-]{0,62}) (\S{1,64})$/i;

type ClickListener = (args: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs) => Promise<void>;

export interface HomePlanUpgradeDeps {
  requests: Pick<UpgradeRequests, 'requestUpgrade' | 'threadPermalink'>;
  /** Where the target's checklist goes: its `channel`, else the first announce channel; null when there is none. */
  channelFor(target: string): Promise<string | null>;
  refresh: Pick<HomeRefresh, 'publishFor'>;
}

export function homePlanUpgradeAction(deps: Deps, home: HomePlanUpgradeDeps): ClickListener {
  return async ({ ack, body, context }) => {
    await acknowledge(deps, 'action', () => ack(), context);
    const userId = typeof body?.user?.id === 'string' ? body.user.id.slice(0, 32) : 'unknown';
    let channel: string | null = null;
    const reply = async (raw: EphemeralReply) => {
      if (!channel) {
        deps.logger.warn({ userId, text: raw.text.slice(0, 300) }, 'a Home tab click could not be answered: no channel');
        return;
      }
      const message = fitReply(raw, deps.logger);
      await deps.slack.chat.postEphemeral({ channel, user: userId, text: message.text });
    };
    await runInteraction(deps, { kind: 'action', action: 'home_plan_upgrade', userId, channelId: null, detail: { retry: context.retryNum ?? 0, from: 'home' }, reply }, async () => {
      const parsed = homeClickSchema.safeParse(body);
      const match = parsed.success ? targetVersion.exec(parsed.data.actions[0]!.value ?? '') : null;
      if (!parsed.success || !match) throw new AppError('invalid_input', 'That button does not name a target and a version; nothing changed.');
      const target = match[1]!;
      channel = await home.channelFor(target);
      if (!channel) throw new AppError('invalid_input', HOME_NO_CHANNEL);
      const version = semver.valid(match[2]!);
      if (!version) throw new AppError('invalid_input', 'That button does not name a version; nothing changed.');
      const upgrade = await home.requests.requestUpgrade({ userId, channelId: channel, teamDomain: parsed.data.team?.domain ?? null, version, targetName: target, allowPrerelease: semver.prerelease(version) !== null });
      await reply({ text: homePlannedText(upgrade, home.requests.threadPermalink(upgrade)) });
      return { upgradeId: upgrade.id, detail: { target: upgrade.target, to: upgrade.toVersion } };
    });
    await home.refresh.publishFor(userId).catch((err: unknown) => deps.logger.warn({ err, userId }, 'could not queue the Home tab after a click'));
  };
}
