// `/checkstack drill [target]`: approvers only; acknowledged at once, the drill runs as a job on the drills queue.
import { randomUUID } from 'node:crypto';
import type { DrillService } from '../src/backup/drill-service.js';
import { AppError } from '../src/errors.js';
import type { Queues } from '../src/queue.js';
import type { ApproverResolver } from '../src/slack/approvers.js';
import { drillQueuedReply } from '../src/slack/drill-words.js';
import type { SubcommandHandler } from './checkstack-command.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';

export function drillCommand(deps: { drills: Pick<DrillService, 'configuredTarget'>; approvers: ApproverResolver; queues: Pick<Queues, 'drills'> }): SubcommandHandler<'drill'> {
  return async ({ command, userId, channelId, reply }) => {
    const approvers = await deps.approvers.approvers();
    if (!approvers.has(userId)) throw new AppError('not_authorized', CLICK_REFUSALS.drillNeedsApprover);
    const target = deps.drills.configuredTarget(command.target);
    await deps.queues.drills.add('drill', { target, channelId, requestedBy: userId }, { jobId: `drill-${randomUUID()}`, attempts: 1 });
    await reply({ text: drillQueuedReply(target) });
    return { detail: { target } };
  };
}
