// Why a click or a command changed nothing before it reached a service: a button whose value the bot did not make,
// or a person who may not do this. The answer is ephemeral, through AppError's message.
export const CLICK_REFUSALS = {
  noUpgradeNamed: 'That button does not name an upgrade; nothing changed.',
  noRequestNamed: 'That button does not name an upgrade request; nothing changed.',
  noVersionNamed: 'That button does not name a version; nothing changed.',
  noScheduledUpgradeNamed: 'That button does not name a scheduled upgrade; nothing changed.',
  buttonOfOtherChannel: 'That button does not belong to this channel; nothing changed.',
  invalidConfirmation: 'That confirmation button is not valid for this message; nothing changed.',
  unreadableClick: 'That click could not be understood; nothing changed. Try again from the latest message.',
  messageNotFound: 'That button is not on a message the bot can find; nothing changed.',
  unreadableCommand: 'That command could not be read; nothing changed. Type `/checkstack help` for the list.',
  stopLogWatchNotAllowed: 'Only the requester or an approver can stop the log watch.',
  backupNeedsApprover: 'Only approvers can take a backup. Ask one of them, or an operator to add you to the approvers.',
  drillNeedsApprover: 'Only approvers can run a restore drill. Ask one of them, or an operator to add you to the approvers.',
  doctorNeedsApprover: 'Only approvers can run the doctor. Ask one of them, or run `checkstack-chatops doctor` where the bot runs.',
} as const;

export function unavailableSubcommandRefusal(kind: string): string {
  return `\`/checkstack ${kind}\` is not available in this version of the bot.`;
}
