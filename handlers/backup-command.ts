// `/checkstack backup [target]`: approvers only; acknowledged at once, the backup runs as a job on the backups queue.
import { randomUUID } from 'node:crypto';
import type { BackupService } from '../src/backup/backup-service.js';
import { AppError } from '../src/errors.js';
import type { Queues } from '../src/queue.js';
import type { ApproverResolver } from '../src/slack/approvers.js';
import { backupQueuedReply } from '../src/slack/backup-words.js';
import type { SubcommandHandler } from './checkstack-command.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';

export function backupCommand(deps: { backups: Pick<BackupService, 'configuredTarget'>; approvers: ApproverResolver; queues: Pick<Queues, 'backups'> }): SubcommandHandler<'backup'> {
  return async ({ command, userId, channelId, reply }) => {
    const approvers = await deps.approvers.approvers();
    if (!approvers.has(userId)) throw new AppError('not_authorized', CLICK_REFUSALS.backupNeedsApprover);
    const target = deps.backups.configuredTarget(command.target);
    await deps.queues.backups.add('backup', { target: target, channelId, requestedBy: userId }, { jobId: `backup-${randomUUID()}`, attempts: 2 });
    await reply({ text: backupQueuedReply(target) });
    return { detail: { target: target } };
  };
}
